package collector

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// A cloud that rejects every signature must not see more than 5
// authentication attempts in any 5 minutes, whatever the exporter's
// targets and scrapes: Huawei's gateway locks the key after more than 5.
func TestRejectedCredentialNeverLocksTheKey(t *testing.T) {
	cloud := newTestCloud(t)
	clock := testutil.NewClock()
	var mu sync.Mutex
	var attempts []time.Time
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/v2/") || strings.HasPrefix(r.URL.Path, "/v3/") {
			mu.Lock()
			attempts = append(attempts, clock.Now())
			mu.Unlock()
		}
		return false
	})
	cfg := testConfig(t, cloud.URL, "")
	// Every Huawei target (two Workspace sites and CTS) uses one key that
	// the gateway rejects.
	cfg.Credential("hw").AccessKey = "AKWRONG"
	cfg.Credential("hw").SecretKey = "not-the-key"
	cfg.Targets[2].Credentials = "hw"
	cfg.Credential("hw-temp").SecurityToken = ""
	e, logs, _ := newTestExporterAt(t, cfg, clock.Now)

	var got map[string]float64
	for range 100 {
		got = scrapeOnce(t, e)
		clock.Advance(15 * time.Second)
	}

	mu.Lock()
	defer mu.Unlock()
	for i, start := range attempts {
		n := 0
		for _, a := range attempts[i:] {
			if a.Sub(start) < 5*time.Minute {
				n++
			}
		}
		if n > 5 {
			t.Fatalf("%d authentication attempts in the 5 minutes from %s (%d in all)", n, start.Format(time.TimeOnly), len(attempts))
		}
	}
	if len(attempts) < 3 {
		t.Errorf("only %d attempts in 25 minutes: the credential is never retried", len(attempts))
	}
	if got[`cloudquota_up{service="workspace",target="desktops"}`] != 0 || got[`cloudquota_up{service="cts",target="audit"}`] != 0 {
		t.Errorf("targets of the rejected credential not down")
	}
	if got[`cloudquota_up{service="smh",target="media"}`] != 1 {
		t.Errorf("another credential's target suffered")
	}
	if got[`cloudquota_credential_backoff_seconds{credential="hw"}`] <= 0 {
		t.Errorf("backoff gauge %v, want > 0", got[`cloudquota_credential_backoff_seconds{credential="hw"}`])
	}
	if got[`cloudquota_credential_backoff_seconds{credential="media"}`] != 0 {
		t.Errorf("working credential reported as backing off")
	}
	if !strings.Contains(logs.String(), "backing off") || !strings.Contains(logs.String(), "APIGW.0301") {
		t.Errorf("log does not say that the credential backs off and why")
	}
	status := e.Status()[1]
	if status.Up || !strings.Contains(status.Error, "backing off") {
		t.Errorf("status of a backed-off target: %+v", status)
	}
}

func TestWrongSMHSecretBacksOff(t *testing.T) {
	cloud := newTestCloud(t)
	clock := testutil.NewClock()
	cfg := testConfig(t, cloud.URL, "")
	cfg.Credential("media").LibrarySecret = "wrong"
	e, _, _ := newTestExporterAt(t, cfg, clock.Now)
	for range 20 {
		scrapeOnce(t, e)
		clock.Advance(5 * time.Second)
	}
	if n := cloud.Counts()["smh_token"]; n != 2 {
		t.Errorf("token requests in 100s with a wrong secret = %d, want 2 (at 0s and after the first minute)", n)
	}
}

func TestThrottledTargetHonoursRetryAfter(t *testing.T) {
	cloud := newTestCloud(t)
	clock := testutil.NewClock()
	throttle := true
	var mu sync.Mutex
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !throttle || !strings.HasPrefix(r.URL.Path, "/v3/") {
			return false
		}
		w.Header().Set("Retry-After", "120")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`)
		return true
	})
	e, logs, requests := newTestExporterAt(t, testConfig(t, cloud.URL, ""), clock.Now)
	scrapeOnce(t, e)
	clock.Advance(60 * time.Second)
	got := scrapeOnce(t, e)
	if n := requests.get("cts/quotas/429"); n != 1 {
		t.Errorf("requests during Retry-After: %d 429s, want only the first", n)
	}
	if got[`cloudquota_up{service="cts",target="audit"}`] != 0 {
		t.Errorf("throttled target up")
	}
	if s := e.Status()[2]; !strings.Contains(s.Error, "throttled by upstream, next request in 1m0s") {
		t.Errorf("status does not say the target is throttled: %q", s.Error)
	}
	if strings.Count(logs.String(), "target=audit") != 1 {
		t.Errorf("throttling logged more than once:\n%s", logs)
	}

	mu.Lock()
	throttle = false
	mu.Unlock()
	clock.Advance(61 * time.Second)
	got = scrapeOnce(t, e)
	if got[`cloudquota_up{service="cts",target="audit"}`] != 1 {
		t.Errorf("target still down after Retry-After passed")
	}
}

func TestThrottlePauseWithoutRetryAfterGrows(t *testing.T) {
	for streak, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		err := fmt.Errorf("wrapped: %w", &rateLimited)
		got, ok := throttlePause(err, streak)
		if !ok || got != want {
			t.Errorf("streak %d: pause %v (%v), want %v", streak, got, ok, want)
		}
	}
	if _, ok := throttlePause(fmt.Errorf("plain"), 0); ok {
		t.Error("a plain error counted as throttling")
	}
}

var rateLimited = upstreamAPIError(429, "RateLimitExceeded")

// A key that worked and is then refused everywhere (revoked, or the clock
// jumped) sees at most 5 failed authentications, however many of its
// targets' requests were queued for a request slot when it stopped
// working: they are asked again once they hold one.
func TestWorkingKeyRefusedEverywhereStaysWithinTheBudget(t *testing.T) {
	cloud := newTestCloud(t)
	var extra strings.Builder
	for i := range 20 {
		fmt.Fprintf(&extra, "  - name: audit-%d\n    service: cts\n    credentials: hw\n    project_id: proj1\n    endpoint: %s\n", i, cloud.URL)
	}
	e, _, _ := newTestExporter(t, testConfig(t, cloud.URL, extra.String())) // 4 request slots
	if got := scrapeOnce(t, e); got[`cloudquota_up{service="cts",target="audit-0"}`] != 1 {
		t.Fatalf("targets not up before the key is refused")
	}
	var mu sync.Mutex
	refused := 0
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v2/") && !strings.HasPrefix(r.URL.Path, "/v3/") {
			return false
		}
		mu.Lock()
		refused++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"r"}`)
		return true
	})
	for range 3 {
		scrapeOnce(t, e)
	}
	mu.Lock()
	defer mu.Unlock()
	// hw's 22 requests (20 CTS, 2 Workspace sites) and hw-temp's one: the
	// budget is per key, and hw-temp is another key.
	t.Logf("%d refused authentications", refused)
	if refused > 5+1 {
		t.Errorf("%d refused authentications in three scrapes, want at most 5 for hw and 1 for hw-temp", refused)
	}
}

// A request queued for a slot while another target's request with the key
// is refused goes out once the key's failure budget has room: its target
// is up in this scrape, not held back with the message that the key backs
// off, and the key sees one failure.
func TestSiblingQueuedWhenAKeyIsRefusedStillGoesOut(t *testing.T) {
	cloud := newTestCloud(t)
	e := exporterWithSlots(turnsConfig(t, cloud.URL, 0, 8), 6)
	if got := gather(t, e.Scrape(context.Background())); got[`cloudquota_up{service="cts",target="audit-0"}`] != 1 {
		t.Fatal("targets not up before the fault")
	}
	var mu sync.Mutex
	requests := 0
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if simcloud.OpOf(r) != simcloud.OpCTSQuotas {
			return false
		}
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		if !first {
			// On the wire when the first is refused: five of them hold
			// the rest of the budget until they answer.
			time.Sleep(300 * time.Millisecond)
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"r"}`)
		return true
	})
	got := gather(t, e.Scrape(context.Background()))
	down := 0
	for i := range 8 {
		if got[fmt.Sprintf(`cloudquota_up{service="cts",target="audit-%d"}`, i)] != 1 {
			down++
		}
	}
	if down != 1 {
		t.Errorf("%d of 8 targets down after one refusal, want only the refused one: %v", down, withPrefix(got, "cloudquota_up{"))
	}
}
