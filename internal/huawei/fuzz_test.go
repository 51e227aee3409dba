package huawei

import (
	"bufio"
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
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Native fuzz targets for the quota answers and the SDK-HMAC-SHA256
// signer. The committed corpora under testdata/fuzz/<FuzzName>/ run as
// ordinary tests; .ci/fuzz.sh runs each target with -fuzz for a short time.

// Credentials of the fuzz targets. The corpora echo the secret key and the
// token in every field of the answers, plainly and JSON-escaped. The token
// is longer than the 64 bytes at which a resource type is cut for a note
// and the 40 at which upstream cuts a value, so a secret cut before it is
// scrubbed would show as a piece of it.
var fzCreds = Credentials{
	AccessKey:     "FUZZAKEXAMPLE0123456",
	SecretKey:     "fzSK0123456789abcdefghijABCDEFGHIJ0123ab",
	SecurityToken: "fzTOKEN/zyx+wvu=9876543210ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba/tail==",
}

// maxFzNote bounds one note: fixed words plus a resource type cut to 64
// bytes and quoted (at most 10 bytes per byte for \U escapes) and a value
// cut to 40.
const maxFzNote = 64 + 10*64 + 40

type fzRoundTripper struct{ body []byte }

func (rt fzRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(rt.body)),
		Request:    req,
	}, nil
}

// FuzzQuotas feeds arbitrary 200 answers to WorkspaceQuotas (cts false) or
// CTSQuotas (cts true) through a fake transport, so the production path,
// scrubbing included, is what is fuzzed. Invariants:
//   - it never panics, and returns either an error or a result;
//   - an error is a *upstream.DecodeError, one short line, without a
//     secret or a piece of one;
//   - on success every resource has a non-empty type taken byte for byte
//     from its entry as scrubBody leaves it (every string with a secret in
//     any form redacted), in order; types, units and the site id hold no
//     secret in any form; an entry is dropped exactly when its type
//     is absent, null, empty or not a string, with one note;
//   - quota and used are valid exactly when they are bare JSON integers
//     below 2^64 (checked with math/big), with that value; null or absent
//     is silent; anything else gives one note;
//   - notes are bounded, valid UTF-8, free of control characters, and hold
//     no secret or piece of one.
func FuzzQuotas(f *testing.F) {
	f.Add(true, []byte(`{"resources":[{"quota":1,"used":1,"type":"system_tracker"},{"quota":100,"used":2,"type":"smn_notification"}]}`))
	base, _ := url.Parse("https://quotas.example.com")
	f.Fuzz(func(t *testing.T, cts bool, body []byte) {
		c := NewClient(upstream.New(upstream.Options{Transport: fzRoundTripper{body: body}}), "svc", base, "project", fzCreds, nil)
		var (
			q      *Quotas
			siteID string
			err    error
		)
		if cts {
			q, err = c.CTSQuotas(context.Background())
		} else {
			var w *WorkspaceQuotas
			if w, err = c.WorkspaceQuotas(context.Background(), "", ""); w != nil {
				q, siteID = &w.Quotas, w.SiteID
			}
		}
		input := string(body)
		if err != nil {
			if q != nil {
				t.Fatalf("error %v came with a result", err)
			}
			var decErr *upstream.DecodeError
			if !errors.As(err, &decErr) {
				t.Fatalf("want a DecodeError, got %T %v", err, err)
			}
			msg := err.Error()
			if len(msg) > 300 || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error of %d bytes or with a line break: %q", len(msg), msg)
			}
			fzCheckNoSecret(t, "error", msg, input)
			return
		}

		for _, note := range q.Skipped {
			if len(note) > maxFzNote {
				t.Errorf("note of %d bytes: %q", len(note), note)
			}
			if !utf8.ValidString(note) {
				t.Errorf("note is not valid UTF-8: %q", note)
			}
			if i := strings.IndexFunc(note, unicode.IsControl); i >= 0 {
				t.Errorf("note has a control character at %d: %q", i, note)
			}
			fzCheckNoSecret(t, "note", note, input)
		}

		// A fast decode gives what the step by step one gives.
		scrubbed := c.scrubBody(body)
		if fastFields, fastQuotas, ok := decodeQuotaAnswerFast(scrubbed); ok {
			stepFields, stepQuotas, err := decodeQuotaAnswerSteps(scrubbed)
			if err != nil {
				t.Fatalf("the fast path took an answer that the step by step path refuses: %v", err)
			}
			if !reflect.DeepEqual(fastQuotas, stepQuotas) || !bytes.Equal(fastFields["site_id"], stepFields["site_id"]) {
				t.Fatalf("fast and step by step decoding differ:\n%#v %q\n%#v %q", fastQuotas, fastFields["site_id"], stepQuotas, stepFields["site_id"])
			}
		}

		// The oracle decodes the answer as the client received it after
		// scrubbing (scrubBody is the one step it shares).
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(c.scrubBody(body), &fields); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		var elems []map[string]json.RawMessage
		if err := json.Unmarshal(fields["resources"], &elems); err != nil {
			t.Fatalf("accepted resources that are not a list of objects: %v", err)
		}
		wantNotes, kept := 0, 0
		for i, e := range elems {
			typ, ok := fzString(e["type"])
			if !ok || typ == "" {
				wantNotes++
				continue
			}
			if kept >= len(q.Resources) {
				t.Fatalf("entry %d (type %q) is missing from the %d resources", i, typ, len(q.Resources))
			}
			r := q.Resources[kept]
			kept++
			if r.Type != typ {
				t.Fatalf("entry %d: type %q, want %q", i, r.Type, typ)
			}
			fzCheckNoSecret(t, "type", r.Type, input)
			fzCheckNoSecret(t, "unit", r.Unit, input)
			if unit, ok := fzString(e["unit"]); !ok {
				wantNotes++
			} else if r.Unit != unit {
				t.Fatalf("entry %d: unit %q, want %q", i, r.Unit, unit)
			}
			for _, fld := range []struct {
				name string
				got  upstream.Amount
			}{{"quota", r.Quota}, {"used", r.Used}} {
				want, present := fzIntegerAmount(e[fld.name])
				if fld.got != want {
					t.Fatalf("entry %d %s: raw %s gave %+v, want %+v", i, fld.name, e[fld.name], fld.got, want)
				}
				if present && !want.Valid {
					wantNotes++
				}
			}
		}
		if kept != len(q.Resources) {
			t.Fatalf("%d resources from %d usable entries", len(q.Resources), kept)
		}
		if !cts {
			if s, ok := fzSiteID(fields["site_id"]); !ok {
				wantNotes++
			} else if siteID != s {
				t.Fatalf("site_id %q, want %q", siteID, s)
			}
			fzCheckNoSecret(t, "site_id", siteID, input)
		}
		if len(q.Skipped) != wantNotes {
			t.Fatalf("%d notes, want %d: %q", len(q.Skipped), wantNotes, q.Skipped)
		}
	})
}

// fzString is the oracle for an optional string field: absent or null is
// "", a JSON string is its value, anything else is not ok.
func fzString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	if raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// fzIntegerAmount is the oracle for a Huawei amount: present tells whether
// the field carried something other than null. Valid is any JSON number
// that is an exact integer in [0, 2^64) (-0, 1e3 and 1.0 included), with
// the value math/big gives it; an exponent beyond the text's length
// decides alone (no number that long has the zeros to cancel it, or fits
// in 64 bits with it).
func fzIntegerAmount(raw json.RawMessage) (a upstream.Amount, present bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return upstream.Amount{}, false
	}
	text := string(raw)
	if !fzNumber.MatchString(text) {
		return upstream.Amount{}, true
	}
	mantissa, exp, _ := strings.Cut(strings.ToLower(text), "e")
	if strings.Trim(mantissa, "-0.") == "" {
		return upstream.Some(0), true
	}
	if e, err := strconv.Atoi(exp); exp != "" && (err != nil || e > len(text)+25 || e < -len(text)-25) {
		return upstream.Amount{}, true
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || !r.IsInt() || r.Sign() < 0 || !r.Num().IsUint64() {
		return upstream.Amount{}, true
	}
	return upstream.Some(r.Num().Uint64()), true
}

var fzNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// fzCheckNoSecret is testutil.CheckNoSecret with this package's secrets.
func fzCheckNoSecret(t *testing.T, what, out, input string) {
	t.Helper()
	testutil.CheckNoSecret(t, what, out, input, []string{fzCreds.SecretKey, fzCreds.SecurityToken})
}

// fzUnsignable are headers that net/http writes itself or that Sign owns,
// so a caller cannot choose their value on the wire.
var fzUnsignable = []string{
	"Authorization", "Connection", "Content-Length", "Host", "Keep-Alive",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"User-Agent", DateHeader, SecurityTokenHeader,
}

// fzHeaderName tells whether name is a valid field name (RFC 9110 token)
// that the caller controls.
func fzHeaderName(name string) bool {
	if name == "" || slices.Contains(fzUnsignable, http.CanonicalHeaderKey(name)) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// fzHeaderValue tells whether v may be sent as a field value: no control
// character but tab (obs-text, bytes from 0x80, is allowed).
func fzHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// fzQueryChars are the bytes a raw query may hold on the request line
// (RFC 3986 query: pchar, "/" and "?"; "%" even when not an escape, which
// both sides then read alike).
func fzRawQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0) {
			return false
		}
	}
	return true
}

// FuzzSignVerify signs a request with an arbitrary path, raw query, query
// pair, header and body, sends it through net/http's wire format
// (Request.Write, then http.ReadRequest, as a server reads it) and verifies
// it. Invariants:
//   - Sign and Verify never panic, and Sign succeeds;
//   - the request as received verifies, with permanent and temporary
//     credentials and with or without a signed Host;
//   - signing is deterministic;
//   - the same request with one more byte of body does not verify.
func FuzzSignVerify(f *testing.F) {
	f.Add("v2/p/quotas/detail", "site_id=a+b", "az_code", "cn/x", "X-Project-Id", "project", []byte(nil), false, false)
	now := time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, path, rawQuery, key, value, hName, hValue string, body []byte, temporary, signHost bool) {
		if !fzRawQuery(rawQuery) {
			return
		}
		creds := fzCreds
		if !temporary {
			creds.SecurityToken = ""
		}
		lookup := func(ak string) (Credentials, bool) { return creds, ak == creds.AccessKey }
		u := &url.URL{Scheme: "https", Host: "svc.example.com", Path: "/" + path, RawQuery: rawQuery}
		if key != "" || value != "" {
			pair := url.Values{key: {value}}.Encode()
			if u.RawQuery != "" {
				pair = "&" + pair
			}
			u.RawQuery += pair
		}
		req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return // not a URL net/http would send
		}
		// Sign exactly the URL that will be written, as the client does.
		req.URL = u
		req.Header.Set(ProjectIDHeader, "project")
		req.Header.Set("Content-Type", "application/json")
		if fzHeaderName(hName) && fzHeaderValue(hValue) {
			req.Header.Add(hName, hValue)
		}
		if signHost {
			req.Header.Set("Host", u.Host)
		}
		if err := Sign(req.Method, req.URL, req.Header, body, creds, now); err != nil {
			t.Fatalf("Sign: %v", err)
		}
		again := req.Header.Clone()
		again.Del("Authorization")
		if err := Sign(req.Method, req.URL, again, body, creds, now); err != nil || again.Get("Authorization") != req.Header.Get("Authorization") {
			t.Fatalf("signing twice differs: %q then %q (%v)", req.Header.Get("Authorization"), again.Get("Authorization"), err)
		}

		var wire bytes.Buffer
		if err := req.Write(&wire); err != nil {
			return // net/http refuses to send it (a control byte in the URL)
		}
		received, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire.Bytes())))
		if err != nil {
			t.Fatalf("the request net/http wrote does not parse: %v\n%s", err, wire.Bytes())
		}
		got, err := io.ReadAll(received.Body)
		if err != nil {
			t.Fatalf("reading the body back: %v", err)
		}
		if err := Verify(received, got, lookup, now, 0); err != nil {
			t.Fatalf("a signed request does not verify: %v\nsent:\n%s", err, wire.Bytes())
		}
		if err := Verify(received, append(got, 'x'), lookup, now, 0); err == nil {
			t.Fatalf("a request with a changed body verifies:\n%s", wire.Bytes())
		}
	})
}

// FuzzCanonical checks canonicalURI and canonicalQueryString directly.
// Invariants:
//   - neither panics;
//   - both use only RFC 3986 unreserved bytes and %XX with uppercase hex
//     (plus "/" in the URI and "&", "=" as separators in the query);
//   - canonicalURI ends with "/", keeps a leading "/", is idempotent, and
//     does not depend on how the path was escaped: for any unescaped path
//     it equals the segment-wise escape of that path (an independent
//     encoder), whatever escaping url.URL chose on the wire;
//   - canonicalQueryString has one pair per value, sorted by key and then
//     value by raw bytes, decodes back to exactly the input pairs, and is
//     the same after an Encode/ParseQuery round trip (the wire).
func FuzzCanonical(f *testing.F) {
	f.Add("/v2/p%2Fq/quotas/detail", "site_id", "a b", "az_code", "cn/x")
	f.Fuzz(func(t *testing.T, path, k1, v1, k2, v2 string) {
		cu := canonicalURI(path)
		fzCheckCanonicalChars(t, "canonicalURI("+fmt.Sprintf("%q", path)+")", cu, "/")
		if !strings.HasSuffix(cu, "/") {
			t.Fatalf("canonicalURI(%q) = %q, no trailing slash", path, cu)
		}
		if path != "" && strings.HasPrefix(path, "/") != strings.HasPrefix(cu, "/") {
			t.Fatalf("canonicalURI(%q) = %q changed the leading slash", path, cu)
		}
		if again := canonicalURI(cu); again != cu {
			t.Fatalf("canonicalURI not idempotent: %q -> %q -> %q", path, cu, again)
		}
		// path read as an unescaped path, escaped by net/url for the wire.
		wire := (&url.URL{Path: path}).EscapedPath()
		if got, want := canonicalURI(wire), fzCanonicalURI(path); got != want {
			t.Fatalf("path %q sent as %q: canonicalURI = %q, want %q", path, wire, got, want)
		}

		query := url.Values{}
		query.Add(k1, v1)
		query.Add(k2, v2)
		query.Add(k1, v2)
		cq := canonicalQueryString(query)
		fzCheckCanonicalChars(t, "canonicalQueryString", cq, "&=")
		parts := strings.Split(cq, "&")
		if len(parts) != 3 {
			t.Fatalf("canonicalQueryString(%v) = %q: %d pairs, want 3", query, cq, len(parts))
		}
		var got [][2]string
		for _, p := range parts {
			k, v, ok := strings.Cut(p, "=")
			if !ok || strings.Contains(v, "=") {
				t.Fatalf("canonicalQueryString(%v) = %q: bad pair %q", query, cq, p)
			}
			dk, err1 := url.PathUnescape(k)
			dv, err2 := url.PathUnescape(v)
			if err1 != nil || err2 != nil {
				t.Fatalf("canonicalQueryString(%v) = %q: pair %q does not unescape", query, cq, p)
			}
			got = append(got, [2]string{dk, dv})
		}
		if !sort.SliceIsSorted(got, func(i, j int) bool {
			return got[i][0] < got[j][0] || got[i][0] == got[j][0] && got[i][1] < got[j][1]
		}) {
			t.Fatalf("canonicalQueryString(%v) = %q is not sorted", query, cq)
		}
		want := [][2]string{{k1, v1}, {k2, v2}, {k1, v2}}
		sort.Slice(want, func(i, j int) bool {
			return want[i][0] < want[j][0] || want[i][0] == want[j][0] && want[i][1] < want[j][1]
		})
		if !slices.Equal(got, want) {
			t.Fatalf("canonicalQueryString(%v) = %q decodes to %q, want %q", query, cq, got, want)
		}
		onWire, err := url.ParseQuery(query.Encode())
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", query.Encode(), err)
		}
		if w := canonicalQueryString(onWire); w != cq {
			t.Fatalf("canonical query changes on the wire: %q, then %q", cq, w)
		}
	})
}

// fzCheckCanonicalChars fails unless s has only unreserved bytes, %XX with
// uppercase hex digits, and the bytes in extra.
func fzCheckCanonicalChars(t *testing.T, what, s, extra string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case fzUnreserved(c) || strings.IndexByte(extra, c) >= 0:
		case c == '%' && i+2 < len(s) && fzUpperHex(s[i+1]) && fzUpperHex(s[i+2]):
			i += 2
		default:
			t.Fatalf("%s = %q: byte %q at %d is neither unreserved nor %%XX", what, s, c, i)
		}
	}
}

func fzUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

func fzUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// fzCanonicalURI is an independent reference for the canonical form of an
// unescaped path: every segment percent-encoded except unreserved bytes,
// and a trailing slash.
func fzCanonicalURI(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '/' || fzUnreserved(c):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s
}

// fzSiteID is the oracle for a Workspace site id: an optional string as
// fzString, or a JSON number that fzIntegerAmount takes, in decimal.
func fzSiteID(raw json.RawMessage) (string, bool) {
	if s, ok := fzString(raw); ok {
		return s, true
	}
	if a, present := fzIntegerAmount(raw); present && a.Valid {
		return strconv.FormatUint(a.Value, 10), true
	}
	return "", false
}

// FuzzDiscovery feeds arbitrary 200 answers to the project lookup (sites
// false) and the Workspace site listing (sites true) through a fake
// transport. Invariants:
//   - neither panics, and each returns either an error or a result;
//   - the listing's error is a *upstream.DecodeError; every error is one
//     line without a secret or a piece of one;
//   - a found project id is not empty and holds no secret; it is the id of
//     the one entry named as asked (a string name equal to it);
//   - listed site ids are not empty, unique, hold no secret, and notes are
//     valid UTF-8 without control characters or a secret.
func FuzzDiscovery(f *testing.F) {
	f.Add(false, []byte(`{"projects":[{"id":"p1","name":"cn-north-4","enabled":true},{"id":"p2","name":"cn-north-4_sub"}]}`))
	f.Add(false, []byte(`{"projects":[{"id":"p1","name":"cn-north-4","enabled":false}]}`))
	f.Add(true, []byte(`{"site_infos":[{"site_id":"a"},{"site_id":147258369},{"site_id":1.5}],"total_count":3}`))
	base, _ := url.Parse("https://iam.example.com")
	f.Fuzz(func(t *testing.T, sites bool, body []byte) {
		c := NewClient(upstream.New(upstream.Options{Transport: fzRoundTripper{body: body}}), "workspace", base, "project", fzCreds, nil)
		input := string(body)
		checkErr := func(err error) {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error with a line break: %q", msg)
			}
			fzCheckNoSecret(t, "error", msg, input)
		}
		if !sites {
			id, err := c.IAM(base).FindProject(context.Background(), "cn-north-4")
			if err != nil {
				checkErr(err)
				return
			}
			fzCheckNoSecret(t, "project id", id, input)
			var answer struct {
				Projects []map[string]json.RawMessage `json:"projects"`
			}
			if json.Unmarshal(c.scrubBody(body), &answer) != nil {
				t.Fatalf("found %q in an answer the oracle cannot read", id)
			}
			named := 0
			for _, p := range answer.Projects {
				if name, ok := fzString(p["name"]); ok && name == "cn-north-4" && p["name"] != nil {
					named++
					if got, _ := fzString(p["id"]); got != id {
						t.Fatalf("found %q, but the entry named cn-north-4 has id %s", id, p["id"])
					}
				}
			}
			if id == "" || named != 1 {
				t.Fatalf("found %q among %d entries named cn-north-4", id, named)
			}
			return
		}
		list, err := c.WorkspaceSiteList(context.Background())
		if err != nil {
			var decErr *upstream.DecodeError
			if !errors.As(err, &decErr) || list != nil {
				t.Fatalf("want a DecodeError and no result, got %T %v", err, err)
			}
			checkErr(err)
			return
		}
		seen := map[string]bool{}
		for _, id := range list.IDs {
			if id == "" || seen[id] {
				t.Fatalf("empty or repeated site id %q in %q", id, list.IDs)
			}
			seen[id] = true
			fzCheckNoSecret(t, "site id", id, input)
		}
		for _, note := range list.Skipped {
			if !utf8.ValidString(note) || strings.IndexFunc(note, unicode.IsControl) >= 0 {
				t.Errorf("note is not clean text: %q", note)
			}
			fzCheckNoSecret(t, "note", note, input)
		}
	})
}
