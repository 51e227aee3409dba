package upstream

import (
	"encoding/json"
	"strings"
	"testing"
)

// The cursor nests as deep as encoding/json does, counted over the whole
// text, also below an object that a decoder reads key by key.
func TestJSONCursorNestsAsDeepAsEncodingJSON(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		data := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Errorf("%d arrays deep: validJSON = %v, json.Valid = %v", n, got, want)
		}
		c := NewJSONCursor(data)
		c.Skip()
		if read := c.End(); read != json.Valid(data) {
			t.Errorf("%d arrays deep: read to the end = %v, json.Valid = %v", n, read, json.Valid(data))
		}
	}
	// 10,000 levels below the top object, read by hand.
	data := []byte(`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`)
	c := NewJSONCursor(data)
	for range c.Fields([]string{"y"}) {
		t.Fatal("no field y")
	}
	if c.End() || json.Valid(data) {
		t.Errorf("read %d levels of nesting; encoding/json refuses it: %v", 10001, json.Valid(data))
	}
}
