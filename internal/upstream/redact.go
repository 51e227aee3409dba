package upstream

import (
	"bytes"
	"strings"
)

// redacted stands in for a secret wherever upstream echoed one.
const redacted = "<secret>"

// Redact replaces every occurrence of the secrets in s. Provider clients
// use it on anything taken from an answer that may reach a log line.
func Redact(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}

// RedactAll applies Redact to every string of notes, in place.
func RedactAll(notes []string, secrets []string) {
	for i := range notes {
		notes[i] = Redact(notes[i], secrets)
	}
}

// RedactBytes is Redact for a raw answer, before it is decoded.
func RedactBytes(b []byte, secrets []string) []byte {
	for _, secret := range secrets {
		if secret != "" && bytes.Contains(b, []byte(secret)) {
			b = bytes.ReplaceAll(b, []byte(secret), []byte(redacted))
		}
	}
	return b
}
