package testutil

import (
	"strings"
	"testing"
)

// piece is the shortest run of a secret's bytes that counts as a leak.
const piece = 16

// CheckNoSecret fails t when out holds one of the secrets, or a 16-byte
// piece of one that input does not hold outside a whole secret. Pieces are
// only looked for when input has no backslash, since a JSON escape can
// spell a piece that the raw input does not show.
func CheckNoSecret(t testing.TB, what, out, input string, secrets []string) {
	t.Helper()
	rest := input
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Fatalf("%s contains the secret %q: %q", what, s, out)
		}
		if s != "" {
			rest = strings.ReplaceAll(rest, s, "\x00")
		}
	}
	if strings.Contains(input, `\`) {
		return
	}
	for _, s := range secrets {
		for i := 0; i+piece <= len(s); i++ {
			if p := s[i : i+piece]; strings.Contains(out, p) && !strings.Contains(rest, p) {
				t.Fatalf("%s contains %q, a piece of the secret %q: %q", what, p, s, out)
			}
		}
	}
}
