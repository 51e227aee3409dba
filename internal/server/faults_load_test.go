package server

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// Load: scrapes abandoned while upstream hangs leave nothing behind.
// upstreamTransport is the production transport's settings, on a value the
// test can close idle connections of.
func upstreamTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}

// Scrapes abandoned at their deadline while upstream hangs (data requests
// and SMH token requests) leave no goroutine behind once upstream answers.
func TestNoGoroutineLeakAfterHangingUpstream(t *testing.T) {
	tr := upstreamTransport()
	env := newEnv(t, envOptions{transport: tr})
	env.scrapeAllUp(t)

	settled := func() int {
		tr.CloseIdleConnections()
		env.clientTr.CloseIdleConnections()
		return runtime.NumGoroutine()
	}
	// The baseline: the servers, their listeners and nothing in flight;
	// taken once two readings agree.
	baseline := settled()
	testutil.Eventually(2*time.Second, func() bool {
		prev := baseline
		baseline = settled()
		return baseline == prev
	})

	release := make(chan struct{})
	var hung, peak atomic.Int32
	env.cloud.RevokeTokens() // the next SMH polls need new tokens, which hang too
	env.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		hung.Add(1)
		if n := int32(runtime.NumGoroutine()); n > peak.Load() {
			peak.Store(n)
		}
		select {
		case <-release:
			return false // then answer normally
		case <-r.Context().Done():
			return true
		}
	})
	for range 4 {
		var wg sync.WaitGroup
		for _, path := range []string{"/metrics", "/metrics", "/probe?target=media-prod", "/probe?target=audit-prod"} {
			wg.Go(func() {
				start := time.Now()
				code, _, err := env.do(http.MethodGet, path, scrapeTimeoutHeader, "0.3")
				if err != nil || code != http.StatusOK || time.Since(start) > 2300*time.Millisecond {
					t.Errorf("%s against a hanging upstream: HTTP %d, %v, after %s", path, code, err, time.Since(start))
				}
			})
		}
		wg.Wait()
	}
	if hung.Load() == 0 {
		t.Fatal("no request reached the hanging upstream")
	}
	close(release)
	env.cloud.SetHook(nil)
	// The exporter recovers: every target up again.
	if !testutil.Eventually(10*time.Second, func() bool {
		_, body := env.get(t, "/metrics", scrapeTimeoutHeader, "5")
		s := parseSeries(body)
		for _, dt := range demoTargets {
			if s[upKey(dt)] != 1 {
				return false
			}
		}
		return true
	}) {
		t.Errorf("targets not all up after the upstream recovered:\n%s", env.logs.String())
	}

	const slack = 2
	var now int
	if !testutil.Eventually(15*time.Second, func() bool { now = settled(); return now <= baseline+slack }) {
		var stacks bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("%d goroutines after the hang, %d before: leaked?\n%s", now, baseline, stacks.String())
	}
	t.Logf("goroutines: %d before the hang, %d at its peak, %d after", baseline, peak.Load(), now)
}
