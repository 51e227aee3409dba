package upstream

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// redacted stands in for a secret wherever upstream echoed one.
const redacted = "<secret>"

// maxRedactInput bounds the text that Text and Fields look at: what they
// return is for a log line or a status page, and error fields are cut far
// shorter anyway (maxErrorText). redactGuard more is dropped at such a
// cut, so that a secret the cut goes through is not left in two halves of
// which redaction saw only one.
const (
	maxRedactInput = 64 << 10
	redactGuard    = 4 << 10
)

// maxDecodings is how many layers of escaping are seen through: an echoed
// URL inside a JSON message, or a query escaped twice by a gateway.
const maxDecodings = 2

// Redactor finds the secrets it was made with in text that came from
// upstream, in every form in which an upstream or a gateway between may
// echo them: as they are; JSON-escaped by any encoder (\/, \", \n,
// \u00XX with upper- or lower-case hex, surrogate pairs); query-escaped
// (+ or %20 for a space, upper- or lower-case hex) or path-escaped; up to
// two of these on top of one another; and split or interleaved by control
// or format characters, white space or invalid UTF-8, which would print
// as a secret in two readable halves. A form it cannot read (for example
// base64) is not found.
//
// It works on what would be printed, so callers sanitise and redact in
// one step: Text for messages and notes, Fields for the parts of one
// message, Value for a value that must otherwise stay byte for byte (a
// label), JSON for a whole answer before it is decoded.
//
// A nil *Redactor knows no secret: Text and Fields still sanitise.
type Redactor struct {
	// raw are the secrets as given, for the byte pass over whole answers.
	raw [][]byte
	// needles are the secrets with what visible drops removed, longest
	// first; each view of a text is searched for them.
	needles []string
	minLen  int
}

// NewRedactor returns a Redactor for the non-empty secrets. A Redactor
// never changes once made, and clients ask for one with the same secrets
// several times per request: the last ones made are kept and given again.
func NewRedactor(secrets ...string) *Redactor {
	var b strings.Builder
	for _, s := range secrets {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	key := b.String()
	redactors.mu.Lock()
	defer redactors.mu.Unlock()
	if r, ok := redactors.made[key]; ok {
		return r
	}
	if len(redactors.made) >= maxKeptRedactors {
		// Keys rotate, and each rotation asks for new ones: start over
		// rather than keep every secret ever seen.
		clear(redactors.made)
	}
	r := newRedactor(secrets)
	redactors.made[key] = r
	return r
}

// maxKeptRedactors bounds the Redactors NewRedactor keeps: more than
// the credentials of any configuration, each with its current and previous
// keys.
const maxKeptRedactors = 256

var redactors = struct {
	mu   sync.Mutex
	made map[string]*Redactor // by the secrets, each after its length
}{made: map[string]*Redactor{}}

func newRedactor(secrets []string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, s := range secrets {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		r.raw = append(r.raw, []byte(s))
		if n := (view{text: s}).visible().text; n != "" && !seen["\x00"+n] {
			seen["\x00"+n] = true
			r.needles = append(r.needles, n)
		}
	}
	sort.Slice(r.needles, func(i, j int) bool { return len(r.needles[i]) > len(r.needles[j]) })
	sort.Slice(r.raw, func(i, j int) bool { return len(r.raw[i]) > len(r.raw[j]) })
	if len(r.needles) > 0 {
		r.minLen = len(r.needles[len(r.needles)-1])
	}
	return r
}

// Text returns s fit for a log line: every control character (C0, DEL,
// C1) a space, invalid UTF-8 U+FFFD, and every secret, in any form,
// "<secret>". Redaction looks at the text as it will be printed, so a
// secret with a control character inside or between its halves is found.
func (r *Redactor) Text(s string) string { return r.Fields(s)[0] }

// Fields is Text for the parts of one message, such as an error's
// message and detail: each part is sanitised, and a secret is found also
// when it runs from one part into the next.
func (r *Redactor) Fields(parts ...string) []string {
	joined := strings.Join(parts, "")
	cut := false
	if len(joined) > maxRedactInput {
		n := maxRedactInput - redactGuard
		for n > 0 && !utf8.RuneStart(joined[n]) {
			n--
		}
		joined, cut = joined[:n], true
	}
	covered := r.cover(joined)
	out := make([]string, len(parts))
	at := 0
	for i, p := range parts {
		end := min(at+len(p), len(joined))
		if at > end {
			at = end
		}
		out[i] = render(joined, at, end, covered, true)
		at = end
	}
	if cut && len(out) > 0 {
		out[len(out)-1] += "…"
	}
	return out
}

// Value returns s unchanged unless it holds a secret, in any form; then
// with each one replaced. It is for decoded strings that become label
// values, which are kept byte for byte.
func (r *Redactor) Value(s string) string {
	covered := r.cover(s)
	if covered == nil {
		return s
	}
	return render(s, 0, len(s), covered, false)
}

// Notes applies Text to every note, in place.
func (r *Redactor) Notes(notes []string) {
	for i := range notes {
		notes[i] = r.Text(notes[i])
	}
}

// JSON returns an answer with every secret replaced before it is
// decoded: when body is valid JSON, every string whose decoded value
// holds a secret in any form (Value) is written anew without it, so the
// values decoded from the result are clean whatever escapes upstream
// used; then, and for a body that is not JSON, each secret as is.
func (r *Redactor) JSON(body []byte) []byte {
	if r == nil || len(r.needles) == 0 {
		return body
	}
	if validJSON(body) {
		body = r.jsonStrings(body)
	}
	for _, s := range r.raw {
		if bytes.Contains(body, s) {
			body = bytes.ReplaceAll(body, s, []byte(redacted))
		}
	}
	return body
}

// jsonStrings rewrites the string literals of the valid JSON text body
// whose values hold a secret. The rest is copied byte for byte.
func (r *Redactor) jsonStrings(body []byte) []byte {
	var out []byte // nil until something changes
	last := 0
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		end := i + 1
		escaped := false
		for ; end < len(body); end++ {
			if body[end] == '\\' {
				escaped = true
				end++
			} else if body[end] == '"' {
				break
			}
		}
		lit := body[i : end+1]
		i = end
		if len(lit)-2 < r.minLen {
			continue
		}
		var value string
		if !escaped {
			value = string(lit[1 : len(lit)-1])
		} else if json.Unmarshal(lit, &value) != nil {
			continue
		}
		clean := r.Value(value)
		if clean == value {
			continue
		}
		out = append(out, body[last:end+1-len(lit)]...)
		out = appendJSONString(out, clean)
		last = end + 1
	}
	if out == nil {
		return body
	}
	return append(out, body[last:]...)
}

func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keeps "<secret>" readable in a dump
	_ = enc.Encode(s)
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// Error returns err with its text redacted by Text, still matching err
// with errors.Is and errors.As. It is for errors about an answer, whose
// text may quote a part of it.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err, text: r.Text(err.Error())}
}

type redactedError struct {
	err  error
	text string
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// render writes s[from:to] with each covered run as one "<secret>"; when
// sanitise, control characters become spaces and invalid UTF-8 U+FFFD.
func render(s string, from, to int, covered []bool, sanitise bool) string {
	var b strings.Builder
	b.Grow(to - from)
	for i := from; i < to; {
		if covered != nil && covered[i] {
			b.WriteString(redacted)
			for i < to && covered[i] {
				i++
			}
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:to])
		switch {
		case !sanitise:
			b.WriteString(s[i : i+size])
		case c == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case unicode.IsControl(c):
			b.WriteByte(' ')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// cover tells which bytes of s belong to a secret, or is nil when none
// does. s is searched in views: as it is and decoded by up to
// maxDecodings of the decoders, each with what visible drops removed;
// every view maps its bytes back to where they came from in s.
func (r *Redactor) cover(s string) []bool {
	if r == nil || len(r.needles) == 0 || len(s) < r.minLen {
		return nil
	}
	var covered []bool
	var search func(v view, depth int)
	search = func(v view, depth int) {
		if len(v.text) < r.minLen {
			return
		}
		vis := v.visible()
		for _, n := range r.needles {
			for from := 0; from+len(n) <= len(vis.text); {
				k := strings.Index(vis.text[from:], n)
				if k < 0 {
					break
				}
				a, b := from+k, from+k+len(n)
				if covered == nil {
					covered = make([]bool, len(s))
				}
				for j := vis.start(a); j < vis.end(b-1); j++ {
					covered[j] = true
				}
				from = a + 1
			}
		}
		if depth == maxDecodings {
			return
		}
		for _, decode := range decoders {
			if d, ok := decode(v.text); ok {
				search(v.compose(d), depth+1)
			}
			// An escape broken up by what a reader skips (an invalid
			// byte between "\" and "u0032") still reads as the secret.
			if len(vis.text) != len(v.text) {
				if d, ok := decode(vis.text); ok {
					search(vis.compose(d), depth+1)
				}
			}
		}
	}
	search(view{text: s}, 0)
	return covered
}

// A view is a text derived from an original one: byte i of text comes
// from the original's bytes lo[i] to hi[i] (nil maps: the text is the
// original).
type view struct {
	text   string
	lo, hi []int32
}

func (v view) start(i int) int {
	if v.lo == nil {
		return i
	}
	return int(v.lo[i])
}

func (v view) end(i int) int {
	if v.hi == nil {
		return i + 1
	}
	return int(v.hi[i])
}

// compose maps d, derived from v's text, to v's original.
func (v view) compose(d view) view {
	if v.lo == nil {
		return d
	}
	out := view{text: d.text, lo: make([]int32, len(d.text)), hi: make([]int32, len(d.text))}
	for i := range d.text {
		out.lo[i] = v.lo[d.lo[i]]
		out.hi[i] = v.hi[d.hi[i]-1]
	}
	return out
}

// ignorable tells whether c can sit inside a printed secret without
// hiding it from a reader: a control or format character, white space
// (what Text prints a control character as), or invalid UTF-8 and U+FFFD
// (what it prints that as).
func ignorable(c rune) bool {
	return c == utf8.RuneError || unicode.IsControl(c) || unicode.IsSpace(c) || unicode.Is(unicode.Cf, c)
}

// visible is v without what ignorable says; v itself when there is none.
func (v view) visible() view {
	if !strings.ContainsFunc(v.text, ignorable) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v.text))
	out := view{lo: make([]int32, 0, len(v.text)), hi: make([]int32, 0, len(v.text))}
	for i := 0; i < len(v.text); {
		c, size := utf8.DecodeRuneInString(v.text[i:])
		if !ignorable(c) {
			b.WriteString(v.text[i : i+size])
			for j := i; j < i+size; j++ {
				out.lo = append(out.lo, int32(v.start(j)))
				out.hi = append(out.hi, int32(v.end(j)))
			}
		}
		i += size
	}
	out.text = b.String()
	return out
}

// A decoder undoes one kind of escaping in s, giving a view of s: each
// byte of the result maps to the escape (or the byte) it came from. ok is
// false when there was nothing to undo.
type decoder func(s string) (d view, ok bool)

var decoders = []decoder{
	unescapeJSON,
	func(s string) (view, bool) { return unescapeURL(s, true) },  // query
	func(s string) (view, bool) { return unescapeURL(s, false) }, // path
}

// viewBuilder collects a decoded text with its map.
type viewBuilder struct {
	text    []byte
	lo, hi  []int32
	changed bool
}

func newViewBuilder(n int) *viewBuilder {
	return &viewBuilder{text: make([]byte, 0, n), lo: make([]int32, 0, n), hi: make([]int32, 0, n)}
}

func (b *viewBuilder) emit(from, to int, p ...byte) {
	b.text = append(b.text, p...)
	for range p {
		b.lo = append(b.lo, int32(from))
		b.hi = append(b.hi, int32(to))
	}
}

func (b *viewBuilder) view() (view, bool) {
	return view{text: string(b.text), lo: b.lo, hi: b.hi}, b.changed
}

func unescapeURL(s string, plus bool) (view, bool) {
	if !strings.Contains(s, "%") && !(plus && strings.Contains(s, "+")) {
		return view{}, false
	}
	b := newViewBuilder(len(s))
	for i := 0; i < len(s); {
		switch {
		case s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.emit(i, i+3, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 3
			b.changed = true
		case plus && s[i] == '+':
			b.emit(i, i+1, ' ')
			i++
			b.changed = true
		default:
			b.emit(i, i+1, s[i])
			i++
		}
	}
	return b.view()
}

func unescapeJSON(s string) (view, bool) {
	if !strings.Contains(s, `\`) {
		return view{}, false
	}
	b := newViewBuilder(len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' || i+1 >= len(s) {
			b.emit(i, i+1, s[i])
			i++
			continue
		}
		if c, ok := jsonShortEscapes[s[i+1]]; ok {
			b.emit(i, i+2, c)
			i += 2
			b.changed = true
			continue
		}
		r, n := jsonUnicodeEscape(s[i:])
		if n == 0 {
			b.emit(i, i+1, s[i])
			i++
			continue
		}
		b.emit(i, i+n, utf8.AppendRune(nil, r)...)
		i += n
		b.changed = true
	}
	return b.view()
}

var jsonShortEscapes = map[byte]byte{
	'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// jsonUnicodeEscape reads \uXXXX, or a surrogate pair of two, at the start
// of s (hex in either case), returning the rune and the bytes read; n is 0
// when s does not start with one. A lone surrogate is U+FFFD, as
// encoding/json decodes it.
func jsonUnicodeEscape(s string) (rune, int) {
	r1, ok := hex4(s)
	if !ok {
		return 0, 0
	}
	if r1 < 0xd800 || r1 > 0xdfff {
		return r1, 6
	}
	if r1 < 0xdc00 {
		if r2, ok := hex4(s[6:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
			return 0x10000 + (r1-0xd800)<<10 + (r2 - 0xdc00), 12
		}
	}
	return utf8.RuneError, 6
}

func hex4(s string) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for i := 2; i < 6; i++ {
		if !isHex(s[i]) {
			return 0, false
		}
		r = r<<4 | rune(unhex(s[i]))
	}
	return r, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
