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
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return Amount{}, fmt.Errorf("want a decimal string, got %s", describeRaw(raw))
	}
	v, err := parseUint(s)
	if err != nil {
		return Amount{}, fmt.Errorf("%q: %w", truncate(s), err)
	}
	return Some(v), nil
}

// ParseInteger reads an amount sent as a JSON number (Huawei sends quotas
// this way). null or an absent field is a not-valid Amount and no error; a
// negative, fractional or non-numeric value is an error describing it.
func ParseInteger(raw json.RawMessage) (Amount, error) {
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		return Amount{}, nil
	}
	var n json.Number
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return Amount{}, fmt.Errorf("want an integer, got %s", describeRaw(raw))
	}
	v, err := parseUint(n.String())
	if err != nil {
		return Amount{}, fmt.Errorf("%s: %w", truncate(n.String()), err)
	}
	return Some(v), nil
}

var (
	errNegative   = errors.New("negative value")
	errNotInteger = errors.New("not a non-negative integer")
	errTooLarge   = errors.New("too large")
)

func parseUint(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err == nil {
		return v, nil
	}
	switch {
	case len(s) > 0 && s[0] == '-':
		return 0, errNegative
	case errors.Is(err, strconv.ErrRange):
		return 0, errTooLarge
	default:
		return 0, errNotInteger
	}
}

func describeRaw(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string " + truncate(string(raw))
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number " + truncate(string(raw))
	}
}

func truncate(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	// The text is upstream's and ends up in logs: valid UTF-8 (Map
	// replaces invalid bytes) and no control characters.
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
