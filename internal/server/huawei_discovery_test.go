package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// The Huawei key of these tests, added to the demo clouds, so that the
// tests own every request made with it.
const (
	hwAccessKey = "HWDISCOVERYTESTAK001"
	hwSecretKey = "hw-discovery-secret-key-6c1f0e9a2b"
)

var hwSecrets = []string{hwSecretKey}

// Projects of the test account: cn-north-4 has one, cn-south-1 two,
// ap-southeast-1 a disabled one and cn-east-3 none.
const (
	projNorth  = "p0north4000000000000000000000001"
	projSouthA = "p0south1000000000000000000000001"
	projSouthB = "p0south1000000000000000000000002"
	projOff    = "p0apse10000000000000000000000001"
)

// newHuaweiEnv is newEnv with the test key and account in the cloud.
func newHuaweiEnv(t *testing.T, opts simcloud.HuaweiOptions) *env {
	t.Helper()
	e := newEnv(t, envOptions{})
	p := simcloud.Ptr
	e.cloud.Update(func(c *simcloud.Cloud) {
		c.Record = true
		c.Keys[hwAccessKey] = simcloud.Key{SecretKey: hwSecretKey}
		c.Projects[projNorth] = &simcloud.Project{
			DefaultSite: "site-n1",
			Sites: map[string][]*simcloud.Resource{
				"site-n1":   {{Type: "cores", Unit: "count", Quota: p(100), Used: 10}},
				"site-n2":   {{Type: "users", Unit: "count", Quota: p(50), Used: 5}},
				"147258369": {{Type: "ies_instances", Unit: "count", Quota: p(4), Used: 1}},
				"site one":  {{Type: "volumes", Unit: "count", Quota: p(20), Used: 2}},
			},
			CTS: []*simcloud.Resource{{Type: "data_tracker", Quota: p(100), Used: 9}},
		}
		for _, id := range []string{projSouthA, projSouthB, projOff} {
			c.Projects[id] = &simcloud.Project{CTS: []*simcloud.Resource{{Type: "data_tracker", Quota: p(100), Used: 1}}}
		}
	})
	if opts.IAMProjects == nil {
		opts.IAMProjects = []simcloud.IAMProject{
			{ID: projNorth, Name: "cn-north-4"},
			{ID: "p0north4sub", Name: "cn-north-4_sub"},
			{ID: projSouthA, Name: "cn-south-1"},
			{ID: projSouthB, Name: "cn-south-1"},
			{ID: projOff, Name: "ap-southeast-1", Disabled: true},
		}
	}
	e.cloud.SetHuaweiOptions(opts)
	return e
}

// hwConfig is a configuration of the test key with the given targets, every
// endpoint (IAM's too) pointing at the simulated cloud; each target is
// YAML lines after "- name: ...", with %[1]s for the cloud's URL.
func hwConfig(e *env, secretKey string, targets ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  timeout: 15s\ncredentials:\n  - name: hw\n    type: huaweicloud\n    access_key: %s\n    secret_key: %s\ntargets:\n", hwAccessKey, secretKey)
	for _, t := range targets {
		b.WriteString("  - " + strings.ReplaceAll(fmt.Sprintf(t, e.cloud.URL), "\n", "\n    ") + "\n")
	}
	return b.String()
}

// hwTarget is one target of hwConfig: service in region, looked up in IAM,
// with extra YAML lines.
func hwTarget(name, service, region string, extra ...string) string {
	lines := []string{"name: " + name, "service: " + service, "credentials: hw", "region: " + region,
		"endpoint: %[1]s", "iam_endpoint: %[1]s"}
	return strings.Join(append(lines, extra...), "\n")
}

// scrapeSeries scrapes /metrics and returns its series and body.
func (e *env) scrapeSeries(t *testing.T) (map[string]float64, string) {
	t.Helper()
	code, body := e.get(t, "/metrics", scrapeTimeoutHeader, "20")
	if code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", code, body)
	}
	return parseSeries(body), body
}

func up(series map[string]float64, service, target string) (float64, bool) {
	v, ok := series[fmt.Sprintf(`cloudquota_up{service=%q,target=%q}`, service, target)]
	return v, ok
}

func requireUp(t *testing.T, e *env, series map[string]float64, service, target string, want float64) {
	t.Helper()
	if v, ok := up(series, service, target); !ok || v != want {
		t.Fatalf("cloudquota_up of %s = %v (present %v), want %v\nlogs:\n%s", target, v, ok, want, e.logs.String())
	}
}

// apiRequests is cloudquota_api_requests_total of one service, operation
// and code.
func apiRequests(series map[string]float64, service, operation, code string) float64 {
	return series[fmt.Sprintf(`cloudquota_api_requests_total{code=%q,operation=%q,service=%q}`, code, operation, service)]
}

// requireLogged fails unless a warning about target says want.
func requireLogged(t *testing.T, e *env, target, want string) {
	t.Helper()
	for _, line := range e.logLinesFor(0, target) {
		if strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("no log line of target %s says %q:\n%s", target, want, strings.Join(e.logLinesFor(0, target), "\n"))
}

func checkNoSecret(t *testing.T, e *env, texts ...string) {
	t.Helper()
	texts = append(texts, e.logs.String())
	_, status := e.get(t, "/")
	for _, text := range append(texts, status) {
		testutil.CheckNoSecret(t, "exporter output", text, "", hwSecrets)
	}
}

// One lookup serves every target of the credential and region, across
// scrapes, and its id labels their series; a target whose region has no
// project, two projects or a disabled one is down with a reason that says
// what to set, and the others stay up.
func TestHuaweiProjectLookupShared(t *testing.T) {
	e := newHuaweiEnv(t, simcloud.HuaweiOptions{})
	e.apply(t, hwConfig(e, hwSecretKey,
		hwTarget("ws-north", "workspace", "cn-north-4", "site_ids: [site-n1, site-n2]"),
		hwTarget("cts-north", "cts", "cn-north-4"),
		hwTarget("cts-east", "cts", "cn-east-3"),
		hwTarget("cts-south", "cts", "cn-south-1"),
		hwTarget("cts-off", "cts", "ap-southeast-1"),
		"name: cts-fixed\nservice: cts\ncredentials: hw\nproject_id: "+projNorth+"\nendpoint: %[1]s",
	))
	var series map[string]float64
	var body string
	for range 3 {
		series, body = e.scrapeSeries(t)
	}
	for _, target := range []string{"cts-north", "cts-fixed"} {
		requireUp(t, e, series, "cts", target, 1)
		if key := fmt.Sprintf(`cloudquota_cts_quota_limit{project_id=%q,resource="data_tracker",target=%q}`, projNorth, target); series[key] != 100 {
			t.Errorf("no %s in\n%s", key, body)
		}
	}
	requireUp(t, e, series, "workspace", "ws-north", 1)
	for _, site := range []string{"site-n1", "site-n2"} {
		if !strings.Contains(body, fmt.Sprintf(`project_id=%q,resource=`, projNorth)) || !strings.Contains(body, `site_id="`+site+`"`) {
			t.Errorf("no series of site %s with the found project in\n%s", site, body)
		}
	}

	// cn-north-4 was looked up once for both targets; each failing region
	// is asked again at every scrape, 3 × 3.
	names := map[string]int{}
	for _, r := range e.cloud.Requests(simcloud.OpIAMProjects) {
		names[r.URL.Query().Get("name")]++
	}
	if want := (map[string]int{"cn-north-4": 1, "cn-east-3": 3, "cn-south-1": 3, "ap-southeast-1": 3}); fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("IAM lookups by name %v, want %v", names, want)
	}
	if got := apiRequests(series, "iam", "projects", "200"); got != 10 {
		t.Errorf(`cloudquota_api_requests_total{service="iam",operation="projects",code="200"} = %v, want 10`, got)
	}

	for target, reason := range map[string]string{
		"cts-east":  `no project named \"cn-east-3\" in the account (X-IAM-Trace-Id `,
		"cts-south": fmt.Sprintf(`2 projects named \"cn-south-1\": ids \"%s\", \"%s\" (X-IAM-Trace-Id `, projSouthA, projSouthB),
		"cts-off":   fmt.Sprintf(`the project named \"ap-southeast-1\" (id \"%s\") is disabled`, projOff),
	} {
		requireUp(t, e, series, "cts", target, 0)
		requireLogged(t, e, target, reason)
	}
	requireLogged(t, e, "cts-east", "set project_id on the target")
	requireLogged(t, e, "cts-south", "set project_id on the target to one of them")

	// A failed lookup is not cached: once the project exists, it is found.
	opts := simcloud.HuaweiOptions{IAMProjects: []simcloud.IAMProject{{ID: projNorth, Name: "cn-north-4"}, {ID: projSouthA, Name: "cn-east-3"}}}
	e.cloud.SetHuaweiOptions(opts)
	series, _ = e.scrapeSeries(t)
	requireUp(t, e, series, "cts", "cts-east", 1)

	// A reload looks the project up again, once.
	before := len(e.cloud.Requests(simcloud.OpIAMProjects))
	e.apply(t, e.yaml+"\n")
	e.scrapeSeries(t)
	e.scrapeSeries(t)
	var after []string
	for _, r := range e.cloud.Requests(simcloud.OpIAMProjects)[before:] {
		after = append(after, r.URL.Query().Get("name"))
	}
	if strings.Count(strings.Join(after, " "), "cn-north-4") != 1 {
		t.Errorf("after the reload IAM was asked for %v, want cn-north-4 once", after)
	}
	checkNoSecret(t, e, body)
}

// A credential without permission to list projects gets 403 from
// /v3/projects; the project is then found in /v3/auth/projects.
func TestHuaweiProjectLookupFallback(t *testing.T) {
	e := newHuaweiEnv(t, simcloud.HuaweiOptions{RefuseProjectList: true})
	e.apply(t, hwConfig(e, hwSecretKey,
		hwTarget("ws-north", "workspace", "cn-north-4"),
		hwTarget("cts-north", "cts", "cn-north-4"),
		hwTarget("cts-south", "cts", "cn-south-1"),
	))
	e.scrapeSeries(t)
	series, _ := e.scrapeSeries(t)
	requireUp(t, e, series, "workspace", "ws-north", 1)
	requireUp(t, e, series, "cts", "cts-north", 1)
	requireUp(t, e, series, "cts", "cts-south", 0)
	requireLogged(t, e, "cts-south", `2 projects named \"cn-south-1\" (GET /v3/projects was refused with HTTP 403`)
	// cn-north-4 once, cn-south-1 twice (it fails).
	if got := apiRequests(series, "iam", "projects", "403"); got != 3 {
		t.Errorf("refused project lists %v, want 3", got)
	}
	if got := apiRequests(series, "iam", "auth_projects", "200"); got != 3 {
		t.Errorf("auth project lists %v, want 3", got)
	}
	for _, r := range e.cloud.Requests(simcloud.OpIAMAuthProjects) {
		if r.URL.RawQuery != "" {
			t.Errorf("/v3/auth/projects sent with query %q", r.URL.RawQuery)
		}
	}
	checkNoSecret(t, e)
}

// IAM is behind the same gateway lock of the key: a refused signature
// backs the credential off like a refused data request, so a wrong key is
// not sent to IAM at every scrape.
func TestHuaweiProjectLookupBackoff(t *testing.T) {
	e := newHuaweiEnv(t, simcloud.HuaweiOptions{})
	e.apply(t, hwConfig(e, "not-the-secret-key-0000000000",
		hwTarget("ws-north", "workspace", "cn-north-4"),
		hwTarget("cts-north", "cts", "cn-north-4"),
	))
	for range 3 {
		series, _ := e.scrapeSeries(t)
		requireUp(t, e, series, "workspace", "ws-north", 0)
		requireUp(t, e, series, "cts", "cts-north", 0)
	}
	if got := e.cloud.Counts()[simcloud.OpHuaweiAuthFailure]; got != 1 {
		t.Errorf("%d refused signatures reached the gateway, want 1", got)
	}
	requireLogged(t, e, "cts-north", "backing off")
	requireLogged(t, e, "ws-north", "backing off")
	requireLogged(t, e, "ws-north", "APIGW.0301")
	checkNoSecret(t, e)
}

// discover_sites lists the project's sites once per discovery_interval and
// asks for each; site ids that Workspace sends as numbers are the same ids.
func TestWorkspaceSiteDiscovery(t *testing.T) {
	e := newHuaweiEnv(t, simcloud.HuaweiOptions{NumericSiteIDs: true})
	e.apply(t, hwConfig(e, hwSecretKey,
		hwTarget("ws-sites", "workspace", "cn-north-4", "discover_sites: true", "discovery_interval: 1h"),
	))
	var series map[string]float64
	var body string
	for range 3 {
		series, body = e.scrapeSeries(t)
	}
	requireUp(t, e, series, "workspace", "ws-sites", 1)
	if n := len(e.cloud.Requests(simcloud.OpWorkspaceSites)); n != 1 {
		t.Errorf("sites listed %d times in 3 scrapes, want once", n)
	}
	if got := apiRequests(series, "workspace", "sites", "200"); got != 1 {
		t.Errorf(`cloudquota_api_requests_total{operation="sites"} = %v, want 1`, got)
	}
	for site, resource := range map[string]string{"site-n1": "cores", "site-n2": "users", "147258369": "ies_instances", "site one": "volumes"} {
		key := fmt.Sprintf(`cloudquota_workspace_quota_limit{project_id=%q,resource=%q,site_id=%q,target="ws-sites",unit="count"}`, projNorth, resource, site)
		if _, ok := series[key]; !ok {
			t.Errorf("no %s in\n%s", key, body)
		}
	}
	// The numeric site id is not an unusable value any more.
	if strings.Contains(e.logs.String(), "site_id:") {
		t.Errorf("a site_id was logged as unusable:\n%s", e.logs.String())
	}
	// "site one" went out as %20, which the simulated gateway reads as a
	// space (a "+" would be a plus sign, and another site).
	var raw []string
	for _, r := range e.cloud.Requests(simcloud.OpWorkspaceQuotas) {
		raw = append(raw, r.URL.RawQuery)
	}
	if !strings.Contains(strings.Join(raw, " "), "site_id=site%20one") {
		t.Errorf("quota requests %q, want one with site_id=site%%20one", raw)
	}
	checkNoSecret(t, e, body)
}

// A failed listing keeps the last good list, says so, and the target stays
// up; without any list the target is down with the reason.
func TestWorkspaceSiteDiscoveryFailure(t *testing.T) {
	e := newHuaweiEnv(t, simcloud.HuaweiOptions{})
	e.apply(t, hwConfig(e, hwSecretKey,
		hwTarget("ws-sites", "workspace", "cn-north-4", "discover_sites: true", "discovery_interval: 1ms"),
		"name: ws-empty\nservice: workspace\ncredentials: hw\nproject_id: "+projSouthA+"\nendpoint: %[1]s\ndiscover_sites: true",
	))
	series, _ := e.scrapeSeries(t)
	requireUp(t, e, series, "workspace", "ws-sites", 1)
	requireUp(t, e, series, "workspace", "ws-empty", 0)
	requireLogged(t, e, "ws-empty", "lists no usable Workspace site")

	e.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if simcloud.OpOf(r) != simcloud.OpWorkspaceSites {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error_code":"WKS.00000500","error_msg":"internal error, key %s"}`, hwSecretKey)
		return true
	})
	offset := e.logs.Len()
	series, body := e.scrapeSeries(t)
	requireUp(t, e, series, "workspace", "ws-sites", 1)
	if !strings.Contains(body, `site_id="site-n2"`) {
		t.Errorf("the last good list was not used:\n%s", body)
	}
	var warned bool
	for _, line := range e.logLinesFor(offset, "ws-sites") {
		warned = warned || strings.Contains(line, "level=warn") && strings.Contains(line, "using the last good list") && strings.Contains(line, "WKS.00000500")
	}
	if !warned {
		t.Errorf("no warning about the failed listing:\n%s", e.logs.Since(offset))
	}
	// The empty project's target has no list to keep.
	requireUp(t, e, series, "workspace", "ws-empty", 0)
	checkNoSecret(t, e, body)
}
