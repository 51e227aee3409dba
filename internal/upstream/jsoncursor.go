package upstream

import (
	"encoding/json"
	"iter"
	"unicode/utf8"
)

// JSONCursor reads a JSON text in one pass, for the fast paths of the
// answer decoders. It reads only what it can read exactly as encoding/json
// would: strings without escapes and in valid UTF-8, and keys spelled
// plainly. On anything else, invalid JSON included, it turns Bad and reads
// no further; the decoder then drops what it read and decodes the answer
// step by step, which says what is wrong. So a fast path gives the step by
// step result or none, never a third one.
type JSONCursor struct {
	data  []byte
	pos   int
	bad   bool
	depth int // objects and arrays open at pos
}

// maxDepth is encoding/json's bound on nesting, over the whole text:
// deeper text is refused there, and goes to the step by step path here.
const maxDepth = 10000

// open enters an object or array, or turns the cursor Bad past maxDepth.
func (c *JSONCursor) open(b byte) bool {
	if !c.expect(b) {
		return false
	}
	c.depth++
	if c.depth > maxDepth {
		c.bad = true
		return false
	}
	return true
}

// NewJSONCursor returns a cursor at the start of data.
func NewJSONCursor(data []byte) *JSONCursor { return &JSONCursor{data: data} }

// Bad tells whether the cursor met something it does not read.
func (c *JSONCursor) Bad() bool { return c.bad }

// End tells whether the text was read to its end without trouble: nothing
// but whitespace is left.
func (c *JSONCursor) End() bool {
	c.space()
	if c.pos != len(c.data) {
		c.bad = true
	}
	return !c.bad
}

func (c *JSONCursor) space() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// next is the first byte of the next value, 0 at the end or once Bad.
func (c *JSONCursor) next() byte {
	if c.bad {
		return 0
	}
	c.space()
	if c.pos == len(c.data) {
		return 0
	}
	return c.data[c.pos]
}

// expect consumes b, or turns the cursor Bad.
func (c *JSONCursor) expect(b byte) bool {
	if c.next() != b {
		c.bad = true
		return false
	}
	c.pos++
	return true
}

// Null consumes a null, if the next value is one.
func (c *JSONCursor) Null() bool {
	if c.next() != 'n' {
		return false
	}
	c.literal("null")
	return !c.bad
}

// Kind is the first byte of the next value: '{', '[', '"', 'n', 't', 'f',
// or '-' or a digit for a number; 0 at the end or once Bad.
func (c *JSONCursor) Kind() byte { return c.next() }

// Object yields the keys of the object that comes next, each unescaped and
// only valid until the next call; the loop body must consume the key's
// value (read it or Skip it). A key with an escape or in invalid UTF-8
// turns the cursor Bad.
func (c *JSONCursor) Object() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if !c.open('{') {
			return
		}
		if c.next() == '}' {
			c.pos++
			c.depth--
			return
		}
		for !c.bad {
			key, ok := c.plainString()
			if !ok || !c.expect(':') {
				c.bad = true
				return
			}
			if !yield(key) || c.bad {
				return
			}
			switch c.next() {
			case ',':
				c.pos++
			case '}':
				c.pos++
				c.depth--
				return
			default:
				c.bad = true
			}
		}
	}
}

// Fields yields, for the object that comes next, the index among known
// (the keys a fast path reads, at most 64) of each of its keys that is one
// of them; the loop body must consume that key's value. The values of the
// other keys are skipped. A repeated key, or a key that encoding/json
// could take for one of known without being spelled exactly like it (in
// another case, or with a letter outside ASCII, some of which fold to
// ASCII ones), turns the cursor Bad: which one counts is the step by step
// path's to say.
func (c *JSONCursor) Fields(known []string) iter.Seq[int] {
	return func(yield func(int) bool) {
		var seen uint64
		for key := range c.Object() {
			i := c.key(key, known)
			switch {
			case c.bad:
				return
			case i < 0:
				c.Skip()
			case seen&(1<<i) != 0:
				c.bad = true
				return
			default:
				seen |= 1 << i
				if !yield(i) {
					return
				}
			}
		}
	}
}

// key returns the index of key among known, or -1; see Fields.
func (c *JSONCursor) key(key []byte, known []string) int {
	for i, k := range known {
		if string(key) == k {
			return i
		}
	}
	for _, b := range key {
		if b >= utf8.RuneSelf {
			c.bad = true
			return -1
		}
	}
	for _, k := range known {
		if equalFoldASCII(key, k) {
			c.bad = true
			return -1
		}
	}
	return -1
}

func equalFoldASCII(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Array yields once per element of the array that comes next; the loop
// body must consume the element.
func (c *JSONCursor) Array() iter.Seq[int] {
	return func(yield func(int) bool) {
		if !c.open('[') {
			return
		}
		if c.next() == ']' {
			c.pos++
			c.depth--
			return
		}
		for i := 0; !c.bad; i++ {
			if !yield(i) || c.bad {
				return
			}
			switch c.next() {
			case ',':
				c.pos++
			case ']':
				c.pos++
				c.depth--
				return
			default:
				c.bad = true
			}
		}
	}
}

// Text consumes a string without escapes in valid UTF-8, else turns the
// cursor Bad.
func (c *JSONCursor) Text() string {
	s, ok := c.plainString()
	if !ok {
		c.bad = true
		return ""
	}
	return string(s)
}

// plainString reads a string that needs no unescaping.
func (c *JSONCursor) plainString() ([]byte, bool) {
	if !c.expect('"') {
		return nil, false
	}
	start := c.pos
	for c.pos < len(c.data) {
		b := c.data[c.pos]
		switch {
		case b == '"':
			s := c.data[start:c.pos]
			c.pos++
			return s, utf8.Valid(s)
		case b == '\\' || b < 0x20:
			return nil, false
		}
		c.pos++
	}
	return nil, false
}

// number consumes a number and returns its literal, valid by JSON's
// grammar, else turns the cursor Bad.
func (c *JSONCursor) number() []byte {
	if c.bad {
		return nil
	}
	c.space()
	start := c.pos
	if c.at('-') {
		c.pos++
	}
	switch {
	case c.at('0'):
		c.pos++
	case c.digits() == 0:
		c.bad = true
		return nil
	}
	if c.at('.') {
		c.pos++
		if c.digits() == 0 {
			c.bad = true
			return nil
		}
	}
	if c.at('e') || c.at('E') {
		c.pos++
		if c.at('+') || c.at('-') {
			c.pos++
		}
		if c.digits() == 0 {
			c.bad = true
			return nil
		}
	}
	return c.data[start:c.pos]
}

func (c *JSONCursor) at(b byte) bool { return c.pos < len(c.data) && c.data[c.pos] == b }

func (c *JSONCursor) digits() int {
	start := c.pos
	for c.pos < len(c.data) && '0' <= c.data[c.pos] && c.data[c.pos] <= '9' {
		c.pos++
	}
	return c.pos - start
}

func (c *JSONCursor) literal(word string) {
	if len(c.data)-c.pos < len(word) || string(c.data[c.pos:c.pos+len(word)]) != word {
		c.bad = true
		return
	}
	c.pos += len(word)
}

// Raw consumes the next value, of any kind, and returns its text.
func (c *JSONCursor) Raw() []byte {
	c.space()
	start := c.pos
	c.Skip()
	if c.bad {
		return nil
	}
	return c.data[start:c.pos]
}

// Skip consumes the next value, of any kind. Strings in it may have
// escapes, which are checked, not decoded.
func (c *JSONCursor) Skip() {
	switch b := c.next(); {
	case b == '{':
		for range c.Object() {
			c.Skip()
		}
	case b == '[':
		for range c.Array() {
			c.Skip()
		}
	case b == '"':
		c.skipString()
	case b == 'n':
		c.literal("null")
	case b == 't':
		c.literal("true")
	case b == 'f':
		c.literal("false")
	case b == '-' || '0' <= b && b <= '9':
		c.number()
	default:
		c.bad = true
	}
}

// skipString consumes a string with any valid escapes; invalid UTF-8 in
// it is allowed, as encoding/json allows it.
func (c *JSONCursor) skipString() {
	c.pos++ // the opening quote
	for c.pos < len(c.data) {
		b := c.data[c.pos]
		switch {
		case b == '"':
			c.pos++
			return
		case b < 0x20:
			c.bad = true
			return
		case b == '\\':
			c.pos++
			if c.pos == len(c.data) {
				c.bad = true
				return
			}
			switch c.data[c.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.pos++
			case 'u':
				if len(c.data)-c.pos < 5 || !isHex4(c.data[c.pos+1:c.pos+5]) {
					c.bad = true
					return
				}
				c.pos += 5
			default:
				c.bad = true
				return
			}
		default:
			c.pos++
		}
	}
	c.bad = true
}

// validJSON is json.Valid, faster for the common text that the cursor
// reads to its end (which is valid JSON: FuzzJSONCursor checks it);
// anything else is json.Valid's to judge.
func validJSON(data []byte) bool {
	c := NewJSONCursor(data)
	c.Skip()
	return c.End() || json.Valid(data)
}

func isHex4(b []byte) bool {
	for _, h := range b {
		if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
			return false
		}
	}
	return true
}
