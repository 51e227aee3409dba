package server

// Fault matrix and secret hygiene ("Reliability and security"): every
// service's upstream answers badly in every way we could think of, one
// target at a time, and the exporter must keep serving the others, mark the
// faulty one down (or skip the single bad value), log why exactly once, and
// never show a secret anywhere.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// demoTarget is one target of the demo configuration.
type demoTarget struct{ name, service, credential string }

var demoTargets = []demoTarget{
	{"media-prod", "smh", "media-prod"},
	{"media-backup", "smh", "media-backup"},
	{"desktops-prod", "workspace", "hw-prod"},
	{"desktops-dev", "workspace", "hw-dev-temporary"},
	{"audit-prod", "cts", "hw-prod"},
	{"audit-dev", "cts", "hw-dev-temporary"},
	{"media-all", "smh", "media-backup"},           // every space listed, library totals
	{"desktops-found", "workspace", "hw-prod"},     // project looked up in IAM
	{"desktops-all-sites", "workspace", "hw-prod"}, // sites listed
}

// faultedTargets is the target each service's faults hit. media-prod has a
// credential of its own; desktops-dev shares hw-dev-temporary with
// audit-dev (which has cache_ttl 30s); audit-prod shares hw-prod with
// desktops-prod (no cache), so an authentication failure shows both ways
// a shared credential plays out.
var faultedTargets = map[string]demoTarget{
	"smh":       demoTargets[0],
	"workspace": demoTargets[3],
	"cts":       demoTargets[4],
}

// upstreamPrefix is the faulted target's data path on the simulated cloud:
// the SMH library, the Huawei project of that target only.
var upstreamPrefix = map[string]string{
	"smh":       "/api/v1/usage/smhdemoprod/",
	"workspace": "/v2/9f8e7d6c5b4a/",
	"cts":       "/v3/0a1b2c3d4e5f/",
}

func upKey(dt demoTarget) string {
	return fmt.Sprintf(`cloudquota_up{service=%q,target=%q}`, dt.service, dt.name)
}

// hasQuotaSeries tells whether any quota gauge carries the target.
func hasQuotaSeries(series map[string]float64, target string) bool {
	for k := range series {
		if (strings.HasPrefix(k, "cloudquota_smh_") || strings.HasPrefix(k, "cloudquota_workspace_") || strings.HasPrefix(k, "cloudquota_cts_")) &&
			strings.Contains(k, `target="`+target+`"`) {
			return true
		}
	}
	return false
}

// Series keys of the faulted targets' quotas.
func smhKey(metric, space string) string {
	return fmt.Sprintf(`cloudquota_smh_space_%s_bytes{library_id="smhdemoprod",space_id=%q,target="media-prod"}`, metric, space)
}

func hwKey(svc, metric, resource string) string {
	if svc == "workspace" {
		return fmt.Sprintf(`cloudquota_workspace_quota_%s{project_id="9f8e7d6c5b4a",resource=%q,site_id="site-dev",target="desktops-dev",unit="count"}`, metric, resource)
	}
	return fmt.Sprintf(`cloudquota_cts_quota_%s{project_id="0a1b2c3d4e5f",resource=%q,target="audit-prod"}`, metric, resource)
}

// setEndpoint points one target of the demo configuration at base.
func setEndpoint(t *testing.T, yaml, target, oldBase, newBase string) string {
	t.Helper()
	i := strings.Index(yaml, "- name: "+target+"\n    service: ")
	if i < 0 {
		t.Fatalf("no target %s in the configuration", target)
	}
	j := strings.Index(yaml[i:], "endpoint: "+oldBase)
	if j < 0 {
		t.Fatalf("target %s has no endpoint %s", target, oldBase)
	}
	k := i + j + len("endpoint: ")
	return yaml[:k] + newBase + yaml[k+len(oldBase):]
}

// caseRun is one fault case run against one service.
type caseRun struct {
	svc     string
	target  demoTarget
	env     *env
	release chan struct{} // closed at the end: hanging upstreams give up

	mu         sync.Mutex
	requestIDs []string // X-Request-Id of every faulty answer
	hits       atomic.Int32

	// For the cases that need them.
	otherHits atomic.Int32  // requests that reached a server that must see none
	written   atomic.Int64  // bytes the huge-body upstream managed to send
	hookDone  chan struct{} // closed when the first huge answer ended
	doneOnce  sync.Once
}

func (c *caseRun) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.requestIDs...)
}

type responder func(c *caseRun, w http.ResponseWriter, r *http.Request)

type faultCase struct {
	name string
	// only restricts the case to one service.
	only string
	// token faults the SMH token request instead of the usage request
	// (after the cloud revoked the tokens, so that a new one is needed).
	token bool
	// Either respond answers the faulted target's requests, or endpoint
	// returns an endpoint for the target instead of the simulated cloud.
	respond  responder
	endpoint func(t *testing.T, c *caseRun) string
	// up is the faulted target's cloudquota_up by service ("smh", "hw" for
	// both Huawei services, or a service name); 0 when unset.
	up map[string]float64
	// lines is how many log lines must name the target (default 1).
	lines map[string]int
	// logs are substrings of the target's log line(s), by service like up.
	logs map[string][]string
	// noResponse: no HTTP answer reaches the exporter, so no request id.
	noResponse bool
	// hang: upstream never answers; the log line comes when the
	// abandoned poll ends, after the scrape.
	hang bool
	// authFailure: the target backs off after its refusal; the key keeps
	// working for the credential's other targets.
	authFailure func(svc string) bool
	// backoff: the credential rests after this answer; a second scrape
	// must not reach upstream.
	backoff func(svc string) bool
	// throttled: the target rests after this answer; a second scrape
	// must not reach upstream.
	throttled bool
	check     func(t *testing.T, c *caseRun, series map[string]float64)
}

func pick[V any](m map[string]V, svc string, def V) V {
	if v, ok := m[svc]; ok {
		return v
	}
	if svc != "smh" {
		if v, ok := m["hw"]; ok {
			return v
		}
	}
	if v, ok := m[""]; ok {
		return v
	}
	return def
}

func all[V any](v V) map[string]V { return map[string]V{"": v} }

// TestFaultMatrix runs every fault against one target of each service, on
// a fresh exporter and cloud each.
func TestFaultMatrix(t *testing.T) {
	type entry struct {
		group string
		cases []faultCase
	}
	groups := []entry{
		{"body", bodyCases()},
		{"status", statusCases(false)},
		{"network", networkCases(false)},
		{"endpoint", endpointCases()},
		{"token-body", tokenBodyCases()},
		{"token-status", statusCases(true)},
		{"token-network", networkCases(true)},
	}
	for _, svc := range []string{"smh", "workspace", "cts"} {
		for _, g := range groups {
			for _, fc := range g.cases {
				if (fc.token && svc != "smh") || (fc.only != "" && fc.only != svc) {
					continue
				}
				t.Run(svc+"/"+g.group+"/"+fc.name, func(t *testing.T) {
					// A hanging upstream is judged against a 2s scrape
					// timeout: those cases run first, one at a time, so
					// that the other cases do not eat into it.
					if !fc.hang {
						t.Parallel()
					}
					runFaultCase(t, svc, fc)
				})
			}
		}
	}
}

func runFaultCase(t *testing.T, svc string, fc faultCase) {
	env := newEnv(t, envOptions{})
	target := faultedTargets[svc]
	c := &caseRun{svc: svc, target: target, env: env, release: make(chan struct{}), hookDone: make(chan struct{})}
	t.Cleanup(func() { close(c.release) })

	// The exporter has been running: tokens cached, credentials verified.
	env.scrapeAllUp(t)
	if fc.token {
		env.cloud.RevokeTokens()
	}
	if fc.endpoint != nil {
		env.apply(t, setEndpoint(t, env.yaml, target.name, env.cloud.URL, fc.endpoint(t, c)))
	} else {
		env.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			var mine bool
			if fc.token {
				mine = r.URL.Path == "/api/v1/token" && r.URL.Query().Get("library_id") == "smhdemoprod"
			} else {
				mine = strings.HasPrefix(r.URL.Path, upstreamPrefix[svc])
			}
			if !mine {
				return false
			}
			c.hits.Add(1)
			c.mu.Lock()
			c.requestIDs = append(c.requestIDs, w.Header().Get("X-Request-Id"))
			c.mu.Unlock()
			fc.respond(c, w, r)
			return true
		})
	}

	// A hanging upstream meets Prometheus's timeout (2s, less the 0.5s
	// offset); the other faults get a generous one, so that a loaded
	// machine does not turn them into timeouts.
	timeout := 20 * time.Second
	if fc.hang {
		timeout = 2 * time.Second
	}
	offset := env.logs.Len()
	start := time.Now()
	code, body := env.get(t, "/metrics", scrapeTimeoutHeader, strconv.Itoa(int(timeout/time.Second)))
	if took := time.Since(start); took > timeout+2*time.Second {
		t.Errorf("the scrape took %s; with a %s scrape timeout it must end by %s", took, timeout, timeout+2*time.Second)
	}
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d, want 200:\n%s", code, body)
	}
	series := parseSeries(body)

	// The faulted target.
	wantUp := pick(fc.up, svc, 0)
	if got, ok := series[upKey(target)]; !ok || got != wantUp {
		t.Errorf("%s: cloudquota_up = %v (present %v), want %v", upKey(target), got, ok, wantUp)
	}
	if wantUp == 0 && hasQuotaSeries(series, target.name) {
		t.Errorf("target %s is down but has quota series", target.name)
	}
	if wantUp == 1 && !hasQuotaSeries(series, target.name) && fc.name != "empty list" {
		t.Errorf("target %s is up but has no quota series", target.name)
	}

	// Every other target, those of the same credential too: a refusal of
	// one target's request blanks no sibling.
	for _, dt := range demoTargets {
		if dt == target {
			continue
		}
		if series[upKey(dt)] != 1 || !hasQuotaSeries(series, dt.name) {
			t.Errorf("target %s suffered from %s's fault: up %v, series %v", dt.name, target.name, series[upKey(dt)], hasQuotaSeries(series, dt.name))
		}
	}

	// Exactly the expected log lines, naming the target, with what happened.
	wantLines := pick(fc.lines, svc, 1)
	var lines []string
	if fc.hang {
		testutil.Eventually(10*time.Second, func() bool { return len(env.logLinesFor(offset, target.name)) >= wantLines })
	}
	lines = env.logLinesFor(offset, target.name)
	if len(lines) != wantLines {
		t.Errorf("%d log lines name %s, want %d:\n%s", len(lines), target.name, wantLines, strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		if !strings.Contains(line, "level=warn") && !strings.Contains(line, "level=error") {
			t.Errorf("log line not at warn or error: %s", line)
		}
		for _, want := range pick(fc.logs, svc, nil) {
			if !strings.Contains(line, want) {
				t.Errorf("log line lacks %q: %s", want, line)
			}
		}
		failure := strings.Contains(line, `msg="Target poll failed"`)
		if failure && !fc.noResponse && !fc.hang {
			ids := c.ids()
			if !slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(line, "request_id="+id) }) {
				t.Errorf("log line lacks the request id (one of %v): %s", ids, line)
			}
		}
	}
	for _, dt := range demoTargets {
		if dt == target {
			continue
		}
		if other := env.logLinesFor(offset, dt.name); len(other) != 0 {
			t.Errorf("the fault of %s made %s log:\n%s", target.name, dt.name, strings.Join(other, "\n"))
		}
	}
	if len(lines) > 0 {
		t.Logf("up=%v log: %s", series[upKey(target)], lines[0][strings.Index(lines[0], "level="):])
	} else {
		t.Logf("up=%v, nothing logged", series[upKey(target)])
	}

	// A credential backing off, or a throttled target, sends nothing more
	// for now.
	rests := fc.throttled || (fc.backoff != nil && fc.backoff(svc))
	if rests && fc.endpoint == nil {
		hits := c.hits.Load()
		_, body := env.get(t, "/metrics", scrapeTimeoutHeader, "20")
		again := parseSeries(body)
		if again[upKey(target)] != 0 {
			t.Errorf("second scrape: %s up while resting", target.name)
		}
		if n := c.hits.Load(); n != hits {
			t.Errorf("second scrape sent %d more requests to the faulted upstream while it should rest", n-hits)
		}
		if fc.backoff != nil && fc.backoff(svc) {
			// The credential backs off as a whole only where the faulted
			// target is its only user (media-prod's); elsewhere the key
			// still works for its other targets.
			key := fmt.Sprintf(`cloudquota_credential_backoff_seconds{credential=%q}`, target.credential)
			if alone := svc == "smh"; alone && again[key] <= 0 || !alone && again[key] != 0 {
				t.Errorf("%s = %v, want %s", key, again[key], map[bool]string{true: "> 0", false: "0"}[alone])
			}
		}
		if fc.authFailure != nil && fc.authFailure(svc) {
			// The credential's other targets stay up: desktops-prod's and
			// audit-prod's own requests still succeed, audit-dev's answer
			// is cached.
			for _, dt := range demoTargets {
				if dt == target || dt.credential != target.credential {
					continue
				}
				if again[upKey(dt)] != 1 {
					t.Errorf("second scrape: %s (same credential) up = %v, want 1", dt.name, again[upKey(dt)])
				}
			}
		}
	}

	if fc.check != nil {
		fc.check(t, c, series)
	}

	// Secrets: nowhere, whatever was asked.
	texts := map[string]string{"/metrics": body}
	for _, path := range []string{"/probe?target=" + target.name, "/", "/probe?target=unknown", "/probe", "/-/reload", "/-/healthy",
		"/sd", "/metrics?targets=none", "/metrics?targets=some"} {
		_, texts[path] = env.get(t, path, scrapeTimeoutHeader, "1")
	}
	_, texts["/metrics with a bad timeout"] = env.get(t, "/metrics", scrapeTimeoutHeader, "soon")
	_, texts["/probe with a bad timeout"] = env.get(t, "/probe?target="+target.name, scrapeTimeoutHeader, "-1")
	for where, text := range texts {
		assertNoDemoSecret(t, where, text)
	}
	assertNoDemoSecret(t, "the log", env.logs.String())
	if t.Failed() {
		t.Logf("logs:\n%s", env.logs.String())
	}
}
