package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

func TestProbe(t *testing.T) {
	s := newEnv(t, envOptions{})
	code, body := s.get(t, "/probe?target=audit-prod")
	if code != http.StatusOK {
		t.Fatalf("known target: HTTP %d: %s", code, body)
	}
	for _, want := range []string{
		`cloudquota_up{service="cts",target="audit-prod"} 1`,
		`cloudquota_cts_quota_limit{project_id="0a1b2c3d4e5f",resource="data_tracker",target="audit-prod"} 100`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("probe output lacks %q", want)
		}
	}
	for _, unwanted := range []string{`target="audit-dev"`, "cloudquota_api_requests_total", "go_goroutines"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("probe output has %q; it must hold only the probed target", unwanted)
		}
	}

	code, body = s.get(t, "/probe?target=nope")
	if code != http.StatusBadRequest || !strings.Contains(body, `unknown target "nope"`) || strings.Count(strings.TrimSpace(body), "\n") != 0 {
		t.Errorf("unknown target: HTTP %d %q, want 400 with a one-line reason", code, body)
	}
	code, body = s.get(t, "/probe")
	if code != http.StatusBadRequest || !strings.Contains(body, "missing target parameter") {
		t.Errorf("missing target: HTTP %d %q, want 400 with a one-line reason", code, body)
	}
}

func TestMetricsHasExporterAndTargets(t *testing.T) {
	s := newEnv(t, envOptions{})
	code, body := s.get(t, "/metrics", scrapeTimeoutHeader, "5")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	for _, want := range []string{
		`cloudquota_up{service="smh",target="media-prod"} 1`,
		`cloudquota_up{service="workspace",target="desktops-prod"} 1`,
		`cloudquota_api_requests_total{code="200",operation="token",service="smh"}`,
		`cloudquota_exporter_config_last_reload_successful 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body = s.get(t, "/metrics", scrapeTimeoutHeader, "soon")
	if code != http.StatusBadRequest || !strings.Contains(body, "X-Prometheus-Scrape-Timeout-Seconds") {
		t.Errorf("bad timeout header: HTTP %d %q, want 400 naming the header", code, body)
	}
}

func TestReloadEndpoint(t *testing.T) {
	s := newEnv(t, envOptions{})
	if code, _ := s.get(t, "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: HTTP %d, want 405", code)
	}
	post := func() (int, string) { return s.post(t, "/-/reload") }

	// A good new file: a target renamed.
	good := strings.Replace(s.yaml, "name: audit-dev", "name: audit-renamed", 1)
	s.writeConfig(t, good)
	if code, body := post(); code != http.StatusOK {
		t.Fatalf("good reload: HTTP %d %s", code, body)
	}
	if code, _ := s.get(t, "/probe?target=audit-renamed"); code != http.StatusOK {
		t.Errorf("renamed target not served after reload")
	}

	// A bad one: the old configuration stays and the gauge says so.
	os.WriteFile(s.configPath, []byte("targets: [\n"), 0o600)
	code, body := post()
	if code != http.StatusInternalServerError || !strings.Contains(body, s.configPath) {
		t.Errorf("bad reload: HTTP %d %q, want 500 naming the file", code, body)
	}
	if code, _ := s.get(t, "/probe?target=audit-renamed"); code != http.StatusOK {
		t.Errorf("a failed reload dropped the running configuration")
	}
	_, metrics := s.get(t, "/metrics")
	if !strings.Contains(metrics, "cloudquota_exporter_config_last_reload_successful 0") {
		t.Errorf("reload gauge not 0 after a failed reload")
	}
}

func TestReloadOnSignal(t *testing.T) {
	s := newEnv(t, envOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 1)
	go s.srv.ReloadOn(ctx, signals)
	s.writeConfig(t, strings.Replace(s.yaml, "name: audit-dev", "name: audit-renamed", 1))
	signals <- syscall.SIGHUP
	if !testutil.Eventually(5*time.Second, func() bool {
		code, _ := s.get(t, "/probe?target=audit-renamed")
		return code == http.StatusOK
	}) {
		t.Fatal("the signal did not reload")
	}
	if !strings.Contains(s.logs.String(), `msg="Configuration reloaded"`) {
		t.Errorf("the reload was not logged:\n%s", s.logs)
	}
}

func TestHealthAndReady(t *testing.T) {
	s := newEnv(t, envOptions{})
	for _, path := range []string{"/-/healthy", "/-/ready"} {
		if code, _ := s.get(t, path); code != http.StatusOK {
			t.Errorf("%s: HTTP %d", path, code)
		}
		if code, _ := s.post(t, path); code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: HTTP %d, want 405", path, code)
		}
	}
	if code, body := s.get(t, "/"); code != http.StatusOK || !strings.Contains(body, "cloudquota_exporter") {
		t.Errorf("landing page: HTTP %d", code)
	}
}

func TestMaxRequests(t *testing.T) {
	s := newEnv(t, envOptions{maxRequests: 1})
	s.srv.slots <- struct{}{} // one scrape in flight
	for _, path := range []string{"/metrics", "/probe?target=audit-prod"} {
		if code, _ := s.get(t, path); code != http.StatusServiceUnavailable {
			t.Errorf("%s beyond --web.max-requests: HTTP %d, want 503", path, code)
		}
	}
	<-s.srv.slots
	code, body := s.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("a single scrape with --web.max-requests=1: HTTP %d", code)
	}
	series := parseSeries(body)
	for _, handler := range []string{"metrics", "probe"} {
		key := `cloudquota_exporter_requests_refused_total{handler="` + handler + `"}`
		if series[key] != 1 {
			t.Errorf("%s = %v, want 1", key, series[key])
		}
	}
}

func TestNoSecretInResponsesWhileUpstreamFails(t *testing.T) {
	s := newEnv(t, envOptions{})
	// Point every target at a closed port, then at nothing valid.
	broken := strings.ReplaceAll(s.yaml, s.cloud.URL, "http://127.0.0.1:1")
	s.writeConfig(t, broken)
	if code, body := s.post(t, "/-/reload"); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	_, metrics := s.get(t, "/metrics")
	_, probe := s.get(t, "/probe?target=media-prod")
	if !strings.Contains(metrics, `cloudquota_up{service="smh",target="media-prod"} 0`) {
		t.Errorf("broken target not down")
	}
	for _, secret := range []string{"demo-library-secret-prod", "demo-secret-key-0000000000000001", "demo-security-token", "acctk"} {
		for where, text := range map[string]string{"/metrics": metrics, "/probe": probe, "log": s.logs.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains secret %q", where, secret)
			}
		}
	}
}

func TestStatusPageShowsEveryTargetWithItsLastError(t *testing.T) {
	s := newEnv(t, envOptions{})
	_, page := s.get(t, "/")
	if !strings.Contains(page, "not scraped yet") {
		t.Errorf("before any scrape, targets should say so")
	}
	// Break one target: a secret key the simulated gateway rejects.
	broken := strings.Replace(s.yaml, "secret_key: demo-temp-secret-key-00000000001", "secret_key: wrong-<b>key</b>", 1)
	s.writeConfig(t, broken)
	if code, body := s.post(t, "/-/reload"); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	s.get(t, "/metrics")
	code, page := s.get(t, "/")
	if code != http.StatusOK {
		t.Fatalf("status page: HTTP %d", code)
	}
	for _, dt := range demoTargets {
		name := dt.name
		if !strings.Contains(page, `<a href="probe?target=`+name+`">`+name+`</a>`) {
			t.Errorf("status page lacks target %s", name)
		}
	}
	if strings.Count(page, `<td class="down">down`) != 2 || strings.Count(page, `<td class="up">up</td>`) != len(demoTargets)-2 {
		t.Errorf("want 2 targets down (the temporary credential's) and the others up:\n%s", page)
	}
	for _, want := range []string{"HTTP 401 APIGW.0301", "verify aksk signature fail", "[request id "} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks the last error's %q", want)
		}
	}
	if strings.Contains(page, "<b>key</b>") || strings.Contains(page, "wrong-") {
		t.Errorf("status page shows the secret key")
	}
}

func TestServiceDiscoveryListsEveryTarget(t *testing.T) {
	s := newEnv(t, envOptions{})
	code, body := s.get(t, "/sd")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(body), &groups); err != nil {
		t.Fatalf("not http_sd JSON: %v\n%s", err, body)
	}
	services := map[string]string{}
	for _, g := range groups {
		if len(g.Targets) != 1 || g.Labels["__meta_cloudquota_target"] != g.Targets[0] {
			t.Errorf("bad group %+v", g)
			continue
		}
		services[g.Targets[0]] = g.Labels["__meta_cloudquota_service"]
	}
	want := map[string]string{}
	for _, dt := range demoTargets {
		want[dt.name] = dt.service
	}
	if len(services) != len(want) {
		t.Errorf("discovered %v, want %v", services, want)
	}
	for name, svc := range want {
		if services[name] != svc {
			t.Errorf("target %s: service %q, want %q", name, services[name], svc)
		}
	}
}

func TestMetricsWithoutTargetsPollsNothing(t *testing.T) {
	s := newEnv(t, envOptions{})
	code, body := s.get(t, "/metrics?targets=none")
	if code != http.StatusOK || !strings.Contains(body, "cloudquota_exporter_build_info") && !strings.Contains(body, "cloudquota_exporter_config_last_reload_successful") {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	if strings.Contains(body, "cloudquota_up") || strings.Contains(body, "cloudquota_api_requests_total") {
		t.Errorf("?targets=none polled the targets:\n%s", body)
	}
	if code, body := s.get(t, "/metrics?targets=some"); code != http.StatusBadRequest || !strings.Contains(body, "invalid targets parameter") {
		t.Errorf("bad targets parameter: HTTP %d %q", code, body)
	}
}

// The status page leads with how many targets are down, lists them first,
// and marks answers served from the cache and targets held back.
func TestStatusPageSummaryOrderAndMarks(t *testing.T) {
	s := newEnv(t, envOptions{})
	_, page := s.get(t, "/")
	if !strings.Contains(page, `<p class="summary">0 of 9 targets down, 9 not scraped yet</p>`) {
		t.Errorf("summary before any scrape:\n%s", page)
	}
	s.scrapeAllUp(t)
	s.writeConfig(t, strings.Replace(s.yaml, "secret_key: demo-secret-key-0000000000000001", "secret_key: wrong-key", 1))
	if code, body := s.post(t, "/-/reload"); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	s.get(t, "/metrics", scrapeTimeoutHeader, "10")
	s.get(t, "/metrics", scrapeTimeoutHeader, "10") // hw-prod now backs off; audit-dev is served from its cache
	_, page = s.get(t, "/")
	if !strings.Contains(page, `<p class="summary">4 of 9 targets down</p>`) {
		t.Errorf("summary with hw-prod's four targets down:\n%s", page)
	}
	order := []string{}
	for _, part := range strings.Split(page, `<a href="probe?target=`)[1:] {
		order = append(order, part[:strings.Index(part, `"`)])
	}
	want := []string{"desktops-prod", "audit-prod", "desktops-found", "desktops-all-sites", "media-prod", "media-backup", "desktops-dev", "audit-dev", "media-all"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("targets in order %v, want the down ones first: %v", order, want)
	}
	if n := strings.Count(page, "(held back: nothing sent upstream)"); n != 4 {
		t.Errorf("%d targets marked held back, want 4:\n%s", n, page)
	}
	if n := strings.Count(page, "(cached answer)"); n != 1 {
		t.Errorf("%d targets marked cached, want 1 (audit-dev)", n)
	}
	if !strings.Contains(page, "Version:") {
		t.Errorf("the page does not show the version")
	}
	if n := strings.Count(page, "<td>static</td>"); n != 6 {
		t.Errorf("%d Huawei targets show where their keys come from, want 6 (static)", n)
	}
}
