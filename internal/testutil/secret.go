package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// piece is the shortest run of a secret's bytes that counts as a leak.
const piece = 16

// SecretForm is one way a secret can be written in an answer that echoes
// it: as is, JSON-escaped by one encoder or another, or URL-escaped.
type SecretForm struct {
	Name string
	Text string
}

// SecretForms lists the forms of secret that the exporter promises to
// redact, each once (forms that come out the same are merged). It is
// written independently of the redaction code, so that tests and fuzz
// oracles check that code rather than repeat it.
func SecretForms(secret string) []SecretForm {
	var forms []SecretForm
	add := func(name, text string) {
		for _, f := range forms {
			if f.Text == text {
				return
			}
		}
		forms = append(forms, SecretForm{name, text})
	}
	add("raw", secret)

	goJSON, _ := json.Marshal(secret) // escapes <, >, & and U+2028/9 too
	add("json", unquote(goJSON))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(secret)
	plain := unquote(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	add("json-no-html", plain)
	add("json-slash", strings.ReplaceAll(plain, "/", `\/`)) // PHP, some Java
	add("json-ascii", jsonASCII(secret, false, "%04x"))     // Python's ensure_ascii
	add("json-ascii-upper", jsonASCII(secret, false, "%04X"))
	add("json-all-u", jsonASCII(secret, true, "%04x"))
	add("json-all-u-upper", jsonASCII(secret, true, "%04X"))

	q := url.QueryEscape(secret)
	add("query", q)
	add("query-lower", lowerHex(q))
	q20 := strings.ReplaceAll(q, "+", "%20")
	add("query-%20", q20)
	add("query-%20-lower", lowerHex(q20))
	p := url.PathEscape(secret)
	add("path", p)
	add("path-lower", lowerHex(p))
	return forms
}

// unquote drops the quotes around an encoded JSON string.
func unquote(b []byte) string { return string(b[1 : len(b)-1]) }

// jsonASCII escapes s as a JSON string body with \u escapes in hexFmt:
// every rune when all, else only what is not printable ASCII (as
// Python's json.dumps does), non-BMP runes as surrogate pairs.
func jsonASCII(s string, all bool, hexFmt string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case !all && r == '"':
			b.WriteString(`\"`)
		case !all && r == '\\':
			b.WriteString(`\\`)
		case !all && r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u`+hexFmt+`\u`+hexFmt, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, `\u`+hexFmt, r)
		}
	}
	return b.String()
}

// lowerHex writes every %XX escape of s with lower-case hex digits.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// squeeze drops what can split a secret into halves that still read as
// the secret: control and format characters, white space (what a control
// character is printed as) and invalid UTF-8 or U+FFFD (what invalid
// UTF-8 is printed as).
func squeeze(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r != utf8.RuneError && !unicode.IsControl(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// CheckNoSecret fails t when out holds one of the secrets in any of its
// SecretForms, also when split by control characters, white space or
// invalid UTF-8 (which read as the secret once printed), or a 16-byte
// piece of one that input does not hold outside a whole secret form.
// Pieces are only looked for when input has no backslash, since a JSON
// escape can spell a piece that the raw input does not show.
func CheckNoSecret(t testing.TB, what, out, input string, secrets []string) {
	t.Helper()
	if msg := FindSecret(out, input, secrets); msg != "" {
		t.Fatalf("%s %s: %q", what, msg, out)
	}
}

// FindSecret is CheckNoSecret's test: it describes the first leak of a
// secret that it finds in out, or returns "".
func FindSecret(out, input string, secrets []string) string {
	squeezed := squeeze(out)
	rest := input
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, f := range SecretForms(s) {
			if strings.Contains(out, f.Text) {
				return fmt.Sprintf("contains the secret %q (%s form)", s, f.Name)
			}
			if sq := squeeze(f.Text); sq != "" && strings.Contains(squeezed, sq) {
				return fmt.Sprintf("contains the secret %q (%s form) split by control characters, spaces or invalid UTF-8", s, f.Name)
			}
			rest = strings.ReplaceAll(rest, f.Text, "\x00")
		}
	}
	if strings.Contains(input, `\`) {
		return ""
	}
	for _, s := range secrets {
		for i := 0; i+piece <= len(s); i++ {
			if p := s[i : i+piece]; strings.Contains(out, p) && !strings.Contains(rest, p) {
				return fmt.Sprintf("contains %q, a piece of the secret %q", p, s)
			}
		}
	}
	return ""
}
