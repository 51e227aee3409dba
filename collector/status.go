package collector

import (
	"context"
	"errors"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// TargetStatus is what the last scrape of a target found, for the status
// page: an operator sees why a target is down without reading logs.
type TargetStatus struct {
	Name    string
	Service string
	// Scraped is false until a scrape has covered the target.
	Scraped  bool
	Up       bool
	At       time.Time // when that scrape got its answer
	Duration time.Duration
	// Error is the reason the target was down, as logged: upstream code,
	// message and request id, never a secret.
	Error       string
	LastSuccess time.Time
	// Cached is true when the last scrape was served a cached answer
	// (cache_ttl) instead of asking upstream.
	Cached bool
	// HeldBack is true when the last scrape sent nothing upstream because
	// the target rests after throttling, or its credential backs off.
	HeldBack bool
	// CredentialSource is where the keys of the target's credential come
	// from: static, environment, profile or metadata (config.Source*);
	// "" for credentials without a choice of source (SMH).
	CredentialSource string
	// CredentialExpiry is when the credential's keys run out, zero when
	// unknown (only metadata keys have a known expiry).
	CredentialExpiry time.Time
}

// scrapeResult is the last scrape's view of a target.
type scrapeResult struct {
	at       time.Time
	up       bool
	cached   bool
	heldBack bool
	duration time.Duration
	err      string
}

// recordScrape keeps the outcome a scrape reported for the status page.
func (t *target) recordScrape(out outcome, at time.Time, elapsed time.Duration) {
	r := scrapeResult{at: at, up: out.err == nil, cached: out.cached, duration: elapsed}
	if out.err != nil {
		r.err = describeError(out.err)
		var throttled *ThrottledError
		var backoff *upstream.BackoffError
		r.heldBack = errors.As(out.err, &throttled) || errors.As(out.err, &backoff)
	}
	t.mu.Lock()
	t.lastScrape = &r
	t.mu.Unlock()
}

// describeError words an error for an operator.
func describeError(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer before the deadline (scrape timeout or target timeout): " + err.Error()
	case errors.Is(err, context.Canceled):
		return "scrape cancelled before upstream answered"
	}
	return err.Error()
}

func (t *target) status() TargetStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := TargetStatus{Name: t.name, Service: t.service, LastSuccess: t.lastSuccess}
	if r := t.lastScrape; r != nil {
		s.Scraped, s.Up, s.At, s.Duration, s.Error = true, r.up, r.at, r.duration, r.err
		s.Cached, s.HeldBack = r.cached, r.heldBack
	}
	return s
}

// Status returns the state of every configured target, in configuration
// order.
func (e *Exporter) Status() []TargetStatus {
	e.mu.RLock()
	targets := append([]*target(nil), e.targets...)
	e.mu.RUnlock()
	out := make([]TargetStatus, len(targets))
	for i, t := range targets {
		out[i] = t.status()
		_, _, info := t.backoffGate()
		out[i].CredentialSource, out[i].CredentialExpiry = info.kind, info.expiry()
	}
	return out
}
