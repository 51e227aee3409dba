package smh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Native fuzz targets for the two SMH answers this package decodes. The
// committed corpora under testdata/fuzz/<FuzzName>/ run as ordinary tests;
// .ci/fuzz.sh runs each target with -fuzz for a short time.

// Secrets used by the fuzz targets. The corpora echo them in every field of
// the answers, plainly and JSON-escaped. The token is longer than the 40
// bytes at which upstream cuts a quoted value, so a token cut before it is
// scrubbed would show as a piece of it.
const (
	fzLibrarySecret = "smhLibSecret-0123456789abcdefABCDEF"
	fzAccessToken   = "acctkFUZZ9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQ+/=LONG"
)

var (
	fzSecrets  = []string{fzLibrarySecret, fzAccessToken}
	fzRedactor = upstream.NewRedactor(fzSecrets...)
)

// maxFzErr bounds a decode error: decodeUsage words the shape only.
const maxFzErr = 300

// FuzzDecodeUsage feeds decodeUsage arbitrary usage answers. Invariants:
//   - it never panics, and returns either an error or a result, not both;
//   - the error is short, on one line, and holds no secret or piece of one;
//   - on success there is one space per array element, each with the
//     non-empty spaceId of its element, with any secret in it, in any
//     form, redacted (since a space id becomes a metric label): the oracle
//     decodes the answer as redacted by Redactor.JSON;
//   - an amount is valid exactly when its field is a JSON string of ASCII
//     digits below 2^64, with that value (checked with math/big, not
//     strconv); null or absent is not valid and silent; anything else is
//     not valid and gives exactly one note naming the space and field;
//   - no note holds a secret or a piece of one.
func FuzzDecodeUsage(f *testing.F) {
	f.Add([]byte(`[{"spaceId":"space04fzo07fdq61b","capacity":"10000","availableSpace":"5000","size":"1000"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		// A fast decode gives what the step by step one gives.
		redacted := fzRedactor.JSON(body)
		if fast, ok := decodeSpaceAnswersFast(redacted); ok {
			steps, err := decodeSpaceAnswersSteps(redacted)
			if err != nil {
				t.Fatalf("the fast path took an answer that the step by step path refuses: %v", err)
			}
			if !reflect.DeepEqual(fast, steps) {
				t.Fatalf("fast and step by step decoding differ:\n%s\n%s", spaceAnswersText(fast), spaceAnswersText(steps))
			}
		}
		u, err := decodeUsage(body, fzRedactor)
		if err != nil {
			if u != nil {
				t.Fatalf("error %v came with a result %+v", err, u)
			}
			msg := err.Error()
			if len(msg) > maxFzErr || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error of %d bytes or with a line break: %q", len(msg), msg)
			}
			fzCheckNoSecret(t, "error", msg, string(body))
			return
		}
		if u == nil {
			t.Fatal("no error and no result")
		}

		var elems []json.RawMessage
		if err := json.Unmarshal(fzRedactor.JSON(body), &elems); err != nil {
			t.Fatalf("accepted a body that is not a JSON array: %v", err)
		}
		if len(u.Spaces) != len(elems) {
			t.Fatalf("%d spaces from %d elements", len(u.Spaces), len(elems))
		}
		wantNotes := 0
		for i, s := range u.Spaces {
			if s.SpaceID == "" {
				t.Fatalf("space %d has an empty id", i)
			}
			// spaceAnswer decides which keys count (encoding/json folds
			// case); the amounts are judged here independently.
			var a spaceAnswer
			if err := json.Unmarshal(elems[i], &a); err != nil || a.SpaceID == nil || fzRedactor.Value(*a.SpaceID) != s.SpaceID {
				t.Fatalf("space %d: id %q does not come from its element %s", i, s.SpaceID, elems[i])
			}
			fzCheckNoSecret(t, "space id", s.SpaceID, string(body))
			for _, fld := range []struct {
				name string
				raw  json.RawMessage
				got  upstream.Amount
			}{
				{"capacity", a.Capacity, s.Capacity},
				{"availableSpace", a.AvailableSpace, s.Available},
				{"size", a.Size, s.Used},
			} {
				want, present := fzDecimalAmount(fld.raw)
				if fld.got != want {
					t.Fatalf("space %q %s: raw %s gave %+v, want %+v", s.SpaceID, fld.name, fld.raw, fld.got, want)
				}
				if present && !want.Valid {
					wantNotes++
					if !fzHasNote(u.Skipped, s.SpaceID, fld.name) {
						t.Fatalf("space %q %s: unusable value %s without a note in %q", s.SpaceID, fld.name, fld.raw, u.Skipped)
					}
				}
			}
		}
		if len(u.Skipped) != wantNotes {
			t.Fatalf("%d notes for %d unusable values: %q", len(u.Skipped), wantNotes, u.Skipped)
		}
		for _, note := range u.Skipped {
			fzCheckNoSecret(t, "note", note, string(body))
		}
	})
}

// fzDecimalAmount is the oracle for an SMH amount: present tells whether
// the field carried something other than null.
func fzDecimalAmount(raw json.RawMessage) (a upstream.Amount, present bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return upstream.Amount{}, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" {
		return upstream.Amount{}, true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return upstream.Amount{}, true
		}
	}
	n, _ := new(big.Int).SetString(s, 10)
	if !n.IsUint64() {
		return upstream.Amount{}, true
	}
	return upstream.Some(n.Uint64()), true
}

// fzHasNote tells whether a note is about field of the space. The id is
// quoted in the note, and scrubbed when it holds a secret.
func fzHasNote(notes []string, spaceID, field string) bool {
	for _, n := range notes {
		if strings.HasPrefix(n, "space ") && strings.Contains(n, " "+field+": ") {
			return true
		}
	}
	return false
}

// fzCheckNoSecret is testutil.CheckNoSecret with this package's secrets.
func fzCheckNoSecret(t *testing.T, what, out, input string) {
	t.Helper()
	testutil.CheckNoSecret(t, what, out, input, fzSecrets)
}

type fzRoundTripper struct {
	status int
	body   []byte
}

func (rt fzRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: rt.status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(rt.body)),
		Request:    req,
	}, nil
}

// fzStatuses are the statuses FuzzTokenAnswer picks from; mostly 200, the
// answer that is decoded.
var fzStatuses = []int{200, 200, 200, 200, 201, 400, 403, 404, 500, 503}

// FuzzTokenAnswer feeds fetchToken arbitrary token answers through a fake
// transport (no network). Invariants:
//   - it never panics;
//   - a 2xx answer gives a token or a *upstream.DecodeError, another status
//     an *upstream.APIError;
//   - a token is the answer's non-empty accessToken, and is replaced after
//     more than half, and no later than all, of min(expiresIn, 10 years),
//     where expiresIn is any JSON number that is a positive integer, and
//     SMH's default period (24h: the fuzzed credential asks for none) when
//     absent or null, which is noted;
//   - no error holds the library secret, nor the token the answer carried
//     (when it is distinctive enough to tell from the error's own words),
//     in any form.
func FuzzTokenAnswer(f *testing.F) {
	f.Add(uint8(0), []byte(`{"accessToken":"acctk0123456789abcdef","expiresIn":86400}`))
	issued := time.Date(2026, 1, 7, 14, 45, 21, 0, time.UTC)
	base, _ := url.Parse("https://smh.example.com")
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		status := fzStatuses[int(pick)%len(fzStatuses)]
		hc := upstream.New(upstream.Options{Transport: fzRoundTripper{status: status, body: body}})
		c := NewClient(hc, base, Credentials{LibraryID: "lib", LibrarySecret: fzLibrarySecret}, nil)
		c.now = func() time.Time { return issued }

		tok, err := c.fetchToken(context.Background())
		if err != nil {
			if tok != nil {
				t.Fatalf("error %v came with a token", err)
			}
			var decErr *upstream.DecodeError
			var apiErr *upstream.APIError
			switch {
			case status/100 == 2 && !errors.As(err, &decErr):
				t.Fatalf("status %d: want a DecodeError, got %T %v", status, err, err)
			case status/100 != 2 && !errors.As(err, &apiErr):
				t.Fatalf("status %d: want an APIError, got %T %v", status, err, err)
			}
			msg := err.Error()
			fzCheckNoSecret(t, "error", msg, string(body))
			if i := strings.IndexFunc(msg, unicode.IsControl); i >= 0 {
				t.Fatalf("error has a control character at %d: %q", i, msg)
			}
			var answer tokenAnswer
			_ = json.Unmarshal(body, &answer)
			if fzDistinctive(answer.AccessToken) && status/100 == 2 {
				testutil.CheckNoSecret(t, "error", msg, string(body), []string{answer.AccessToken})
			}
			return
		}
		if status/100 != 2 {
			t.Fatalf("status %d gave a token", status)
		}
		var answer tokenAnswer
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("token from an answer that does not decode: %v", err)
		}
		if tok.value == "" || tok.value != answer.AccessToken {
			t.Fatalf("token %q, answer's accessToken %q", tok.value, answer.AccessToken)
		}
		secs, ok := uint64(24*3600), true
		if absent := len(answer.ExpiresIn) == 0 || string(answer.ExpiresIn) == "null"; absent {
			if len(tok.notes) != 1 {
				t.Fatalf("no expiresIn, notes %q", tok.notes)
			}
		} else {
			secs, ok = testutil.JSONInteger(string(answer.ExpiresIn))
		}
		if !ok || secs == 0 {
			t.Fatalf("token accepted with expiresIn %s", answer.ExpiresIn)
		}
		lifetime := maxTokenLifetime
		if secs < uint64(maxTokenLifetime/time.Second) {
			lifetime = time.Duration(secs) * time.Second
		}
		reuse := tok.refreshAt.Sub(issued)
		if reuse < lifetime/2 || reuse > lifetime || reuse <= 0 {
			t.Fatalf("expiresIn %d: token reused for %v of its %v", answer.ExpiresIn, reuse, lifetime)
		}
	})
}

// fzDistinctive tells whether s cannot occur in an error's own words: long,
// with a letter and a digit, and no space.
func fzDistinctive(s string) bool {
	return len(s) >= 12 && !strings.Contains(s, " ") &&
		strings.ContainsFunc(s, unicode.IsLetter) && strings.ContainsFunc(s, unicode.IsDigit)
}

// spaceAnswersText shows decoded space answers for a failure message.
func spaceAnswersText(answers []*spaceAnswer) string {
	var b strings.Builder
	for _, a := range answers {
		id := "<nil>"
		if a.SpaceID != nil {
			id = strconv.Quote(*a.SpaceID)
		}
		fmt.Fprintf(&b, "{%s %q %q %q} ", id, a.Capacity, a.AvailableSpace, a.Size)
	}
	return b.String()
}
