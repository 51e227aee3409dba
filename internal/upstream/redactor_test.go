package upstream

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactorText(t *testing.T) {
	r := NewRedactor(tSecrets...)
	for in, want := range map[string]string{
		"plain":                                                 "plain",
		"a\x01b\nc\u0085d":                                      "a b c d",
		"bad \xff byte":                                         "bad \uFFFD byte",
		"x " + tToken + " y":                                    "x <secret> y",
		"x " + tToken + tToken + " y":                           "x <secret> y",
		"x acctk0123456789\x01abcdefXYZ y":                      "x <secret> y",
		"x acctk0123456789\u200babcdefXYZ y":                    "x <secret> y",
		"x acctk0123456789\xffabcdefXYZ y":                      "x <secret> y",
		"x acctk0123456789\uFFFDabcdefXYZ y":                    "x <secret> y",
		`s=LIB%2FZm%22Kq%2B4%3D+%C3%A9%3C%26%3E%E2%82%AC&g=a`:   "s=<secret>&g=a",
		`s=LIB%2fZm%22Kq%2b4%3d%20%c3%a9%3c%26%3e%e2%82%ac&g=a`: "s=<secret>&g=a",
		`"LIB\/Zm\"Kq+4= \u00E9\u003c\u0026\u003e\u20ac"`:       `"<secret>"`,
		`double %252Facctk0123456789abcdefXYZ`:                  "double %252F<secret>",
		`double acctk0123456789abcdef%2558YZ`:                   "double <secret>",
		`json in a query %5Cu0061cctk0123456789abcdefXYZ`:       "json in a query <secret>",
	} {
		if got := r.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	var none *Redactor
	if got := none.Text("a\x01" + tToken); got != "a "+tToken {
		t.Errorf("nil Redactor: %q", got)
	}
}

func TestRedactorValue(t *testing.T) {
	r := NewRedactor(tSecrets...)
	for in, want := range map[string]string{
		"cores":                               "cores",
		"Cores\x01\xff ":                      "Cores\x01\xff ", // kept byte for byte
		"desk-" + tToken:                      "desk-<secret>",
		"desk-acctk0123456789\x01abcdefXYZ":   "desk-<secret>",
		"desk-acctk0123456789abcdef%58%59%5a": "desk-<secret>",
		`LIB\/Zm\"Kq+4= \u00e9<&>\u20ac`:      "<secret>",
	} {
		if got := r.Value(in); got != want {
			t.Errorf("Value(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactorJSON(t *testing.T) {
	r := NewRedactor(tSecrets...)
	body := `{"resources":[{"type":"LIB\/Zm\"Kq+4= \u00e9\u003c\u0026\u003e\u20ac","unit":"a\u0063ctk0123456789abcdefXYZ","quota":1}],` +
		`"site_id":"` + tToken + `","other":"keep \u00e9"}`
	got := string(r.JSON([]byte(body)))
	want := `{"resources":[{"type":"<secret>","unit":"<secret>","quota":1}],"site_id":"<secret>","other":"keep \u00e9"}`
	if got != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
	// Not JSON: only the raw secrets go.
	if got := string(r.JSON([]byte("oops " + tToken + ` "a\u0063ctk`))); got != `oops <secret> "a\u0063ctk` {
		t.Errorf("JSON(not JSON) = %q", got)
	}
}

func TestRedactorError(t *testing.T) {
	r := NewRedactor(tSecrets...)
	inner := errors.New("value \"" + tToken + "\" refused")
	err := r.Error(inner)
	if err.Error() != `value "<secret>" refused` || !errors.Is(err, inner) {
		t.Errorf("Error: %q (Is %v)", err, errors.Is(err, inner))
	}
	if r.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}

// Redacting an echo never costs more than a bounded amount of work per
// byte: a large message of escapes is handled quickly.
func TestRedactorLargeInput(t *testing.T) {
	r := NewRedactor(tSecrets...)
	big := strings.Repeat(`%41\u0042+`, 1<<16)
	if got := r.Text(big + tToken); strings.Contains(got, tToken) {
		t.Errorf("token survived in a large input")
	}
}

// NewRedactor gives the Redactor it made for the same secrets again, and
// never one made for other secrets that would join to the same text.
func TestNewRedactorGivesTheOneMadeForTheSameSecrets(t *testing.T) {
	a := NewRedactor("secret-one-8f2c", "token-two-1b9d")
	if b := NewRedactor("secret-one-8f2c", "token-two-1b9d"); b != a {
		t.Error("a second Redactor made for the same secrets")
	}
	joined := NewRedactor("secret-one-8f2c\x00token-two-1b9d")
	if joined == a {
		t.Fatal("the Redactor of two secrets given for one secret holding both")
	}
	if got := joined.Text("token-two-1b9d"); got != "token-two-1b9d" {
		t.Errorf("the Redactor of one secret redacted a part of it: %q", got)
	}
	if got := a.Text("token-two-1b9d"); got != "<secret>" {
		t.Errorf("Text = %q, want <secret>", got)
	}
}
