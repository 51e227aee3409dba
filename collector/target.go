package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	dto "github.com/prometheus/client_model/go"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// outcome is the result of one upstream poll of a target.
type outcome struct {
	samples samples
	err     error
	at      time.Time // when the poll ended
	// cached is set on the copy a scrape gets from the cache.
	cached bool
	// requests are the poll's upstream requests, and how says how the
	// scrape came by the outcome (for /probe?debug=true).
	requests []upstream.Event
	how      string
}

// target is the long-lived state of one configured target: its last
// outcome (for cache_ttl and the last-success time) and the poll in flight,
// which concurrent scrapes share.
type target struct {
	name     string
	service  string
	timeout  time.Duration
	cacheTTL time.Duration
	// sampleLimit bounds the quota samples of one answer; 0: no bound.
	sampleLimit int
	// logger has the target's name and service; every finished poll is
	// logged there once, whatever number of scrapes waited for it.
	logger      log.Logger
	logRequests bool // at debug level
	now         func() time.Time

	mu sync.Mutex
	// poll is the target's upstream call, built again at every reload.
	poll pollFunc
	// credential names the target's credential and gate is its back-off
	// state, reported as cloudquota_credential_backoff_seconds.
	credential  string
	gate        *upstream.Gate
	credInfo    credentialInfo
	lastOK      *outcome
	lastSuccess time.Time
	inflight    *sharedPoll
	lastScrape  *scrapeResult
	// After upstream throttled the target, no poll starts before
	// throttledUntil.
	throttledUntil time.Time
	throttleCause  error
	throttleStreak int
	// clockOffset is upstream's Date minus the local clock, from the last
	// answer that had one.
	clockOffset      time.Duration
	clockOffsetKnown bool
	// healthPairs are the label pairs of the health samples.
	healthPairs []*dto.LabelPair
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

// setPoll makes poll the target's upstream call from the next poll on.
func (t *target) setPoll(poll pollFunc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.poll = poll
}

// setCredential records the target's credential, its back-off gate and
// where its keys come from.
func (t *target) setCredential(name string, gate *upstream.Gate, info credentialInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.credential, t.gate, t.credInfo = name, gate, info
}

// backoffGate returns the target's credential name, gate (nil when the
// target has none) and source.
func (t *target) backoffGate() (string, *upstream.Gate, credentialInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.credential, t.gate, t.credInfo
}

// fetch returns the target's data for one scrape: a cached answer younger
// than cache_ttl, or the answer of a poll shared with concurrent scrapes.
// It returns when the data is there or ctx ends, whichever is first. A poll
// it starts holds the scrape's turn (release) until it ends or parks; one
// it joins is another's work, and the turn is given back at once.
func (t *target) fetch(ctx context.Context, release func()) outcome {
	t.mu.Lock()
	if t.cacheTTL > 0 && t.lastOK != nil && t.now().Sub(t.lastOK.at) < t.cacheTTL {
		cached := *t.lastOK
		cached.cached = true
		cached.how = fmt.Sprintf("served from the cache: the answer is %s old, cache_ttl is %s", t.now().Sub(cached.at).Round(time.Millisecond), t.cacheTTL)
		t.mu.Unlock()
		return cached
	}
	p := t.inflight
	how := "joined the poll already in flight for another scrape"
	if p == nil {
		if now := t.now(); now.Before(t.throttledUntil) {
			err := &ThrottledError{Left: t.throttledUntil.Sub(now), Cause: t.throttleCause}
			t.mu.Unlock()
			return outcome{err: err, at: now, how: "held back: upstream throttled the target, nothing sent"}
		}
		p = t.startPoll(release)
		how = "started a new poll"
	} else {
		release()
	}
	p.waiters++
	t.mu.Unlock()

	select {
	case <-p.done:
		out := p.out
		out.how = how
		return out
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
		return outcome{err: ctx.Err(), at: t.now(), how: how + "; the scrape ended before the answer came"}
	}
}

// startPoll must be called with t.mu held. release gives the scrape's turn
// back; the poll calls it when it ends or parks.
func (t *target) startPoll(release func()) *sharedPoll {
	// The poll outlives any single scrape's context (it is shared), so it
	// gets its own; it ends when its last waiter gives up, and each of its
	// upstream requests is bounded by the target's timeout.
	trace := &pollTrace{}
	if t.logRequests {
		trace.logger = t.logger
	}
	ctx := upstream.WithPark(upstream.WithTrace(upstream.WithTarget(upstream.WithRequestTimeout(context.Background(), t.timeout), t.name), trace.record), release)
	ctx, cancel := context.WithCancel(ctx)
	p := &sharedPoll{done: make(chan struct{}), cancel: cancel}
	t.inflight = p
	poll := t.poll
	go func() {
		defer cancel()
		data, err := poll(ctx)
		release()
		var built samples
		if err == nil {
			built, err = buildSamples(t.name, t.sampleLimit, data)
		}
		offset, offsetKnown := trace.clockOffset()
		out := outcome{samples: built, err: explainSkew(err, offset, offsetKnown), at: t.now(), requests: trace.snapshot()}
		t.mu.Lock()
		if offsetKnown {
			t.clockOffset, t.clockOffsetKnown = offset, true
		}
		p.out = out
		abandoned := p.abandoned
		if t.inflight == p {
			t.inflight = nil
		}
		if out.err == nil {
			// Only a target with a cache keeps its answer: without one it
			// would never be served again, and a thousand targets' samples
			// kept between scrapes are heap that every GC cycle scans.
			t.lastOK = nil
			if t.cacheTTL > 0 {
				t.lastOK = &out
			}
			t.lastSuccess = out.at
			t.throttleStreak = 0
		} else if pause, ok := throttlePause(out.err, t.throttleStreak); ok {
			t.throttleStreak++
			t.throttledUntil, t.throttleCause = out.at.Add(pause), out.err
		}
		t.mu.Unlock()
		// Logged before the waiters see the outcome, so that a scrape
		// that reports a target down has already logged why.
		logOutcome(t.logger, out, abandoned)
		close(p.done)
	}()
	return p
}

// healthState is what a target's health samples say besides up and the
// collect duration, with their label pairs.
type healthState struct {
	// lastSuccess is when upstream last answered well, zero if never.
	lastSuccess time.Time
	// clockOffset is upstream's clock minus ours, if any answer said.
	clockOffset      time.Duration
	clockOffsetKnown bool
	target, service  string
	pairs            []*dto.LabelPair // of upDesc: target and service
}

// health returns the target's health state.
func (t *target) health() healthState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.healthPairs == nil {
		// A target's name and service never change: its health samples
		// share these pairs from scrape to scrape.
		t.healthPairs = upDesc.labelPairs([]string{t.name, t.service}, nil)
	}
	return healthState{lastSuccess: t.lastSuccess, clockOffset: t.clockOffset, clockOffsetKnown: t.clockOffsetKnown,
		target: t.name, service: t.service, pairs: t.healthPairs}
}

// sample builds a health sample of f, whose labels are target and
// service, in p.
func (h healthState) sample(f *family, p *metricParts, value float64) sample {
	pairs := h.pairs
	if f.labelKey != upDesc.labelKey {
		pairs = f.labelPairs([]string{h.target, h.service}, nil)
	}
	return sample{family: f, metric: p.build(value, pairs)}
}

// logOutcome logs a finished poll once, however many scrapes shared it.
func logOutcome(logger log.Logger, o outcome, abandoned bool) {
	if o.err == nil {
		for _, s := range o.samples.skipped {
			level.Warn(logger).Log("msg", "Skipped an unusable upstream value", "value", s)
		}
		return
	}
	if abandoned {
		level.Warn(logger).Log("msg", "Target poll abandoned: every scrape waiting for it reached its deadline", "err", o.err)
		return
	}
	keyvals := []any{"msg", "Target poll failed", "err", o.err}
	var apiErr *upstream.APIError
	var transportErr *upstream.TransportError
	var decodeErr *upstream.DecodeError
	switch {
	case errors.As(o.err, &apiErr):
		keyvals = append(keyvals, "status", apiErr.StatusCode, "code", apiErr.Code, "request_id", apiErr.RequestID)
	case errors.As(o.err, &transportErr):
		if transportErr.StatusCode != 0 {
			// The status line came before the body broke off.
			keyvals = append(keyvals, "status", transportErr.StatusCode)
		}
		keyvals = append(keyvals, "request_id", transportErr.RequestID)
	case errors.As(o.err, &decodeErr):
		keyvals = append(keyvals, "request_id", decodeErr.RequestID)
	}
	level.Warn(logger).Log(keyvals...)
}
