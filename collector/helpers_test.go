package collector

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Secrets of the test cloud; tests assert that none of them leaks.
const (
	testLibrarySecret = "lib-secret-5f2a9c"
	testSecretKey     = "hw-secret-key-8d1e77"
	testSecurityToken = "hw-security-token-c4b0"
)

var testSecrets = []string{testLibrarySecret, testSecretKey, testSecurityToken}

// newTestCloud starts a simulated cloud with one SMH library (one space
// without quota) and one Huawei project with two Workspace sites.
func newTestCloud(t *testing.T) *simcloud.Cloud {
	t.Helper()
	p := simcloud.Ptr
	cloud := &simcloud.Cloud{
		Libraries: map[string]*simcloud.Library{
			"smhlib": {Secret: testLibrarySecret, Spaces: []*simcloud.Space{
				{ID: "s1", Capacity: p(1000), Used: 250},
				{ID: "s2", Capacity: nil, Used: 42},
			}},
		},
		Keys: map[string]simcloud.Key{
			"AKTEST":  {SecretKey: testSecretKey},
			"AKTEMP":  {SecretKey: testSecretKey, SecurityToken: testSecurityToken},
			"AKWRONG": {SecretKey: "a-different-secret"},
		},
		Projects: map[string]*simcloud.Project{
			"proj1": {
				DefaultSite: "site-a",
				Sites: map[string][]*simcloud.Resource{
					"site-a": {{Type: "cores", Unit: "count", Quota: p(100), Used: 10}, {Type: "Cores", Unit: "count", Quota: p(100), Used: 20}},
					"site-b": {{Type: "users", Unit: "count", Quota: nil, Used: 7}},
				},
				CTS: []*simcloud.Resource{{Type: "system_tracker", Quota: p(1), Used: 1}, {Type: "data_tracker", Quota: p(100), Used: 9}},
			},
		},
	}
	if err := cloud.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	return cloud
}

// testConfig returns a configuration with one target per service against
// the cloud at url, plus extra YAML appended to the targets list.
func testConfig(t *testing.T, url string, extraTargets string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`
credentials:
  - name: media
    type: tencent_smh
    library_id: smhlib
    library_secret: %[2]s
  - name: hw
    type: huaweicloud
    access_key: AKTEST
    secret_key: %[3]s
  - name: hw-temp
    type: huaweicloud
    access_key: AKTEMP
    secret_key: %[3]s
    security_token: %[4]s
targets:
  - name: media
    service: smh
    credentials: media
    space_ids: [s1, s2]
    endpoint: %[1]s
  - name: desktops
    service: workspace
    credentials: hw
    project_id: proj1
    site_ids: [site-a, site-b]
    endpoint: %[1]s
  - name: audit
    service: cts
    credentials: hw-temp
    project_id: proj1
    endpoint: %[1]s
%[5]s`, url, testLibrarySecret, testSecretKey, testSecurityToken, extraTargets)
	cfg, err := config.Parse([]byte(yaml), "test.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// requestLog counts upstream requests as cloudquota_api_requests_total would.
type requestLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *requestLog) ObserveRequest(service, operation, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[service+"/"+operation+"/"+code]++
}

func (r *requestLog) get(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}

// newTestExporter returns an exporter for cfg logging into logs.
func newTestExporter(t *testing.T, cfg *config.Config) (*Exporter, *testutil.SyncBuffer, *requestLog) {
	t.Helper()
	return newTestExporterAt(t, cfg, time.Now)
}

// newTestExporterAt is newTestExporter on the clock now.
func newTestExporterAt(t *testing.T, cfg *config.Config, now func() time.Time) (*Exporter, *testutil.SyncBuffer, *requestLog) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	requests := &requestLog{}
	client := upstream.New(upstream.Options{MaxConcurrent: 4, Observer: requests})
	// Debug lines (one per upstream request) are the server tests' to
	// check; these look at what an operator sees at info level.
	e := New(client, level.NewFilter(log.NewLogfmtLogger(logs), level.AllowInfo()))
	e.now = now
	e.Apply(cfg)
	return e, logs, requests
}

// gather collects c through a pedantic registry (which rejects duplicate or
// inconsistent metrics) and returns "name{label="value",...}" → value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func scrapeOnce(t *testing.T, e *Exporter) map[string]float64 {
	t.Helper()
	return gather(t, e.Scrape(context.Background()))
}

// withPrefix returns the series whose key starts with prefix.
func withPrefix(series map[string]float64, prefix string) map[string]float64 {
	return testutil.SeriesWhere(series, func(k string) bool { return strings.HasPrefix(k, prefix) })
}

func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range testSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q:\n%s", where, s, text)
		}
	}
}

func durationOf(d time.Duration) config.Duration { return config.Duration(d) }

// waiters is how many scrapes wait for the named target's poll in flight.
func (e *Exporter) waiters(name string) int {
	e.mu.RLock()
	t := e.byName[name]
	e.mu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inflight == nil {
		return 0
	}
	return t.inflight.waiters
}

func upstreamAPIError(status int, code string) upstream.APIError {
	return upstream.APIError{Service: "smh", Operation: "usage", StatusCode: status, Code: code}
}
