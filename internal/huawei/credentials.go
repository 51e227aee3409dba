package huawei

import (
	"context"
	"time"
)

// CredentialSource gives a Client the keys to sign each request with, so
// that keys which change while the exporter runs (temporary keys from the
// metadata service) reach every request. Implementations are safe for
// concurrent use.
type CredentialSource interface {
	// Credentials returns the keys for the next request; an error is the
	// request's error.
	Credentials(ctx context.Context) (Credentials, error)
	// Secrets lists every secret key and security token that a request in
	// flight may carry, so that an answer echoing one is redacted.
	Secrets() []string
	// Expiry is when the current keys run out; zero when that is unknown
	// or they never do.
	Expiry() time.Time
}

// Refresher is a CredentialSource that can fetch new keys when the gateway
// refuses the ones it gave (a 401: revoked or expired early).
type Refresher interface {
	CredentialSource
	// Refresh returns keys other than stale when it can get any: the
	// keys another caller fetched since, or new ones. Keys equal to stale
	// mean there is nothing newer to try.
	Refresh(ctx context.Context, stale Credentials) (Credentials, error)
}

// StaticCredentials are keys that never change: from the configuration,
// the environment or a profile, read when the configuration is loaded.
type StaticCredentials Credentials

var _ CredentialSource = StaticCredentials{}

// Credentials returns the keys.
func (s StaticCredentials) Credentials(context.Context) (Credentials, error) {
	return Credentials(s), nil
}

// Secrets returns the secret key and the security token.
func (s StaticCredentials) Secrets() []string { return []string{s.SecretKey, s.SecurityToken} }

// Expiry is zero: a configured security token's expiry is not known.
func (s StaticCredentials) Expiry() time.Time { return time.Time{} }

// String hides the secrets, as Credentials.String does.
func (s StaticCredentials) String() string { return Credentials(s).String() }

// GoString is String, so that %#v leaks nothing either.
func (s StaticCredentials) GoString() string { return s.String() }
