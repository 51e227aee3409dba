package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Amount is one quantity from an upstream answer. Valid is false when
// upstream sent null or left the field out, which the clouds use for "no
// quota"; such an amount must produce no sample.
type Amount struct {
	Value uint64
	Valid bool
}

// Some returns a valid Amount holding v.
func Some(v uint64) Amount { return Amount{Value: v, Valid: true} }

var jsonNull = []byte("null")

// ParseDecimalString reads an amount sent as a JSON string of decimal
// digits (SMH sends bytes this way). null or an absent field is a not-valid
// Amount and no error; anything else that is not a non-negative integer in a
// string is an error describing the value.
func ParseDecimalString(raw json.RawMessage) (Amount, error) {
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		return Amount{}, nil
	}
	s, plain := PlainJSONString(raw)
	if !plain && json.Unmarshal(raw, &s) != nil {
		return Amount{}, fmt.Errorf("want a decimal string, got %s", describeRaw(raw))
	}
	v, err := parseUint(s)
	if err != nil {
		return Amount{}, fmt.Errorf("%s: %w", Quote(s), err)
	}
	return Some(v), nil
}

// ParseInteger reads an amount sent as a JSON number (Huawei sends quotas
// this way), in any notation that is an exact non-negative integer within
// 64 bits: 5, 5.0, 5e0, 0.5e1 and -0 all count. null or an absent field is
// a not-valid Amount and no error; a negative, fractional, too large or
// non-numeric value is an error describing it.
func ParseInteger(raw json.RawMessage) (Amount, error) {
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		return Amount{}, nil
	}
	if v, ok := plainInteger(raw); ok {
		return Some(v), nil
	}
	var n json.Number
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return Amount{}, fmt.Errorf("want an integer, got %s", describeRaw(raw))
	}
	v, err := parseJSONInteger(n.String())
	if err != nil {
		return Amount{}, fmt.Errorf("%s: %w", bare(n.String()), err)
	}
	return Some(v), nil
}

// plainInteger reads the common case of a JSON number, digits without a
// leading zero that fit in 64 bits, the way ParseInteger reads them.
func plainInteger(raw []byte) (uint64, bool) {
	if len(raw) == 0 || len(raw) > 19 || raw[0] == '0' && len(raw) > 1 {
		return 0, false
	}
	var v uint64
	for _, b := range raw {
		if b < '0' || b > '9' {
			return 0, false
		}
		v = v*10 + uint64(b-'0')
	}
	return v, true
}

// PlainJSONString returns the value of a JSON string literal that needs
// no decoding (no escape, no control character, valid UTF-8), as
// json.Unmarshal would; false for any other raw value.
func PlainJSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, b := range inner {
		if b == '"' || b == '\\' || b < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// parseJSONInteger reads a valid JSON number literal that must be an exact
// non-negative integer below 2^64. It works on the digits, never through
// a float (inexact beyond 2^53) or a big number (an exponent of 1e9 would
// make it huge).
func parseJSONInteger(s string) (uint64, error) {
	negative := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, nil // zero, whatever its sign and exponent
	}
	if negative {
		return 0, ErrNegative
	}
	// The value is digits × 10^shift.
	shift := -len(frac)
	if hasExp {
		// Beyond ±(len(s)+21) the outcome is the same (no 20-digit value,
		// no zeros enough to cancel it), and the sums below cannot wrap.
		limit := len(s) + 21
		e, err := strconv.Atoi(strings.TrimPrefix(exp, "+"))
		if err != nil { // out of range: ParseInt gives ±max
			e = limit
			if strings.HasPrefix(exp, "-") {
				e = -limit
			}
		}
		shift += max(-limit, min(e, limit))
	}
	trimmed := strings.TrimRight(digits, "0")
	shift += len(digits) - len(trimmed)
	if shift < 0 {
		return 0, ErrNotInteger
	}
	if len(trimmed)+shift > 20 { // 2^64 has 20 digits
		return 0, ErrTooLarge
	}
	v, err := strconv.ParseUint(trimmed+strings.Repeat("0", shift), 10, 64)
	if err != nil {
		return 0, ErrTooLarge
	}
	return v, nil
}

// The reasons an amount is refused, for errors.Is.
var (
	ErrNegative   = errors.New("negative value")
	ErrNotInteger = errors.New("not a non-negative integer")
	ErrTooLarge   = errors.New("too large")
)

func parseUint(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err == nil {
		return v, nil
	}
	switch {
	case len(s) > 0 && s[0] == '-':
		return 0, ErrNegative
	case errors.Is(err, strconv.ErrRange):
		return 0, ErrTooLarge
	default:
		return 0, ErrNotInteger
	}
}

func describeRaw(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string " + bare(string(raw))
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number " + bare(string(raw))
	}
}

// maxQuoted is the longest upstream value a note shows.
const maxQuoted = 40

// Quote renders an upstream string for a note that may be logged: quoted
// in full when short, else only its length. Never a prefix: a piece of a
// secret would escape redaction, which matches whole secrets.
func Quote(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// bare is Quote for text shown without quotes (JSON number literals and
// string literals): valid UTF-8 without control characters.
func bare(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("(%d bytes)", len(s))
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
