package testutil

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// JSONInteger is the fuzz oracles' view of an exact integer: whether text is
// a JSON number whose value is an integer in [0, 2^64), and which, worked
// out with math/big rather than the code under test's digit arithmetic. An
// exponent beyond the text's length decides alone: no number that long has
// the zeros to cancel it, or fits in 64 bits with it.
func JSONInteger(text string) (uint64, bool) {
	if !jsonNumber.MatchString(text) {
		return 0, false
	}
	mantissa, exp, _ := strings.Cut(strings.ToLower(text), "e")
	if strings.Trim(mantissa, "-0.") == "" {
		return 0, true
	}
	if e, err := strconv.Atoi(exp); exp != "" && (err != nil || e > len(text)+25 || e < -len(text)-25) {
		return 0, false
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || !r.IsInt() || r.Sign() < 0 || !r.Num().IsUint64() {
		return 0, false
	}
	return r.Num().Uint64(), true
}
