package collector

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// turnsConfig has smh targets of one library, then cts targets, against
// the test cloud.
func turnsConfig(t *testing.T, url string, smhTargets, ctsTargets int) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `
credentials:
  - {name: media, type: tencent_smh, library_id: smhlib, library_secret: %s}
  - {name: hw, type: huaweicloud, access_key: AKTEST, secret_key: %s}
targets:
`, testLibrarySecret, testSecretKey)
	for i := range smhTargets {
		fmt.Fprintf(&b, "  - {name: media-%d, service: smh, credentials: media, space_ids: [s1], endpoint: %q}\n", i, url)
	}
	for i := range ctsTargets {
		fmt.Fprintf(&b, "  - {name: audit-%d, service: cts, credentials: hw, project_id: proj1, endpoint: %q}\n", i, url)
	}
	cfg, err := config.Parse([]byte(b.String()), "turns.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// exporterWithSlots is an exporter whose upstream client lets slots
// requests be in flight, as --scrape.concurrency does.
func exporterWithSlots(cfg *config.Config, slots int) *Exporter {
	e := New(upstream.New(upstream.Options{MaxConcurrent: slots}), log.NewNopLogger())
	e.Apply(cfg)
	return e
}

// polling counts the targets with a poll in flight.
func (e *Exporter) polling() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := 0
	for _, t := range e.targets {
		t.mu.Lock()
		if t.inflight != nil {
			n++
		}
		t.mu.Unlock()
	}
	return n
}

// A scrape of many targets starts only two per request slot: the others
// wait without a goroutine or a poll of their own, and all are served.
// This holds at start-up too, while the key is not known to work and the
// targets past its failure budget wait for its first answers: a short
// wait for what others fetch keeps the turn.
func TestScrapeStartsTwoTargetsPerRequestSlot(t *testing.T) {
	cloud := newTestCloud(t)
	release := make(chan struct{})
	var hanging atomic.Int32
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if simcloud.OpOf(r) == simcloud.OpCTSQuotas {
			hanging.Add(1)
			<-release
			hanging.Add(-1)
		}
		return false
	})
	// Three slots, six turns: three requests hang, two more are admitted
	// against the key's budget of 5, and the sixth target waits for room.
	e := exporterWithSlots(turnsConfig(t, cloud.URL, 0, 40), 3)
	done := make(chan map[string]float64)
	go func() { done <- gather(t, e.Scrape(context.Background())) }()
	testutil.WaitFor(t, func() bool { return hanging.Load() == 3 })
	time.Sleep(200 * time.Millisecond) // well within upstream.parkDelay
	if n := e.polling(); n != 6 {
		t.Errorf("%d targets polling while 3 requests hang with 3 slots, want 6", n)
	}
	close(release)
	got := <-done
	for i := range 40 {
		if got[fmt.Sprintf(`cloudquota_up{service="cts",target="audit-%d"}`, i)] != 1 {
			t.Errorf("audit-%d not up", i)
		}
	}
}

// Targets waiting for an access token that another target is fetching
// give their turn back: a token request that hangs does not keep the
// targets after them from starting.
func TestTargetsWaitingForATokenLetOthersStart(t *testing.T) {
	cloud := newTestCloud(t)
	hang := make(chan struct{})
	defer close(hang)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if simcloud.OpOf(r) == simcloud.OpSMHToken {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	e := exporterWithSlots(turnsConfig(t, cloud.URL, 6, 1), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got := gather(t, e.Scrape(ctx))
	if got[`cloudquota_up{service="cts",target="audit-0"}`] != 1 {
		t.Errorf("the cts target behind six smh targets waiting for a hanging token is down: %v", withPrefix(got, "cloudquota_up"))
	}
	if got[`cloudquota_up{service="smh",target="media-0"}`] != 0 {
		t.Errorf("smh target up without a token")
	}
}
