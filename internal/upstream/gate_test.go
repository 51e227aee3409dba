package upstream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

func isRefused(err error) bool { return errors.Is(err, errRefused) }

func TestGateBacksOffExponentiallyAndResetsOnSuccess(t *testing.T) {
	clk := &clock{now: time.Unix(0, 0)}
	g := NewGate(clk.Now)
	calls := 0
	refuse := func() error { calls++; return errRefused }
	ctx := context.Background()

	for i, wantBackoff := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		if err := g.Do(ctx, refuse, isRefused); !errors.Is(err, errRefused) {
			t.Fatalf("attempt %d: err = %v", i, err)
		}
		if got := g.Backoff(); got != wantBackoff {
			t.Fatalf("after failure %d: back-off %v, want %v", i+1, got, wantBackoff)
		}
		// During the back-off nothing is sent.
		err := g.Do(ctx, refuse, isRefused)
		var be *BackoffError
		if !errors.As(err, &be) || !errors.Is(err, errRefused) || calls != i+1 {
			t.Fatalf("during back-off: err = %v, calls = %d", err, calls)
		}
		clk.Advance(wantBackoff)
	}
	if err := g.Do(ctx, func() error { return nil }, isRefused); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(ctx, refuse, isRefused); err == nil || g.Backoff() != time.Minute {
		t.Errorf("a success did not reset the back-off: %v", g.Backoff())
	}
}

func TestGateIgnoresOtherErrors(t *testing.T) {
	g := NewGate(nil)
	boom := errors.New("connection reset")
	for range 10 {
		g.Do(context.Background(), func() error { return boom }, isRefused)
	}
	if g.Backoff() != 0 {
		t.Errorf("network errors made the credential back off")
	}
}

func TestGateTriesAnUnverifiedCredentialOneRequestAtATime(t *testing.T) {
	clk := &clock{now: time.Unix(0, 0)}
	g := NewGate(clk.Now)
	var inFlight, peak, calls atomic.Int32
	refuse := func() error {
		calls.Add(1)
		n := inFlight.Add(1)
		if n > peak.Load() {
			peak.Store(n)
		}
		time.Sleep(10 * time.Millisecond)
		inFlight.Add(-1)
		return errRefused
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Do(context.Background(), refuse, isRefused)
		}()
	}
	wg.Wait()
	if calls.Load() != 1 || peak.Load() != 1 {
		t.Errorf("20 concurrent requests with an unknown credential made %d attempts (peak %d in flight), want 1", calls.Load(), peak.Load())
	}
}

func TestGateLetsAVerifiedCredentialRunConcurrently(t *testing.T) {
	g := NewGate(nil)
	g.Do(context.Background(), func() error { return nil }, isRefused)
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Do(context.Background(), func() error {
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
	if err := g.Do(context.Background(), func() error { called = true; return nil }, isRefused); err != nil || !called || g.Backoff() != 0 {
		t.Errorf("nil gate: err %v, called %v", err, called)
	}
}
