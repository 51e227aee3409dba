package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var errRefused = errors.New("refused")

// noCtx adapts a call that needs no context to Gate.Do.
func noCtx(call func() error) func(context.Context) error {
	return func(context.Context) error { return call() }
}

func isRefused(err error) bool { return errors.Is(err, errRefused) }

func TestGateBacksOffExponentiallyAndResetsOnSuccess(t *testing.T) {
	clk := &clock{now: time.Unix(0, 0)}
	g := NewGate(clk.Now)
	calls := 0
	refuse := func() error { calls++; return errRefused }
	ctx := context.Background()

	for i, wantBackoff := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		if err := g.Do(ctx, noCtx(refuse), isRefused); !errors.Is(err, errRefused) {
			t.Fatalf("attempt %d: err = %v", i, err)
		}
		if got := g.Backoff(); got != wantBackoff {
			t.Fatalf("after failure %d: back-off %v, want %v", i+1, got, wantBackoff)
		}
		// During the back-off nothing is sent.
		err := g.Do(ctx, noCtx(refuse), isRefused)
		var be *BackoffError
		if !errors.As(err, &be) || !errors.Is(err, errRefused) || calls != i+1 {
			t.Fatalf("during back-off: err = %v, calls = %d", err, calls)
		}
		clk.Advance(wantBackoff)
	}
	if err := g.Do(ctx, noCtx(func() error { return nil }), isRefused); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(ctx, noCtx(refuse), isRefused); err == nil || g.Backoff() != time.Minute {
		t.Errorf("a success did not reset the back-off: %v", g.Backoff())
	}
}

func TestGateIgnoresOtherErrors(t *testing.T) {
	g := NewGate(nil)
	boom := errors.New("connection reset")
	for range 10 {
		g.Do(context.Background(), noCtx(func() error { return boom }), isRefused)
	}
	if g.Backoff() != 0 {
		t.Errorf("network errors made the credential back off")
	}
}

// While a key is not known to work, only as many requests go out at once
// as failures are still allowed: 20 at once against a key the cloud
// refuses make 5 attempts, never more.
func TestGateTriesAnUnverifiedKeyWithinItsFailureBudget(t *testing.T) {
	clk := &clock{now: time.Unix(0, 0)}
	g := NewGate(clk.Now)
	var inFlight, peak, calls atomic.Int32
	refuse := func() error {
		calls.Add(1)
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond)
		inFlight.Add(-1)
		return errRefused
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			g.Do(WithTarget(context.Background(), fmt.Sprintf("t%d", i)), noCtx(refuse), isRefused)
		})
	}
	wg.Wait()
	if calls.Load() != keyFailureBudget || peak.Load() > keyFailureBudget {
		t.Errorf("20 concurrent requests with a refused key made %d attempts (peak %d in flight), want %d", calls.Load(), peak.Load(), keyFailureBudget)
	}
	// The key rests until the first of those failures is 5 minutes old.
	clk.Advance(lockWindow - time.Second)
	err := g.Do(WithTarget(context.Background(), "late"), noCtx(refuse), isRefused)
	var be *BackoffError
	if !errors.As(err, &be) || !be.Key || !strings.HasPrefix(be.By, "t") || calls.Load() != keyFailureBudget {
		t.Errorf("a fresh target while the key is held back: %v", err)
	}
	if !strings.Contains(err.Error(), "the last for target") || !strings.Contains(err.Error(), "next try in 1s") {
		t.Errorf("the hold does not say whose refusal it was and when it tries again: %v", err)
	}
	clk.Advance(time.Second)
	if err := g.Do(WithTarget(context.Background(), "late"), noCtx(func() error { return nil }), isRefused); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// A target whose own request is refused backs off by itself; the key keeps
// working for its other targets, and their successes keep the key's count
// at zero.
func TestGateBacksOffOnlyTheRefusedTarget(t *testing.T) {
	clk := &clock{now: time.Unix(0, 0)}
	g := NewGate(clk.Now)
	bad, good := WithTarget(context.Background(), "bad"), WithTarget(context.Background(), "good")
	ok := func() error { return nil }
	refuse := func() error { return errRefused }
	var badCalls int
	for range 40 { // 10 minutes of scrapes every 15 s
		g.Do(good, noCtx(ok), isRefused)
		g.Do(bad, noCtx(func() error { badCalls++; return refuse() }), isRefused)
		if err := g.Do(good, noCtx(ok), isRefused); err != nil {
			t.Fatalf("the good target was held back by the bad one: %v", err)
		}
		clk.Advance(15 * time.Second)
	}
	// 0, 1, 3 and 7 minutes: the bad target's own back-off.
	if badCalls != 4 {
		t.Errorf("the refused target tried %d times in 10 minutes, want 4", badCalls)
	}
	err := g.Do(bad, noCtx(refuse), isRefused)
	var be *BackoffError
	if !errors.As(err, &be) || be.Key || !strings.Contains(err.Error(), "the key still works for its other targets") {
		t.Errorf("the refused target's own back-off: %v", err)
	}
	if g.Backoff() != 0 {
		t.Errorf("the key is reported backing off (%v) while it works for a target", g.Backoff())
	}
}

// A request that hangs while the key is unproven proves nothing and holds
// no one else back.
func TestGateHangingRequestHoldsNoOneBack(t *testing.T) {
	g := NewGate(nil)
	release := make(chan struct{})
	started := make(chan struct{})
	go g.Do(WithTarget(context.Background(), "hangs"), noCtx(func() error { close(started); <-release; return nil }), isRefused)
	<-started
	defer close(release)
	ctx, cancel := context.WithTimeout(WithTarget(context.Background(), "other"), time.Second)
	defer cancel()
	if err := g.Do(ctx, noCtx(func() error { return nil }), isRefused); err != nil {
		t.Errorf("another target waited for the hanging one: %v", err)
	}
}

func TestGateLetsAVerifiedCredentialRunConcurrently(t *testing.T) {
	g := NewGate(nil)
	g.Do(context.Background(), noCtx(func() error { return nil }), isRefused)
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Do(context.Background(), func(context.Context) error {
				n := inFlight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(20 * time.Millisecond)
				inFlight.Add(-1)
				return nil
			}, isRefused)
		}()
	}
	wg.Wait()
	if peak.Load() < 2 {
		t.Errorf("a working credential was serialised (peak %d)", peak.Load())
	}
}

func TestNilGateJustCalls(t *testing.T) {
	var g *Gate
	called := false
	if err := g.Do(context.Background(), noCtx(func() error { called = true; return nil }), isRefused); err != nil || !called || g.Backoff() != 0 {
		t.Errorf("nil gate: err %v, called %v", err, called)
	}
}

// A request admitted while the key worked, that waits for room in the
// failure budget and is then held back because the key failed five times,
// was never sent: it is not counted as a sixth failure.
func TestGateHeldBackRequestIsNoFailure(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	u, _ := url.Parse(srv.URL)
	c := New(Options{MaxConcurrent: 1})
	g := NewGate(nil)
	if err := g.Do(WithTarget(context.Background(), "z"), noCtx(func() error { return nil }), isRefused); err != nil {
		t.Fatal(err)
	}
	c.slots <- struct{}{} // something else holds the only slot
	admitted := make(chan struct{})
	var parked atomic.Bool
	aDone := make(chan error, 1)
	go func() {
		ctx := WithPark(WithTarget(context.Background(), "a"), func() { parked.Store(true) })
		aDone <- g.Do(ctx, func(ctx context.Context) error {
			close(admitted)
			_, err := c.Do(ctx, Request{Service: "s", Operation: "o", URL: u})
			return err
		}, isRefused)
	}()
	<-admitted
	for _, name := range []string{"b", "c", "d", "e"} {
		g.Do(WithTarget(context.Background(), name), noCtx(func() error { return errRefused }), isRefused)
	}
	// A fifth request of the key goes on the wire and hangs there.
	hang := make(chan struct{})
	fDone := make(chan struct{})
	go func() {
		defer close(fDone)
		g.Do(WithTarget(context.Background(), "f"), func(ctx context.Context) error {
			if err := admit(ctx); err != nil {
				return err
			}
			<-hang
			return errRefused
		}, isRefused)
	}()
	waitGate(t, g, func() bool { return g.sent == 1 })
	<-c.slots // a gets the slot, finds the budget full and waits for room
	testutil.WaitFor(t, parked.Load)
	close(hang) // the fifth refusal: the key is held back
	<-fDone
	var held *BackoffError
	if err := <-aDone; !errors.As(err, &held) {
		t.Fatalf("a: %v, want a BackoffError", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.failures); n != 5 {
		t.Errorf("%d failures recorded for 5 refused requests", n)
	}
}

// A gate call that sends two requests (a retry with fresh keys after a
// 401) counts once on the wire: the key's budget is whole again after it.
func TestGateCallWithTwoRequestsLeavesNothingOnTheWire(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	u, _ := url.Parse(srv.URL)
	c := New(Options{})
	g := NewGate(nil)
	for range 5 {
		err := g.Do(WithTarget(context.Background(), "t"), func(ctx context.Context) error {
			for range 2 {
				if _, err := c.Do(ctx, Request{Service: "s", Operation: "o", URL: u}); err != nil {
					return err
				}
			}
			return nil
		}, isRefused)
		if err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	sent, pending := g.sent, g.pending
	g.mu.Unlock()
	if sent != 0 || pending != 0 {
		t.Errorf("after every call left: %d on the wire, %d pending, want none", sent, pending)
	}
	g.Do(WithTarget(context.Background(), "u"), noCtx(func() error { return errRefused }), isRefused)
	ctx, cancel := context.WithTimeout(WithTarget(context.Background(), "v"), 5*time.Second)
	defer cancel()
	if err := g.Do(ctx, noCtx(func() error { return nil }), isRefused); err != nil {
		t.Errorf("one failure of a budget of 5, and a request could not go out: %v", err)
	}
}

// waitGate waits until cond, read under the gate's lock, holds.
func waitGate(t *testing.T, g *Gate, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return cond()
	})
}
