package testutil

import (
	"strings"
	"testing"
)

const testSecret = `LIB/Zm"Kq+4= é<&>€😀`

func TestSecretFormsSpellTheSecret(t *testing.T) {
	want := map[string]string{
		"raw":              testSecret,
		"json":             `LIB/Zm\"Kq+4= é\u003c\u0026\u003e€😀`,
		"json-no-html":     `LIB/Zm\"Kq+4= é<&>€😀`,
		"json-slash":       `LIB\/Zm\"Kq+4= é<&>€😀`,
		"json-ascii":       `LIB/Zm\"Kq+4= \u00e9<&>\u20ac\ud83d\ude00`,
		"json-ascii-upper": `LIB/Zm\"Kq+4= \u00E9<&>\u20AC\uD83D\uDE00`,
		"query":            `LIB%2FZm%22Kq%2B4%3D+%C3%A9%3C%26%3E%E2%82%AC%F0%9F%98%80`,
		"query-lower":      `LIB%2fZm%22Kq%2b4%3d+%c3%a9%3c%26%3e%e2%82%ac%f0%9f%98%80`,
		"query-%20":        `LIB%2FZm%22Kq%2B4%3D%20%C3%A9%3C%26%3E%E2%82%AC%F0%9F%98%80`,
		"path":             `LIB%2FZm%22Kq+4=%20%C3%A9%3C&%3E%E2%82%AC%F0%9F%98%80`,
	}
	got := map[string]string{}
	for _, f := range SecretForms(testSecret) {
		got[f.Name] = f.Text
	}
	for name, text := range want {
		if got[name] != text {
			t.Errorf("%s form: %q, want %q", name, got[name], text)
		}
	}
	if !strings.HasPrefix(got["json-all-u"], `\u004c\u0049\u0042\u002f`) {
		t.Errorf("json-all-u form: %q", got["json-all-u"])
	}
}

func TestFindSecret(t *testing.T) {
	secrets := []string{testSecret, "second-secret-0123456789"}
	for _, f := range SecretForms(testSecret) {
		if FindSecret("x "+f.Text+" y", "", secrets) == "" {
			t.Errorf("%s form %q not found", f.Name, f.Text)
		}
	}
	for name, out := range map[string]string{
		"split by a control":    "second-secret\x01-0123456789",
		"split by a newline":    "second-sec\nret-0123456789",
		"split by a space":      "second-secret -0123456789",
		"split by invalid":      "second-secret\xff-0123456789",
		"split by U+FFFD":       "second-secret\uFFFD-0123456789",
		"split by a zero width": "second-secret\u200b-0123456789",
		"a piece":               "…ecret-0123456789",
	} {
		if FindSecret(out, "", secrets) == "" {
			t.Errorf("%s: %q not found", name, out)
		}
	}
	for _, out := range []string{"", "nothing here", "<secret> and <secret>", "second-secret"} {
		if msg := FindSecret(out, "", secrets); msg != "" {
			t.Errorf("%q: %s", out, msg)
		}
	}
	// A piece the input shows outside a whole secret is not a leak.
	if msg := FindSecret("…ecret-0123456789", "echo …ecret-0123456789", secrets); msg != "" {
		t.Errorf("piece from the input: %s", msg)
	}
}
