package smh

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// fzCheckError holds a decode error to what every decoder promises: short,
// on one line, and without a secret.
func fzCheckError(t *testing.T, err error, body []byte) {
	t.Helper()
	msg := err.Error()
	if len(msg) > maxFzErr || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error of %d bytes or with a line break: %q", len(msg), msg)
	}
	fzCheckNoSecret(t, "error", msg, string(body))
}

// FuzzDecodeSpaceList feeds decodeSpaceList arbitrary listing pages.
// Invariants:
//   - it never panics, and returns either an error or a page, not both;
//   - the error is short, on one line, and holds no secret;
//   - on success the answer is a JSON object whose list is an array or
//     null; each element gives exactly one id (its spaceId, redacted, not
//     empty) or, when the id has a comma, one note naming it;
//   - marker and nextMarker are nil when absent or null, else the string
//     sent or the number as written;
//   - no id or note holds a secret or a piece of one.
func FuzzDecodeSpaceList(f *testing.F) {
	for _, seed := range []string{
		`{"list":[{"spaceId":"space1a2b","userId":"","creationTime":"2020-10-16T02:31:50.000Z"}],"marker":"mk1","nextMarker":"mk1"}`,
		`{"list":[{"spaceId":"a"},{"spaceId":"b"}],"marker":"next"}`,
		`{"list":[],"marker":null,"nextMarker":null}`,
		`{"list":null}`,
		`{"marker":"x"}`,
		`{"list":[{"spaceId":"a,b"},{"spaceId":"c"}],"nextMarker":12}`,
		`{"list":[{"spaceId":""}]}`,
		`{"list":[1,"x",null]}`,
		`{"list":{"spaceId":"a"}}`,
		`{"list":[{"spaceId":"x` + fzLibrarySecret + `"}],"marker":"` + fzAccessToken + `"}`,
		`{"list":[{"spaceId":"smhLibSecret-0123456789abcdef\u0041BCDEF"}]}`,
		`{"list":[{"spaceId":"acctkFUZZ9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQ+\/=LONG,x"}]}`,
		`{"LIST":[{"SPACEID":"folded"}],"NextMarker":true}`,
		`[]`, ``, `null`, `{"list":[{"spaceId":"a"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeSpaceList(body, fzRedactor)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v came with a page %+v", err, p)
			}
			fzCheckError(t, err, body)
			return
		}
		if p == nil {
			t.Fatal("no error and no page")
		}
		clean := fzRedactor.JSON(body)
		if upstream.JSONKind(clean) != "an object" {
			t.Fatalf("accepted %s", upstream.JSONKind(clean))
		}
		// listAnswer decides which keys count (encoding/json folds case).
		var a listAnswer
		if err := json.Unmarshal(clean, &a); err != nil {
			t.Fatalf("accepted an answer that does not decode: %v", err)
		}
		var elems []listedSpace
		if kind := upstream.JSONKind(a.List); kind != "null" {
			if err := json.Unmarshal(a.List, &elems); err != nil {
				t.Fatalf("accepted a list of %s: %v", kind, err)
			}
		}
		var ids, commas []string
		for i, e := range elems {
			if e.SpaceID == nil || *e.SpaceID == "" {
				t.Fatalf("element %d without a spaceId accepted", i)
			}
			if id := fzRedactor.Value(*e.SpaceID); strings.Contains(id, ",") {
				commas = append(commas, id)
			} else {
				ids = append(ids, id)
			}
		}
		if strings.Join(p.ids, "\x00") != strings.Join(ids, "\x00") || len(p.ids) != len(ids) {
			t.Fatalf("ids %q, want %q", p.ids, ids)
		}
		if len(p.skipped) != len(commas) {
			t.Fatalf("%d notes for %d ids with a comma: %q", len(p.skipped), len(commas), p.skipped)
		}
		for _, id := range p.ids {
			fzCheckNoSecret(t, "space id", id, string(body))
		}
		for _, n := range p.skipped {
			fzCheckNoSecret(t, "note", n, string(body))
		}
		for _, m := range []struct {
			name string
			raw  json.RawMessage
			got  *string
		}{{"marker", a.Marker, p.marker}, {"nextMarker", a.NextMarker, p.nextMarker}} {
			want, ok := fzMarker(m.raw)
			if !ok {
				t.Fatalf("%s %s accepted", m.name, m.raw)
			}
			if (want == nil) != (m.got == nil) || (want != nil && *want != *m.got) {
				t.Fatalf("%s %s gave %v, want %v", m.name, m.raw, m.got, want)
			}
		}
	})
}

// fzMarker is the oracle for a marker; ok is false for one to refuse.
func fzMarker(raw json.RawMessage) (marker *string, ok bool) {
	var v any
	if len(raw) == 0 {
		return nil, true
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return nil, false
	}
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return &v, true
	case json.Number:
		s := v.String()
		return &s, true
	}
	return nil, false
}

// FuzzDecodeLibraryUsage feeds decodeLibraryUsage arbitrary totals.
// Invariants: it never panics; an error comes alone, short, on one line
// and without a secret; on success the answer is a JSON object, each
// amount is what FuzzDecodeUsage's oracle says of its field, and each
// field sent but unusable has one note, without a secret.
func FuzzDecodeLibraryUsage(f *testing.F) {
	for _, seed := range []string{
		`{"totalFileSize":"3333"}`,
		`{"capacity":"1099511627776","availableSpace":null,"totalAllocatedSpaceQuota":"10","totalFileSize":"3333"}`,
		`{"totalFileSize":null}`,
		`{"totalFileSize":"-1","capacity":12,"availableSpace":"1e3"}`,
		`{"totalFileSize":"` + fzLibrarySecret + `"}`,
		`[{"totalFileSize":"1"}]`, ``, `{"totalFileSize":"18446744073709551616"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeLibraryUsage(body, fzRedactor)
		if err != nil {
			if u != nil {
				t.Fatalf("error %v came with a result %+v", err, u)
			}
			fzCheckError(t, err, body)
			return
		}
		var a libraryAnswer
		if err := json.Unmarshal(fzRedactor.JSON(body), &a); err != nil || upstream.JSONKind(fzRedactor.JSON(body)) != "an object" {
			t.Fatalf("accepted an answer that is not an object: %v", err)
		}
		notes := 0
		for _, fld := range []struct {
			raw json.RawMessage
			got upstream.Amount
		}{{a.TotalFileSize, u.Used}, {a.Capacity, u.Capacity}, {a.AvailableSpace, u.Available}, {a.TotalAllocatedSpaceQuota, u.Allocated}} {
			want, present := fzDecimalAmount(fld.raw)
			if fld.got != want {
				t.Fatalf("raw %s gave %+v, want %+v", fld.raw, fld.got, want)
			}
			if present && !want.Valid {
				notes++
			}
		}
		if len(u.Skipped) != notes {
			t.Fatalf("%d notes for %d unusable values: %q", len(u.Skipped), notes, u.Skipped)
		}
		for _, n := range u.Skipped {
			fzCheckNoSecret(t, "note", n, string(body))
		}
	})
}
