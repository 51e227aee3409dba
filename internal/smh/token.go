package smh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

const (
	// defaultTokenTimeout bounds a token request whose first caller had no
	// deadline, so a hung upstream cannot block every later caller forever.
	defaultTokenTimeout = 30 * time.Second
	// maxRefreshMargin and minRefreshMargin bound how long before its
	// expiry a token is replaced, so that a request started just before
	// the expiry does not arrive with a dead token.
	maxRefreshMargin = 5 * time.Minute
	minRefreshMargin = 5 * time.Second
	// maxTokenLifetime keeps an absurd expiresIn from overflowing
	// time.Duration; it is the longest period any SMH SDK documents.
	maxTokenLifetime = 10 * 365 * 24 * time.Hour
	// defaultTokenPeriod is the lifetime SMH gives a token when no period
	// is asked for.
	defaultTokenPeriod = 24 * time.Hour
)

type cachedToken struct {
	value     string
	refreshAt time.Time
	// notes are about the answer that brought the token, for Usage to
	// report.
	notes []string
}

// tokenFetch is one token request that any number of callers wait for.
type tokenFetch struct {
	done  chan struct{}
	token *cachedToken // set before done is closed, when err is nil
	err   error
}

// accessToken returns a valid access token, requesting one if none is
// cached or the cached one is about to expire. Concurrent callers share a
// single request.
//
// SMH extends a token's life on every use, so the expiry kept here is a
// lower bound; replacing the token early costs one request, whereas trusting
// the renewal would fail a scrape whenever polls are further apart than the
// token period.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	if t := c.token; t != nil && c.now().Before(t.refreshAt) {
		c.mu.Unlock()
		return t.value, nil
	}
	f := c.fetching
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.fetching = f
		go c.runFetch(ctx, f)
	}
	c.mu.Unlock()

	defer upstream.Park(ctx)()
	select {
	case <-f.done:
		if f.err != nil {
			return "", f.err
		}
		// Even a token already inside its refresh margin is good for the
		// request this caller is about to make.
		return f.token.value, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// runFetch performs f and publishes its result. The request must not die
// with the context of the caller that started it, since other callers may
// be waiting for it too, so it runs detached from cancellation but bounded
// by that caller's deadline or defaultTokenTimeout.
func (c *Client) runFetch(ctx context.Context, f *tokenFetch) {
	timeout := defaultTokenTimeout
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < timeout {
			timeout = left
		}
	}
	fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()

	var token *cachedToken
	err := c.gate.Do(fetchCtx, func(ctx context.Context) error {
		var err error
		token, err = c.fetchToken(ctx)
		return err
	}, isAuthFailure)

	c.mu.Lock()
	if err == nil {
		c.token = token
		c.notes = append(c.notes, token.notes...)
	}
	c.fetching = nil
	f.token, f.err = token, err
	c.mu.Unlock()
	close(f.done)
}

// dropToken forgets the cached token if it is still rejected, so that the
// next caller fetches a new one. A token that another caller has already
// replaced is left alone.
func (c *Client) dropToken(rejected string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != nil && c.token.value == rejected {
		c.token = nil
	}
}

// isAuthFailure tells whether SMH refused the library id or secret.
func isAuthFailure(err error) bool {
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Code {
	case "WrongLibraryIdOrSecret", "EmptyLibraryIdOrSecret", "EmptyLibrarySecret", "EmptyLibraryId":
		return true
	}
	return false
}

// takeNotes returns the notes about token answers not yet reported, so
// that each is reported once.
func (c *Client) takeNotes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	notes := c.notes
	c.notes = nil
	return notes
}

type tokenAnswer struct {
	AccessToken string          `json:"accessToken"`
	ExpiresIn   json.RawMessage `json:"expiresIn"`
}

// requestedPeriod is the token lifetime asked for, in whole seconds as
// sent, or 0 when none is.
func (c *Client) requestedPeriod() int64 {
	if p := c.creds.TokenPeriod; p > 0 {
		return max(int64(p/time.Second), 1)
	}
	return 0
}

// fetchToken asks SMH for a new access token.
func (c *Client) fetchToken(ctx context.Context) (*cachedToken, error) {
	q := url.Values{}
	q.Set("library_id", c.creds.LibraryID)
	q.Set("library_secret", c.creds.LibrarySecret)
	if c.creds.Grant != "" {
		q.Set("grant", c.creds.Grant)
	}
	if secs := c.requestedPeriod(); secs > 0 {
		q.Set("period", strconv.FormatInt(secs, 10))
	}
	// The lifetime counts from before the request was sent, so the cached
	// expiry is never later than the server's.
	issued := c.now()
	resp, err := c.http.Do(ctx, upstream.Request{
		Service:   service,
		Operation: "token",
		Method:    http.MethodGet,
		URL:       c.endpoint(q, "api", "v1", "token"),
		Secrets:   c.secrets(""),
	})
	if err != nil {
		return nil, err
	}

	var answer tokenAnswer
	// The json error text names types and offsets only, never the values,
	// so it cannot carry the token.
	if err := json.Unmarshal(resp.Body, &answer); err != nil {
		return nil, tokenDecodeError(resp, err)
	}
	if answer.AccessToken == "" {
		return nil, tokenDecodeError(resp, errors.New("no accessToken"))
	}
	// From here on, text about the answer could quote the new token.
	redactor := upstream.NewRedactor(c.creds.LibrarySecret, answer.AccessToken)
	var notes []string
	var secs uint64
	switch v, err := upstream.ParseInteger(answer.ExpiresIn); {
	case errors.Is(err, upstream.ErrNegative):
		n := string(answer.ExpiresIn) // a JSON number: digits, sign, point, exponent
		if len(n) > 40 {
			n = fmt.Sprintf("a number of %d bytes", len(n))
		}
		return nil, tokenDecodeError(resp, fmt.Errorf("expiresIn is %s, want a positive number of seconds", n))
	case err != nil:
		return nil, tokenDecodeError(resp, redactor.Error(fmt.Errorf("expiresIn: %w", err)))
	case !v.Valid:
		// Not sent (or null): the token lives for the period asked for,
		// which SMH applies on every use.
		period := time.Duration(c.requestedPeriod()) * time.Second
		if period == 0 {
			period = defaultTokenPeriod
		}
		secs = uint64(period / time.Second)
		notes = append(notes, fmt.Sprintf("token answer has no expiresIn; taken as the requested period of %v", period))
	case v.Value == 0:
		return nil, tokenDecodeError(resp, errors.New("expiresIn is 0, want a positive number of seconds"))
	default:
		secs = v.Value
	}
	lifetime := maxTokenLifetime
	if secs < uint64(maxTokenLifetime/time.Second) {
		lifetime = time.Duration(secs) * time.Second
	}
	return &cachedToken{
		value:     answer.AccessToken,
		refreshAt: issued.Add(lifetime - refreshMargin(lifetime)),
		notes:     notes,
	}, nil
}

func tokenDecodeError(resp *upstream.Response, err error) error {
	return &upstream.DecodeError{Service: service, Operation: "token", RequestID: resp.RequestID, Err: err}
}

// refreshMargin is how long before its expiry a token of the given
// lifetime is replaced: a tenth of the lifetime within
// [minRefreshMargin, maxRefreshMargin], but never more than half of it, so
// that even a very short-lived token is reused for a while.
func refreshMargin(lifetime time.Duration) time.Duration {
	m := lifetime / 10
	m = max(m, minRefreshMargin)
	m = min(m, maxRefreshMargin, lifetime/2)
	return m
}
