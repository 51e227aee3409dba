package upstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Back-off after authentication failures. The unit the clouds lock is the
// key: Huawei's API gateway locks an AK for 5 minutes after more than 5
// consecutive failed authentications, counted across everything that uses
// it. So the key never sees more than keyFailureBudget consecutive failures
// within lockWindow, and a target whose own request was refused rests for a
// minute, then two, four… up to ten, on its own.
const (
	keyFailureBudget = 5
	lockWindow       = 5 * time.Minute
	firstBackoff     = time.Minute
	maxBackoff       = 10 * time.Minute
)

// Gate guards one key against requests it cannot authenticate. Every
// request made with the key goes through Do, under the name of the target
// it is for (WithTarget). A success anywhere resets the key's count of
// failures in a row. A target whose request was refused backs off by
// itself while the key keeps working for its other targets. Only when the
// key has used up its failure budget are all its targets held back. While
// the key is not known to work (at start, and after a failure) at most as
// many requests are in flight as failures are still allowed, so the budget
// holds however many targets try at once, and one request that hangs
// holds no one else back.
type Gate struct {
	now func() time.Time

	mu       sync.Mutex
	verified bool        // the key's last authentication succeeded
	failures []time.Time // the key's failures in a row, oldest first
	lastBy   string      // the target whose request failed last
	cause    error       // that failure
	// epoch counts the key's failures, so that a request admitted before
	// one of them can tell the key stopped working meanwhile.
	epoch int
	// pending is the number of requests admitted against the failure
	// budget (the key not verified) and not sent yet; sent is the number
	// of requests on the wire, whenever they were admitted: all of them
	// may come back refused.
	pending, sent int
	changed       chan struct{}
	targets       map[string]*targetBackoff
}

// ticket is one admitted request.
type ticket struct {
	target  string
	epoch   int  // the key's epoch at admission
	counted bool // admitted against the failure budget
	sent    bool // went on the wire
}

// targetBackoff is one target's own rest after its request was refused.
type targetBackoff struct {
	failures int
	until    time.Time
	cause    error
}

// NewGate returns a Gate for a key not yet known to work, measuring
// back-off on the clock now (nil: time.Now).
func NewGate(now func() time.Time) *Gate {
	if now == nil {
		now = time.Now
	}
	return &Gate{now: now, changed: make(chan struct{}), targets: map[string]*targetBackoff{}}
}

type targetKey struct{}

// WithTarget names the target that requests made under ctx are for, so
// that a refusal backs off that target and says so to the others.
func WithTarget(ctx context.Context, target string) context.Context {
	return context.WithValue(ctx, targetKey{}, target)
}

func targetOf(ctx context.Context) string {
	name, _ := ctx.Value(targetKey{}).(string)
	return name
}

// BackoffError is returned instead of calling upstream while a target, or
// the whole key, backs off after authentication failures.
type BackoffError struct {
	Until time.Time
	Left  time.Duration
	// Key is true when the whole key is held back; else the target's own
	// request was refused.
	Key bool
	// Failures is how many authentications failed in a row: the key's when
	// Key is set, else the target's.
	Failures int
	// By is the target whose request was refused last.
	By    string
	Cause error
}

// Error says how long the target rests, why, and whose refusal it was.
func (e *BackoffError) Error() string {
	next := fmt.Sprintf("next try in %s (at %s)", e.Left.Round(time.Second), e.Until.UTC().Format(time.TimeOnly+" MST"))
	if e.Key {
		return fmt.Sprintf("credential backing off to avoid locking the key: %d authentications in a row failed within %s, the last for target %q; %s: %v",
			e.Failures, lockWindow, e.By, next, e.Cause)
	}
	return fmt.Sprintf("target backing off after its request was refused (%d in a row); the key still works for its other targets; %s: %v", e.Failures, next, e.Cause)
}

// Unwrap returns the authentication failure.
func (e *BackoffError) Unwrap() error { return e.Cause }

// Do runs call unless the target of ctx, or the key, is backing off.
// isAuthFailure tells whether call's error means the key was refused (as
// opposed to a network or server problem, which says nothing about the
// key). call gets a context under which upstream.Client.Do asks the gate
// again once it holds a request slot, so that requests queued while the key
// stopped working are not sent blindly. A nil Gate just runs call.
func (g *Gate) Do(ctx context.Context, call func(ctx context.Context) error, isAuthFailure func(error) bool) error {
	if g == nil {
		return call(ctx)
	}
	t, err := g.enter(ctx, targetOf(ctx))
	if err != nil {
		return err
	}
	err = call(context.WithValue(ctx, admissionKey{}, admission{g: g, t: t}))
	g.leave(t, err, err != nil && isAuthFailure(err))
	return err
}

type admissionKey struct{}

// admission is the gate's word on one request, asked again by Client.Do.
type admission struct {
	g *Gate
	t *ticket
}

// errBudgetFull is recheck's answer for a request that must wait, without
// its request slot, until the failure budget has room (awaitAdmission).
var errBudgetFull = errors.New("the key's failure budget is full")

// WithoutAdmission returns ctx without the gate call it is under, for
// requests made on the way that are not the call's own (fetching fresh
// keys from the metadata service): they must not be counted, or held
// back, as requests with the key.
func WithoutAdmission(ctx context.Context) context.Context {
	return context.WithValue(ctx, admissionKey{}, admission{})
}

// admit is called by Client.Do once it holds a request slot: the request
// may still be held back by the gate that admitted it, or have to give
// the slot back and wait (errBudgetFull, then awaitAdmission).
func admit(ctx context.Context) error {
	if a, ok := ctx.Value(admissionKey{}).(admission); ok && a.g != nil {
		return a.g.recheck(a.t)
	}
	return nil
}

// awaitAdmission waits, holding no request slot, until the request that
// admit found over the failure budget fits in it.
func awaitAdmission(ctx context.Context) error {
	if a, ok := ctx.Value(admissionKey{}).(admission); ok && a.g != nil {
		return a.g.admitWhenRoom(ctx, a.t)
	}
	return nil
}

// enter waits until the caller may send a request.
func (g *Gate) enter(ctx context.Context, target string) (*ticket, error) {
	t := &ticket{target: target}
	if err := g.admitWhenRoom(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// waitForChange waits, parked, until changed (the gate's at the time) is
// closed or ctx ends.
func waitForChange(ctx context.Context, changed <-chan struct{}) error {
	defer Park(ctx)()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// heldBack is the BackoffError for a request of target now, or nil.
// Called with g.mu held.
func (g *Gate) heldBack(target string, now time.Time) error {
	if tb := g.targets[target]; tb != nil && now.Before(tb.until) {
		return &BackoffError{Until: tb.until, Left: tb.until.Sub(now), Failures: tb.failures, By: target, Cause: tb.cause}
	}
	if recent := g.recentFailures(now); len(recent) >= keyFailureBudget {
		until := recent[0].Add(lockWindow)
		return &BackoffError{Until: until, Left: until.Sub(now), Key: true, Failures: len(g.failures), By: g.lastBy, Cause: g.cause}
	}
	return nil
}

// budgetLeft tells whether one more request may go out while the key is
// not verified: the failures within the window, the requests on the wire
// and those already admitted stay within the budget. Called with g.mu
// held.
func (g *Gate) budgetLeft(now time.Time) bool {
	return len(g.recentFailures(now))+g.sent+g.pending < keyFailureBudget
}

// recheck is asked once the request holds its request slot, just before
// it is sent. A request admitted while the key worked goes out unless the
// key failed since: then it goes out if the failure budget has room, is
// held back with its target or the key, or must wait for room
// (errBudgetFull). It never waits itself: the caller holds a slot.
func (g *Gate) recheck(t *ticket) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.sent {
		// Another request of the same call (the retry with fresh keys
		// after a 401): the call is on the wire already, and counted
		// once; it only must not go out to a key that is held back.
		return g.heldBack(t.target, g.now())
	}
	switch {
	case t.counted:
		g.pending--
	case t.epoch != g.epoch:
		now := g.now()
		if err := g.heldBack(t.target, now); err != nil {
			return err
		}
		if !g.budgetLeft(now) {
			return errBudgetFull
		}
	}
	t.sent = true
	g.sent++
	return nil
}

// admitWhenRoom waits until t may go out: at once while the key works, else
// when the failure budget has room, counted against it. It admits a new
// request (enter), and again one admitted while the key worked that found
// the budget full once it held a slot (errBudgetFull: requests of other
// targets were on the wire when the key failed); they end within their
// timeouts, and t goes out then rather than failing its scrape.
func (g *Gate) admitWhenRoom(ctx context.Context, t *ticket) error {
	for {
		g.mu.Lock()
		now := g.now()
		if err := g.heldBack(t.target, now); err != nil {
			g.mu.Unlock()
			return err
		}
		if g.verified || g.budgetLeft(now) {
			// Admitted now: its answer is news of the key as it is now.
			t.epoch, t.counted = g.epoch, !g.verified
			if t.counted {
				g.pending++
			}
			g.mu.Unlock()
			return nil
		}
		changed := g.changed
		g.mu.Unlock()
		if err := waitForChange(ctx, changed); err != nil {
			return err
		}
	}
}

// recentFailures are the key's failures in a row within the lock window.
// Called with g.mu held.
func (g *Gate) recentFailures(now time.Time) []time.Time {
	for i, f := range g.failures {
		if now.Sub(f) < lockWindow {
			return g.failures[i:]
		}
	}
	return nil
}

func (g *Gate) leave(t *ticket, err error, authFailure bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A call held back before it went on the wire was not refused: its
	// BackoffError unwraps to the key's last refusal, which is counted
	// already.
	var held *BackoffError
	authFailure = authFailure && (t.sent || !errors.As(err, &held))
	now := g.now()
	tb := g.targets[t.target]
	if tb == nil {
		tb = &targetBackoff{}
		g.targets[t.target] = tb
	}
	switch {
	case authFailure:
		// The cloud counts every failed authentication, also one sent
		// before a back-off began.
		g.failures = append(g.failures, now)
		g.epoch++
		g.verified, g.lastBy, g.cause = false, t.target, err
		if !now.Before(tb.until) {
			// A request sent before the target's back-off began brings
			// the same news and must not lengthen it.
			tb.failures++
			tb.until = now.Add(min(firstBackoff<<min(tb.failures-1, 4), maxBackoff))
			tb.cause = err
		}
	case err == nil && t.epoch == g.epoch:
		// A success resets the count only if no failure came after the
		// request was admitted: a late answer to an old request does
		// not prove the key still works.
		g.failures, g.verified, g.cause = nil, true, nil
		*tb = targetBackoff{}
	case err == nil:
		*tb = targetBackoff{}
	}
	switch {
	case t.sent:
		g.sent--
	case t.counted:
		g.pending-- // admitted, never sent (no upstream request made)
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

// Backoff returns how long no request with the key will be sent: while the
// key is held back, or while every target that has used it rests after
// its own refusal; 0 otherwise.
func (g *Gate) Backoff() time.Duration {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if recent := g.recentFailures(now); len(recent) >= keyFailureBudget {
		return recent[0].Add(lockWindow).Sub(now)
	}
	var soonest time.Duration
	for _, tb := range g.targets {
		left := tb.until.Sub(now)
		if left <= 0 {
			return 0
		}
		if soonest == 0 || left < soonest {
			soonest = left
		}
	}
	return soonest
}
