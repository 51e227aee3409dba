package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// Native fuzz targets for the amount parsers and the error-body decoding.
// The committed corpora under testdata/fuzz/<FuzzName>/ run as ordinary
// tests; .ci/fuzz.sh runs each target with -fuzz for a short time.

// maxAmountErr bounds an amount error: a fixed wording plus a value cut to
// 40 bytes by truncate, which may grow to 3 bytes a byte when invalid UTF-8
// becomes U+FFFD, or to 6 when %q escapes a 2-byte rune.
const maxAmountErr = 200

// FuzzParseDecimalString checks ParseDecimalString against an independent
// oracle (encoding/json plus math/big):
//   - empty or null is a not-valid Amount and no error;
//   - a valid Amount comes only from a JSON string of ASCII digits whose
//     value fits in 64 bits, and re-formats to those digits without
//     leading zeros (the round trip is exact beyond 2^53);
//   - everything else is an error, never a valid Amount, and the error is
//     short and names the right reason.
func FuzzParseDecimalString(f *testing.F) {
	f.Add([]byte(`"10000"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !decoderShaped(raw) {
			return
		}
		got, err := ParseDecimalString(json.RawMessage(raw))
		if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
			if err != nil || got.Valid || got.Value != 0 {
				t.Fatalf("%q: got %+v, %v; want a not-valid Amount and no error", raw, got, err)
			}
			return
		}
		if err != nil {
			if got != (Amount{}) {
				t.Fatalf("%q: error %v came with the Amount %+v", raw, err, got)
			}
			checkAmountError(t, raw, err)
			var s string
			if json.Unmarshal(raw, &s) == nil {
				if v, ok := decimalOracle(s); ok {
					t.Fatalf("%q: rejected the decimal string %q (= %d): %v", raw, s, v, err)
				}
			}
			return
		}
		if !got.Valid {
			t.Fatalf("%q: no error but a not-valid Amount", raw)
		}
		var s string
		if uerr := json.Unmarshal(raw, &s); uerr != nil {
			t.Fatalf("%q: accepted as %d, but it is not a JSON string: %v", raw, got.Value, uerr)
		}
		want, ok := decimalOracle(s)
		if !ok || want != got.Value {
			t.Fatalf("%q: got %d; oracle says %d (ok=%v)", raw, got.Value, want, ok)
		}
		if canon := strconv.FormatUint(got.Value, 10); canon != canonicalDigits(s) {
			t.Fatalf("%q: %d re-formats to %q, want the input's digits %q", raw, got.Value, canon, canonicalDigits(s))
		}
	})
}

// FuzzParseInteger checks ParseInteger the same way: a valid Amount comes
// only from a bare JSON number that is an exact non-negative integer
// within 64 bits, in any notation (-0, 1e3, 1.0), with the value that
// math/big gives it; a plain integer formats back to exactly its text.
func FuzzParseInteger(f *testing.F) {
	f.Add([]byte(`2147483647`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !decoderShaped(raw) {
			return
		}
		got, err := ParseInteger(json.RawMessage(raw))
		if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
			if err != nil || got.Valid || got.Value != 0 {
				t.Fatalf("%q: got %+v, %v; want a not-valid Amount and no error", raw, got, err)
			}
			return
		}
		text := string(raw)
		want, ok := testutil.JSONInteger(text)
		if err != nil {
			if got != (Amount{}) {
				t.Fatalf("%q: error %v came with the Amount %+v", raw, err, got)
			}
			checkAmountError(t, raw, err)
			if ok {
				t.Fatalf("%q: rejected the integer %d: %v", raw, want, err)
			}
			if json.Valid(raw) && strings.HasPrefix(text, "-") && isDigits(text[1:]) && strings.Trim(text[1:], "0") != "" && !errors.Is(err, ErrNegative) {
				t.Fatalf("%q: a negative integer gave %v, want %v", raw, err, ErrNegative)
			}
			return
		}
		if !got.Valid {
			t.Fatalf("%q: no error but a not-valid Amount", raw)
		}
		if !ok || got.Value != want {
			t.Fatalf("%q: accepted as %d; oracle says %d (ok=%v)", raw, got.Value, want, ok)
		}
		if canon := strconv.FormatUint(got.Value, 10); isDigits(text) && canon != text {
			t.Fatalf("%q: %d re-formats to %q, want %q", raw, got.Value, canon, text)
		}
	})
}

// decoderShaped tells whether raw could be a json.RawMessage the decoder
// hands out for a field, which never starts or ends with white space. (With
// leading white space ParseInteger would take the string ` "5"` for 5; no
// caller can pass that.)
func decoderShaped(raw []byte) bool {
	return len(raw) == 0 || !isJSONSpace(raw[0]) && !isJSONSpace(raw[len(raw)-1])
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func checkAmountError(t *testing.T, raw []byte, err error) {
	t.Helper()
	msg := err.Error()
	if msg == "" || len(msg) > maxAmountErr {
		t.Fatalf("%q: error of %d bytes: %q", raw, len(msg), msg)
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("%q: error has a line break: %q", raw, msg)
	}
}

// decimalOracle parses s as a non-negative decimal integer below 2^64
// without strconv, so that it checks ParseDecimalString independently.
func decimalOracle(s string) (uint64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || !n.IsUint64() {
		return 0, false
	}
	return n.Uint64(), true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func canonicalDigits(s string) string {
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// Secrets handed to newAPIError in FuzzAPIError. The corpus echoes them in
// every field an error body has, plainly and JSON-escaped. The long one is
// longer than maxErrorText's cut and than truncate's, so that a secret cut
// in half by truncation before scrubbing would show.
var fuzzSecrets = []string{
	"SK-upstream-0123456789abcdefXYZ",
	"tok/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+LONG/secret==",
}

// maxErrorLen bounds APIError.Error(): the fixed words, service and
// operation, and four scrubbed fields of at most maxErrorText bytes plus an
// ellipsis each.
const maxErrorLen = 64 + 4*(maxErrorText+len("…"))

// FuzzAPIError feeds newAPIError arbitrary error answers: any status, body,
// Content-Type, Retry-After and request id. Invariants:
//   - it never panics and keeps status, service and operation;
//   - Code, Message, Detail and RequestID are valid UTF-8, at most
//     maxErrorText bytes plus an ellipsis, and hold no control character;
//   - Error() holds no secret, not even a 16-byte piece of one that the
//     input does not hold outside a whole secret, no control character,
//     and is bounded;
//   - an answer with a known status always says something;
//   - RetryAfter is never negative, and a Retry-After of n seconds gives at
//     least min(n, 1h) (a huge value must not wrap around).
func FuzzAPIError(f *testing.F) {
	f.Add(403, []byte(`{"code":"InvalidAccessToken","message":"token expired","requestId":"r-1"}`), "application/json", "", "")
	f.Fuzz(func(t *testing.T, status int, body []byte, contentType, retryAfter, requestID string) {
		req := Request{Service: "svc", Operation: "op", Secrets: fuzzSecrets}
		header := http.Header{}
		if contentType != "" {
			header.Set("Content-Type", contentType)
		}
		if retryAfter != "" {
			header.Set("Retry-After", retryAfter)
		}
		resp := &Response{StatusCode: status, Header: header, Body: body, RequestID: requestID}
		e := newAPIError(req, resp)

		if e.StatusCode != status || e.Service != "svc" || e.Operation != "op" {
			t.Fatalf("identity lost: %+v", e)
		}
		for name, v := range map[string]string{"Code": e.Code, "Message": e.Message, "Detail": e.Detail, "RequestID": e.RequestID} {
			if !utf8.ValidString(v) {
				t.Errorf("%s is not valid UTF-8: %q", name, v)
			}
			if len(v) > maxErrorText+len("…") {
				t.Errorf("%s has %d bytes, more than %d: %q", name, len(v), maxErrorText, v)
			}
			if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
				t.Errorf("%s has a control character at %d: %q", name, i, v)
			}
		}
		msg := e.Error()
		if len(msg) > maxErrorLen {
			t.Errorf("Error() has %d bytes, more than %d", len(msg), maxErrorLen)
		}
		if i := strings.IndexFunc(msg, unicode.IsControl); i >= 0 {
			t.Errorf("Error() has a control character at %d: %q", i, msg)
		}
		input := string(body) + "\x00" + contentType + "\x00" + requestID
		testutil.CheckNoSecret(t, "Error()", msg, input, fuzzSecrets)
		if http.StatusText(status) != "" && e.Code == "" && e.Message == "" {
			t.Errorf("status %d: neither code nor message: %+v", status, e)
		}

		if e.RetryAfter < 0 {
			t.Fatalf("Retry-After %q gave a negative pause %v", retryAfter, e.RetryAfter)
		}
		if v := strings.TrimSpace(header.Get("Retry-After")); isDigits(v) {
			n, _ := new(big.Int).SetString(v, 10)
			floor := time.Hour
			if n.Cmp(big.NewInt(3600)) < 0 {
				floor = time.Duration(n.Int64()) * time.Second
			}
			if e.RetryAfter < floor {
				t.Fatalf("Retry-After %q gave %v, want at least %v", v, e.RetryAfter, floor)
			}
		}
	})
}

// FuzzJSONCursor checks the cursor's reading of JSON against
// encoding/json: what it reads to the end is valid JSON (json.Valid), and
// every valid text without escapes in its keys is read to the end; Raw
// gives the text without the whitespace around it; validJSON is
// json.Valid.
func FuzzJSONCursor(f *testing.F) {
	for _, seed := range []string{`{"a":[1,-2.5e+3,"x\u00e9\n",true,false,null,{}]}`, ` [ ] `, `"\ud800"`, `01`, `{"a" 1}`, `[1,]`, "\"\xff\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewJSONCursor(data)
		raw := c.Raw()
		read := c.End()
		if read && !json.Valid(data) {
			t.Fatalf("read invalid JSON %q", data)
		}
		if read && !bytes.Equal(raw, bytes.Trim(data, " \t\r\n")) {
			t.Fatalf("Raw gave %q of %q", raw, data)
		}
		if !read && json.Valid(data) && !bytes.Contains(data, []byte(`\`)) && utf8.Valid(data) {
			t.Fatalf("did not read valid JSON %q", data)
		}
		if validJSON(data) != json.Valid(data) {
			t.Fatalf("validJSON(%q) = %v, json.Valid says otherwise", data, !json.Valid(data))
		}
	})
}
