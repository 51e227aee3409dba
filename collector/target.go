package collector

import (
	"context"
	"net/url"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
	"sync"
	"time"
)

// pollFunc asks upstream for one target's data.
type pollFunc func(ctx context.Context) (*targetData, error)

// outcome is the result of one upstream poll of a target.
type outcome struct {
	data *targetData
	err  error
	at   time.Time // when the poll ended
}

// target is the long-lived state of one configured target: its last
// outcome (for cache_ttl and the last-success time) and the poll in flight,
// which concurrent scrapes share.
type target struct {
	name     string
	service  string
	endpoint *url.URL
	labels   targetLabels
	// credential names the target's credential and gate is its back-off
	// state, reported as cloudquota_credential_backoff_seconds.
	credential string
	gate       *upstream.Gate
	timeout    time.Duration
	cacheTTL   time.Duration
	poll       pollFunc
	// onOutcome is told about every finished poll, once, whatever number of
	// scrapes waited for it; the exporter logs failures there.
	onOutcome func(t *target, o outcome, abandoned bool)
	now       func() time.Time

	mu          sync.Mutex
	lastOK      *outcome
	lastSuccess time.Time
	inflight    *sharedPoll
	lastScrape  *scrapeResult
	// After upstream throttled the target, no poll starts before
	// throttledUntil.
	throttledUntil time.Time
	throttleCause  error
	throttleStreak int
}

// sharedPoll is one upstream poll that any number of scrapes wait for. It
// is cancelled when the last of them gives up, so an abandoned poll does not
// keep calling upstream.
type sharedPoll struct {
	done      chan struct{}
	out       outcome
	waiters   int
	abandoned bool // every waiter left before the answer came
	cancel    context.CancelFunc
}

// fetch returns the target's data for one scrape: a cached answer younger
// than cache_ttl, or the answer of a poll shared with concurrent scrapes.
// It returns when the data is there or ctx ends, whichever is first.
func (t *target) fetch(ctx context.Context) outcome {
	t.mu.Lock()
	if t.cacheTTL > 0 && t.lastOK != nil && t.now().Sub(t.lastOK.at) < t.cacheTTL {
		cached := *t.lastOK
		t.mu.Unlock()
		return cached
	}
	p := t.inflight
	if p == nil {
		if now := t.now(); now.Before(t.throttledUntil) {
			err := &ThrottledError{Left: t.throttledUntil.Sub(now), Cause: t.throttleCause}
			t.mu.Unlock()
			return outcome{err: err, at: now}
		}
		p = t.startPoll()
	}
	p.waiters++
	t.mu.Unlock()

	select {
	case <-p.done:
		return p.out
	case <-ctx.Done():
		t.mu.Lock()
		p.waiters--
		if p.waiters == 0 {
			// Nobody wants this answer any more: stop calling upstream, and
			// let the next scrape start afresh instead of joining a poll
			// that is being cancelled.
			p.abandoned = true
			p.cancel()
			if t.inflight == p {
				t.inflight = nil
			}
		}
		t.mu.Unlock()
		return outcome{err: ctx.Err(), at: t.now()}
	}
}

// startPoll must be called with t.mu held.
func (t *target) startPoll() *sharedPoll {
	// The poll outlives any single scrape's context (it is shared), so it
	// gets its own; it ends when its last waiter gives up, and each of its
	// upstream requests is bounded by the target's timeout.
	ctx, cancel := context.WithCancel(upstream.WithRequestTimeout(context.Background(), t.timeout))
	p := &sharedPoll{done: make(chan struct{}), cancel: cancel}
	t.inflight = p
	go func() {
		defer cancel()
		data, err := t.poll(ctx)
		out := outcome{data: data, err: err, at: t.now()}
		t.mu.Lock()
		p.out = out
		abandoned := p.abandoned
		if t.inflight == p {
			t.inflight = nil
		}
		if err == nil {
			t.lastOK = &out
			t.lastSuccess = out.at
			t.throttleStreak = 0
		} else if pause, ok := throttlePause(err, t.throttleStreak); ok {
			t.throttleStreak++
			t.throttledUntil, t.throttleCause = out.at.Add(pause), err
		}
		t.mu.Unlock()
		// Logged before the waiters see the outcome, so that a scrape
		// that reports a target down has already logged why.
		if t.onOutcome != nil {
			t.onOutcome(t, out, abandoned)
		}
		close(p.done)
	}()
	return p
}

// lastSuccessTime is when upstream last answered well, zero if never.
func (t *target) lastSuccessTime() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastSuccess
}
