package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// The ECS/CCE metadata service as huaweicloud-sdk-go-v3 uses it
// (core/auth/internal/metadata_accessor.go).
const (
	// MetadataTokenPath answers a PUT with a session token.
	MetadataTokenPath = "/meta-data/latest/api/token"
	// MetadataSecurityKeyPath answers a GET with the server's temporary
	// keys.
	MetadataSecurityKeyPath = "/openstack/latest/securitykey"
	// MetadataTokenHeader carries the session token.
	MetadataTokenHeader = "X-Metadata-Token"
	// MetadataTokenTTLHeader asks for the session token's lifetime.
	MetadataTokenTTLHeader = "X-Metadata-Token-Ttl-Seconds"
	// MetadataTokenTTL is the lifetime the SDK asks for, in seconds.
	MetadataTokenTTL = 21600
	// MetadataService labels metadata requests in errors and in
	// cloudquota_api_requests_total; its operations are "token" and
	// "securitykey".
	MetadataService = "metadata"
	// MetadataTimeout bounds each metadata request, as the SDK's HTTP
	// client does.
	MetadataTimeout = 3 * time.Second
	// MetadataRefreshBefore is how long before their expiry keys are
	// fetched anew, as the SDK does (defaultExpirationThresholdSeconds).
	MetadataRefreshBefore = 40 * time.Minute
)

// metadataMinRefetch bounds how often keys are fetched when the service
// hands out keys with less than MetadataRefreshBefore left.
const metadataMinRefetch = 10 * time.Second

// agencyMissing is the text of the metadata service's refusal when the
// server has no agency, which the SDK looks for.
const agencyMissing = "Cloud Service Agency"

// MetadataSource fetches the temporary keys of the server's agency from
// the ECS/CCE metadata service: on first use, again when less than
// MetadataRefreshBefore is left, and after the gateway refuses them
// (Refresh). Concurrent callers share one fetch. It is safe for concurrent
// use; share one per metadata endpoint, since every fetch is a request.
type MetadataSource struct {
	http     *upstream.Client
	endpoint url.URL
	now      func() time.Time

	mu        sync.Mutex
	keys      Credentials
	expires   time.Time
	refreshAt time.Time // keys are used before this, fetched anew after
	// previous are the keys before the last fetch, which requests in
	// flight may still carry, so Secrets keeps them.
	previous Credentials
	fetch    *metadataFetch
}

var _ Refresher = (*MetadataSource)(nil)

// metadataFetch is one fetch that any number of callers wait for; it is
// cancelled when the last of them gives up.
type metadataFetch struct {
	done    chan struct{}
	keys    Credentials
	err     error
	waiters int
	cancel  context.CancelFunc
}

// NewMetadataSource returns a source that asks the metadata service at
// endpoint (e.g. http://169.254.169.254) through client, which counts the
// requests as service MetadataService. now is the clock expiry is judged
// by (nil: time.Now).
func NewMetadataSource(client *upstream.Client, endpoint *url.URL, now func() time.Time) *MetadataSource {
	if now == nil {
		now = time.Now
	}
	return &MetadataSource{http: client, endpoint: *endpoint, now: now}
}

// Credentials returns the current keys, fetching them first when there
// are none yet or they are due for refresh. A failed fetch is the error.
func (m *MetadataSource) Credentials(ctx context.Context) (Credentials, error) {
	return m.get(ctx, func(now time.Time) bool { return now.Before(m.refreshAt) })
}

// Refresh fetches new keys unless another caller already replaced stale
// with keys that have not expired.
func (m *MetadataSource) Refresh(ctx context.Context, stale Credentials) (Credentials, error) {
	return m.get(ctx, func(now time.Time) bool { return m.keys != stale && now.Before(m.expires) })
}

// get returns the current keys when usable (called with m.mu held) says
// so, else the result of a fetch, joining the one in flight if any.
func (m *MetadataSource) get(ctx context.Context, usable func(now time.Time) bool) (Credentials, error) {
	m.mu.Lock()
	f := m.fetch
	if f == nil {
		if m.keys.AccessKey != "" && usable(m.now()) {
			keys := m.keys
			m.mu.Unlock()
			return keys, nil
		}
		f = m.startFetch(ctx)
	}
	f.waiters++
	m.mu.Unlock()

	defer upstream.Park(ctx)()
	select {
	case <-f.done:
		return f.keys, f.err
	case <-ctx.Done():
		m.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody waits for these keys any more; the next caller
			// starts afresh rather than join a fetch being cancelled.
			f.cancel()
			if m.fetch == f {
				m.fetch = nil
			}
		}
		m.mu.Unlock()
		return Credentials{}, fmt.Errorf("waiting for keys from the metadata service: %w", ctx.Err())
	}
}

// startFetch must be called with m.mu held. The fetch outlives the caller
// that started it, since others may wait for it, so it runs on a context
// of its own that keeps ctx's values (the target's request timeout).
func (m *MetadataSource) startFetch(ctx context.Context) *metadataFetch {
	// Detached from the caller, who may stop waiting, and from the gate
	// call it may be under (a refresh after a 401): these requests go to
	// the metadata service, not with the key.
	fctx, cancel := context.WithCancel(upstream.WithoutAdmission(context.WithoutCancel(ctx)))
	f := &metadataFetch{done: make(chan struct{}), cancel: cancel}
	m.fetch = f
	go func() {
		defer cancel()
		keys, expires, err := m.fetchKeys(fctx)
		m.mu.Lock()
		if err == nil {
			m.previous, m.keys, m.expires = m.keys, keys, expires
			m.refreshAt = refreshTime(m.now(), expires)
		}
		f.keys, f.err = keys, err
		if m.fetch == f {
			m.fetch = nil
		}
		m.mu.Unlock()
		close(f.done)
	}()
	return f
}

// refreshTime is when keys fetched at fetched are fetched anew:
// MetadataRefreshBefore their expiry. Keys that have less than that left
// from the start would be fetched on every request, as the SDK does, which
// cannot make them last longer; they are fetched again halfway to their
// expiry instead, but not sooner than metadataMinRefetch, and the last
// ones are used until they expire.
func refreshTime(fetched, expires time.Time) time.Time {
	if at := expires.Add(-MetadataRefreshBefore); at.After(fetched) {
		return at
	}
	at := fetched.Add(max(expires.Sub(fetched)/2, metadataMinRefetch))
	if expires.Before(at) {
		return expires
	}
	return at
}

// Secrets returns the current and the previous keys' secrets.
func (m *MetadataSource) Secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return []string{m.keys.SecretKey, m.keys.SecurityToken, m.previous.SecretKey, m.previous.SecurityToken}
}

// Expiry is when the last keys fetched run out; zero before the first
// fetch. After a failed refresh it stays the old keys' expiry, which is
// then the time the credential stops working.
func (m *MetadataSource) Expiry() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expires
}

// String names the source without any key.
func (m *MetadataSource) String() string {
	return "metadata service " + m.endpoint.Redacted()
}

// fetchKeys does the SDK's handshake: a session token (none when the
// service does not offer them), then the keys.
func (m *MetadataSource) fetchKeys(ctx context.Context) (Credentials, time.Time, error) {
	token, err := m.sessionToken(ctx)
	if err != nil {
		return Credentials{}, time.Time{}, m.wrap(err)
	}
	header := http.Header{}
	if token != "" {
		header.Set(MetadataTokenHeader, token)
	}
	const operation = "securitykey"
	secrets := append(m.Secrets(), token)
	resp, err := m.do(ctx, operation, http.MethodGet, MetadataSecurityKeyPath, header, secrets)
	if err != nil {
		var apiErr *upstream.APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnauthorized && resp != nil && strings.Contains(string(resp.Body), agencyMissing) {
			err = fmt.Errorf("%w (the server has no agency: in IAM, authorise the ECS service (op_svc_ecs) for it)", err)
		}
		return Credentials{}, time.Time{}, m.wrap(err)
	}
	keys, expires, err := decodeSecurityKey(resp.Body, m.now())
	if err != nil {
		redactor := upstream.NewRedactor(append(secrets, keys.SecretKey, keys.SecurityToken)...)
		return Credentials{}, time.Time{}, m.wrap(&upstream.DecodeError{Service: MetadataService, Operation: operation, RequestID: resp.RequestID, Err: redactor.Error(err)})
	}
	return keys, expires, nil
}

// sessionToken asks for a session token; "" when the service has no token
// route (404 or 405), as older ones do not.
func (m *MetadataSource) sessionToken(ctx context.Context) (string, error) {
	const operation = "token"
	header := http.Header{}
	header.Set(MetadataTokenTTLHeader, strconv.Itoa(MetadataTokenTTL))
	resp, err := m.do(ctx, operation, http.MethodPut, MetadataTokenPath, header, nil)
	var apiErr *upstream.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusMethodNotAllowed) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(resp.Body))
	if !headerSafe(token) {
		// Not quoted: it is a secret, however broken.
		return "", &upstream.DecodeError{Service: MetadataService, Operation: operation, RequestID: resp.RequestID,
			Err: fmt.Errorf("the session token (%d bytes) is not printable ASCII, so it cannot be sent in %s", len(token), MetadataTokenHeader)}
	}
	return token, nil
}

// do sends one metadata request, bounded by MetadataTimeout and ctx.
func (m *MetadataSource) do(ctx context.Context, operation, method, path string, header http.Header, secrets []string) (*upstream.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, MetadataTimeout)
	defer cancel()
	u := m.endpoint.JoinPath(path)
	u.RawQuery, u.Fragment = "", ""
	return m.http.Do(ctx, upstream.Request{
		Service:   MetadataService,
		Operation: operation,
		Method:    method,
		URL:       u,
		Header:    header,
		Secrets:   secrets,
	})
}

// wrap says where the keys were to come from.
func (m *MetadataSource) wrap(err error) error {
	return fmt.Errorf("keys from the %s: %w", m, err)
}

// decodeSecurityKey reads {"credential":{"access","secret","securitytoken",
// "expires_at"}}. now is when the answer came: keys that have expired by
// then are an error, as are missing keys or expiry. The keys decoded so
// far are returned with an error too, so that the caller can redact them
// from it; the error itself never quotes a key.
func decodeSecurityKey(body []byte, now time.Time) (Credentials, time.Time, error) {
	var keys Credentials
	fields, err := decodeObject(body)
	if err != nil {
		return keys, time.Time{}, fmt.Errorf("body: %w", err)
	}
	raw, ok := fields["credential"]
	if !ok {
		return keys, time.Time{}, errors.New(`body has no "credential" field`)
	}
	cred, err := decodeObject(raw)
	if err != nil {
		return keys, time.Time{}, fmt.Errorf(`"credential": %w`, err)
	}
	var problems []string
	for _, f := range []struct {
		name string
		to   *string
		sent bool // in a header, so it must be header-safe
	}{{"access", &keys.AccessKey, true}, {"secret", &keys.SecretKey, false}, {"securitytoken", &keys.SecurityToken, true}} {
		v, err := stringField(cred, f.name)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("credential.%s %v", f.name, err))
		case v == "":
			problems = append(problems, "credential has no "+f.name)
		case f.sent && !headerSafe(v):
			problems = append(problems, fmt.Sprintf("credential.%s (%d bytes) is not printable ASCII", f.name, len(v)))
		}
		*f.to = v
	}
	expires, problem := expiresAt(cred, now)
	if problem != "" {
		problems = append(problems, problem)
	}
	if len(problems) > 0 {
		return keys, time.Time{}, errors.New(strings.Join(problems, "; "))
	}
	return keys, expires, nil
}

// expiresAt reads credential.expires_at, or says what is wrong with it.
func expiresAt(cred map[string]json.RawMessage, now time.Time) (time.Time, string) {
	s, err := stringField(cred, "expires_at")
	switch {
	case err != nil:
		return time.Time{}, "credential.expires_at " + err.Error()
	case s == "":
		return time.Time{}, "credential has no expires_at, so when the keys run out is unknown"
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Sprintf("credential.expires_at %s is not an RFC 3339 time", describeTime(s))
	}
	if !t.After(now) {
		return time.Time{}, fmt.Sprintf("credential.expires_at %s is already past (local clock: %s): the keys are expired, or a clock is wrong",
			t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return t, ""
}

// describeTime quotes s when it reads like a time, so that the operator
// sees what came; anything else could be any text, a key included, so
// only its length is told.
func describeTime(s string) string {
	if len(s) > 40 || strings.Trim(s, "0123456789-+:.TZtz ") != "" {
		return fmt.Sprintf("(%d bytes, not a time)", len(s))
	}
	return strconv.Quote(s)
}

// headerSafe tells whether s can be sent as a header value and as the
// Access of an Authorization header: printable ASCII without spaces or
// commas.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return false
		}
	}
	return true
}
