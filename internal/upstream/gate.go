package upstream

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Back-off after authentication failures. Huawei's API gateway locks an AK
// for 5 minutes after more than 5 consecutive failed authentications, so a
// credential that fails is left alone for a minute, then two, four… up to
// ten, and only one request at a time tries it until one succeeds.
const (
	firstBackoff = time.Minute
	maxBackoff   = 10 * time.Minute
)

// Gate guards one credential against hammering the clouds with requests it
// cannot authenticate. Every request made with the credential goes through
// Do. While the credential is not known to work (at start, and after an
// authentication failure) only one request at a time may try it; after an
// authentication failure no request is sent until the back-off has passed.
// A success resets everything.
type Gate struct {
	now func() time.Time

	mu       sync.Mutex
	verified bool          // the last attempt authenticated
	trial    chan struct{} // closed when the request trying an unverified credential ends
	failures int           // consecutive authentication failures
	until    time.Time     // no request before this
	cause    error         // the authentication failure behind the back-off
}

// NewGate returns a Gate for a credential not yet known to work, measuring
// back-off on the clock now (nil: time.Now).
func NewGate(now func() time.Time) *Gate {
	if now == nil {
		now = time.Now
	}
	return &Gate{now: now}
}

// BackoffError is returned instead of calling upstream while a credential
// backs off after an authentication failure.
type BackoffError struct {
	Until time.Time
	Left  time.Duration
	Cause error
}

// Error says how long the credential rests and why.
func (e *BackoffError) Error() string {
	return fmt.Sprintf("credential backing off for %s after an authentication failure, to avoid locking the key: %v", e.Left.Round(time.Second), e.Cause)
}

// Unwrap returns the authentication failure.
func (e *BackoffError) Unwrap() error { return e.Cause }

// Do runs call unless the credential is backing off. isAuthFailure tells
// whether call's error means the credential was refused (as opposed to a
// network or server problem, which says nothing about the credential).
// A nil Gate just runs call.
func (g *Gate) Do(ctx context.Context, call func() error, isAuthFailure func(error) bool) error {
	if g == nil {
		return call()
	}
	trial, err := g.enter(ctx)
	if err != nil {
		return err
	}
	err = call()
	g.leave(trial, err, err != nil && isAuthFailure(err))
	return err
}

// enter waits until the caller may send a request; trial tells whether it
// is the one trying an unverified credential.
func (g *Gate) enter(ctx context.Context) (trial bool, err error) {
	for {
		g.mu.Lock()
		if now := g.now(); now.Before(g.until) {
			e := &BackoffError{Until: g.until, Left: g.until.Sub(now), Cause: g.cause}
			g.mu.Unlock()
			return false, e
		}
		if g.verified {
			g.mu.Unlock()
			return false, nil
		}
		if g.trial == nil {
			g.trial = make(chan struct{})
			g.mu.Unlock()
			return true, nil
		}
		wait := g.trial
		g.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (g *Gate) leave(trial bool, err error, authFailure bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case authFailure && g.now().Before(g.until):
		// A request sent before the back-off began; its failure is the
		// same news and must not lengthen the back-off.
	case authFailure:
		g.failures++
		g.verified = false
		g.cause = err
		backoff := firstBackoff << min(g.failures-1, 4)
		g.until = g.now().Add(min(backoff, maxBackoff))
	case err == nil:
		g.failures = 0
		g.verified = true
		g.cause = nil
	}
	if trial {
		close(g.trial)
		g.trial = nil
	}
}

// Backoff returns how long the credential still rests, 0 if it does not.
func (g *Gate) Backoff() time.Duration {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if left := g.until.Sub(g.now()); left > 0 {
		return left
	}
	return 0
}
