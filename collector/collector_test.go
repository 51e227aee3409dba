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

func TestScrapeEmitsEveryServiceAndSkipsNull(t *testing.T) {
	cloud := newTestCloud(t)
	e, logs, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))

	got := scrapeOnce(t, e)
	want := map[string]float64{
		`cloudquota_smh_space_capacity_bytes{library_id="smhlib",space_id="s1",target="media"}`:                                 1000,
		`cloudquota_smh_space_available_bytes{library_id="smhlib",space_id="s1",target="media"}`:                                750,
		`cloudquota_smh_space_used_bytes{library_id="smhlib",space_id="s1",target="media"}`:                                     250,
		`cloudquota_smh_space_used_bytes{library_id="smhlib",space_id="s2",target="media"}`:                                     42,
		`cloudquota_workspace_quota_limit{project_id="proj1",resource="cores",site_id="site-a",target="desktops",unit="count"}`: 100,
		`cloudquota_workspace_quota_used{project_id="proj1",resource="cores",site_id="site-a",target="desktops",unit="count"}`:  10,
		`cloudquota_workspace_quota_limit{project_id="proj1",resource="Cores",site_id="site-a",target="desktops",unit="count"}`: 100,
		`cloudquota_workspace_quota_used{project_id="proj1",resource="Cores",site_id="site-a",target="desktops",unit="count"}`:  20,
		`cloudquota_workspace_quota_used{project_id="proj1",resource="users",site_id="site-b",target="desktops",unit="count"}`:  7,
		`cloudquota_cts_quota_limit{project_id="proj1",resource="system_tracker",target="audit"}`:                               1,
		`cloudquota_cts_quota_used{project_id="proj1",resource="system_tracker",target="audit"}`:                                1,
		`cloudquota_cts_quota_limit{project_id="proj1",resource="data_tracker",target="audit"}`:                                 100,
		`cloudquota_cts_quota_used{project_id="proj1",resource="data_tracker",target="audit"}`:                                  9,
		`cloudquota_up{service="smh",target="media"}`:                                                                           1,
		`cloudquota_up{service="workspace",target="desktops"}`:                                                                  1,
		`cloudquota_up{service="cts",target="audit"}`:                                                                           1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// null capacity and availableSpace (s2), and a null Workspace quota
	// (users), give no sample at all: not 0, not -1.
	for _, absent := range []string{
		`cloudquota_smh_space_capacity_bytes{library_id="smhlib",space_id="s2",target="media"}`,
		`cloudquota_smh_space_available_bytes{library_id="smhlib",space_id="s2",target="media"}`,
		`cloudquota_workspace_quota_limit{project_id="proj1",resource="users",site_id="site-b",target="desktops",unit="count"}`,
	} {
		if v, ok := got[absent]; ok {
			t.Errorf("%s present with %v, want no sample", absent, v)
		}
	}
	for _, name := range []string{"cloudquota_collect_duration_seconds", "cloudquota_last_success_timestamp_seconds"} {
		if n := len(withPrefix(got, name+"{")); n != 3 {
			t.Errorf("%s: %d series, want one per target (3)", name, n)
		}
	}
	if strings.Contains(logs.String(), "level=warn") {
		t.Errorf("healthy scrape logged a warning:\n%s", logs)
	}
}

func TestFailingTargetLeavesOthersIntactAndLogsReason(t *testing.T) {
	cloud := newTestCloud(t)
	// A second CTS target whose secret key is wrong: the gateway answers
	// 401 APIGW.0301.
	cfg := testConfig(t, cloud.URL, "")
	bad := *cfg.Credential("hw")
	bad.Name, bad.AccessKey = "hw-bad", "AKWRONG"
	cfg.Credentials = append(cfg.Credentials, bad)
	target := cfg.Targets[2]
	target.Name, target.Credentials = "audit-badkey", "hw-bad"
	cfg.Targets = append(cfg.Targets, target)

	e, logs, _ := newTestExporter(t, cfg)
	got := scrapeOnce(t, e)

	if got[`cloudquota_up{service="cts",target="audit-badkey"}`] != 0 {
		t.Errorf("failing target up = %v, want 0", got[`cloudquota_up{service="cts",target="audit-badkey"}`])
	}
	if n := len(withPrefix(got, `cloudquota_cts_quota_limit{project_id="proj1",resource="data_tracker",target="audit-badkey"`)); n != 0 {
		t.Errorf("failing target emitted quota series")
	}
	for _, name := range []string{"media", "desktops", "audit"} {
		found := false
		for k, v := range withPrefix(got, "cloudquota_up{") {
			if strings.Contains(k, `target="`+name+`"`) {
				found = v == 1
			}
		}
		if !found {
			t.Errorf("target %s not up next to a failing one", name)
		}
	}
	if len(withPrefix(got, "cloudquota_cts_quota_used{")) != 2 {
		t.Errorf("the healthy CTS target lost its series: %v", withPrefix(got, "cloudquota_cts_"))
	}
	line := findLogLine(t, logs.String(), `target=audit-badkey`)
	for _, want := range []string{"level=warn", "status=401", "code=APIGW.0301", "request_id=", "verify aksk signature fail"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "request_id= ") || strings.HasSuffix(line, "request_id=") {
		t.Errorf("log line has an empty request id: %s", line)
	}
	assertNoSecret(t, "log", logs.String())
}

func findLogLine(t *testing.T, logs, substr string) string {
	t.Helper()
	var found []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, substr) {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one log line with %q, got %d:\n%s", substr, len(found), logs)
	}
	return found[0]
}

func TestSMHErrorBodyReachesLogWithRequestID(t *testing.T) {
	cloud := newTestCloud(t)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/usage/") {
			return false
		}
		w.Header().Del("X-Request-Id") // the id then comes from the body
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"code":"SpaceBanned","message":"the space is banned","requestId":"req-smh-42"}`)
		return true
	})
	e, logs, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))
	got := scrapeOnce(t, e)
	if got[`cloudquota_up{service="smh",target="media"}`] != 0 {
		t.Errorf("smh target up despite a 403")
	}
	line := findLogLine(t, logs.String(), "target=media")
	for _, want := range []string{"status=403", "code=SpaceBanned", "request_id=req-smh-42", "the space is banned"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	assertNoSecret(t, "log", logs.String())
}

func TestSMHTokenSharedAcrossScrapesAndTargets(t *testing.T) {
	cloud := newTestCloud(t)
	second := fmt.Sprintf(`  - name: media-second
    service: smh
    credentials: media
    space_ids: [s1]
    endpoint: %s
`, cloud.URL)
	e, _, _ := newTestExporter(t, testConfig(t, cloud.URL, second))
	for range 10 {
		got := scrapeOnce(t, e)
		if got[`cloudquota_up{service="smh",target="media-second"}`] != 1 || got[`cloudquota_up{service="smh",target="media"}`] != 1 {
			t.Fatalf("smh targets not up: %v", withPrefix(got, "cloudquota_up"))
		}
	}
	counts := cloud.Counts()
	if counts[simcloud.OpSMHToken] != 1 {
		t.Errorf("token requests = %d over 10 scrapes of 2 targets, want 1", counts[simcloud.OpSMHToken])
	}
	if counts[simcloud.OpSMHUsage] != 20 {
		t.Errorf("usage requests = %d, want 20 (one per target per scrape)", counts[simcloud.OpSMHUsage])
	}
}

func TestSMHTokenRefreshedAfterRevocation(t *testing.T) {
	cloud := newTestCloud(t)
	e, _, requests := newTestExporter(t, testConfig(t, cloud.URL, ""))
	scrapeOnce(t, e)
	cloud.RevokeTokens()
	got := scrapeOnce(t, e)
	if got[`cloudquota_up{service="smh",target="media"}`] != 1 {
		t.Fatalf("smh target down after its token was revoked; want a new token and one retry")
	}
	if n := cloud.Counts()[simcloud.OpSMHToken]; n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
	if n := requests.get("smh/usage/403"); n != 1 {
		t.Errorf("usage 403 answers = %d, want 1 (then a retry)", n)
	}
}

func TestCacheTTLReusesAnswer(t *testing.T) {
	cloud := newTestCloud(t)
	cfg := testConfig(t, cloud.URL, "")
	for i := range cfg.Targets {
		cfg.Targets[i].CacheTTL = 0
	}
	cfg.Targets[2].CacheTTL = durationOf(time.Hour)
	e, _, _ := newTestExporter(t, cfg)
	first := scrapeOnce(t, e)
	second := scrapeOnce(t, e)
	counts := cloud.Counts()
	if counts[simcloud.OpCTSQuotas] != 1 {
		t.Errorf("cts requests = %d with cache_ttl 1h, want 1", counts[simcloud.OpCTSQuotas])
	}
	if counts[simcloud.OpWorkspaceQuotas] != 4 {
		t.Errorf("workspace requests = %d without cache, want 4 (2 sites × 2 scrapes)", counts[simcloud.OpWorkspaceQuotas])
	}
	key := `cloudquota_last_success_timestamp_seconds{service="cts",target="audit"}`
	if first[key] != second[key] || second[`cloudquota_up{service="cts",target="audit"}`] != 1 {
		t.Errorf("cached answer: last success %v then %v, want unchanged and up", first[key], second[key])
	}
}

func TestConcurrentScrapesShareOnePoll(t *testing.T) {
	cloud := newTestCloud(t)
	release := make(chan struct{})
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/v3/") {
			<-release
		}
		return false
	})
	e, _, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))
	var wg sync.WaitGroup
	results := make([]map[string]float64, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := e.ScrapeTarget(context.Background(), "audit")
			results[i] = gather(t, c)
		}()
	}
	// Let all five scrapes join the poll before upstream answers.
	testutil.WaitFor(t, func() bool { return e.waiters("audit") == 5 })
	close(release)
	wg.Wait()
	if n := cloud.Counts()[simcloud.OpCTSQuotas]; n != 1 {
		t.Errorf("cts requests = %d for 5 concurrent scrapes, want 1", n)
	}
	for i, r := range results {
		if r[`cloudquota_up{service="cts",target="audit"}`] != 1 {
			t.Errorf("scrape %d: target not up", i)
		}
	}
}

func TestScrapeDeadlineEndsHangingTarget(t *testing.T) {
	cloud := newTestCloud(t)
	hang := make(chan struct{})
	defer close(hang)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/v2/") {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	e, logs, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	got := gather(t, e.Scrape(ctx))
	if got[`cloudquota_up{service="workspace",target="desktops"}`] != 0 {
		t.Errorf("hanging target up")
	}
	if got[`cloudquota_up{service="cts",target="audit"}`] != 1 || got[`cloudquota_up{service="smh",target="media"}`] != 1 {
		t.Errorf("other targets hurt by a hanging one: %v", withPrefix(got, "cloudquota_up"))
	}
	testutil.WaitFor(t, func() bool { return strings.Contains(logs.String(), "target=desktops") })
	if !strings.Contains(logs.String(), "abandoned") {
		t.Errorf("abandoned poll not logged:\n%s", logs)
	}
}

func TestTargetTimeoutCutsSlowTarget(t *testing.T) {
	cloud := newTestCloud(t)
	hang := make(chan struct{})
	defer close(hang)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/v3/") {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	cfg := testConfig(t, cloud.URL, "")
	cfg.Targets[2].Timeout = durationOf(200 * time.Millisecond)
	e, logs, _ := newTestExporter(t, cfg)
	got := scrapeOnce(t, e) // no scrape deadline: the target's timeout must end it
	if got[`cloudquota_up{service="cts",target="audit"}`] != 0 {
		t.Errorf("slow target up")
	}
	line := findLogLine(t, logs.String(), "target=audit")
	if !strings.Contains(line, "deadline exceeded") {
		t.Errorf("log line does not say the deadline passed: %s", line)
	}
}

func TestApplyKeepsStateOfUnchangedTargets(t *testing.T) {
	cloud := newTestCloud(t)
	cfg := testConfig(t, cloud.URL, "")
	e, _, _ := newTestExporter(t, cfg)
	before := scrapeOnce(t, e)

	reloaded := testConfig(t, cloud.URL, "")
	reloaded.Targets[2].ProjectID = "proj-gone" // changed target: state starts afresh
	e.Apply(reloaded)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	after := scrapeOnce(t, e)

	smhLast := `cloudquota_last_success_timestamp_seconds{service="smh",target="media"}`
	if after[smhLast] != before[smhLast] || after[smhLast] == 0 {
		t.Errorf("unchanged target lost its last success: %v then %v", before[smhLast], after[smhLast])
	}
	if _, ok := after[`cloudquota_last_success_timestamp_seconds{service="cts",target="audit"}`]; ok {
		t.Errorf("changed target kept the last success of its old configuration")
	}
	if n := cloud.Counts()[simcloud.OpSMHToken]; n != 1 {
		t.Errorf("token requests = %d after a reload that kept the credential, want 1", n)
	}
}

func TestDuplicateAndInvalidLabelsFromUpstream(t *testing.T) {
	cloud := newTestCloud(t)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v3/") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"resources":[{"type":"data_tracker","used":1,"quota":5},{"type":"data_tracker","used":2,"quota":5},{"type":"%s","used":1,"quota":2},{"type":"%s","used":3,"quota":4},{"type":"neg","used":-1,"quota":2}]}`, "bad\xffname", "bad\xfename")
		return true
	})
	e, logs, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))
	got := scrapeOnce(t, e) // a pedantic registry fails on duplicates or invalid UTF-8
	if got[`cloudquota_up{service="cts",target="audit"}`] != 1 {
		t.Fatalf("target down on an answer with one bad value:\n%s", logs)
	}
	if got[`cloudquota_cts_quota_used{project_id="proj1",resource="data_tracker",target="audit"}`] != 1 {
		t.Errorf("duplicate resource: want the first value kept")
	}
	if _, ok := got[`cloudquota_cts_quota_used{project_id="proj1",resource="neg",target="audit"}`]; ok {
		t.Errorf("negative value exported")
	}
	if got[`cloudquota_cts_quota_limit{project_id="proj1",resource="neg",target="audit"}`] != 2 {
		t.Errorf("the good value next to a negative one was lost")
	}
	if !strings.Contains(logs.String(), "Skipped an unusable upstream value") {
		t.Errorf("skipped value not logged:\n%s", logs)
	}
	// Repeats, also those that only invalid UTF-8 told apart, are skipped
	// and logged like any unusable value.
	if got["cloudquota_cts_quota_used{project_id=\"proj1\",resource=\"bad\uFFFDname\",target=\"audit\"}"] != 1 {
		t.Errorf("the first of two types equal once mended: want its value kept")
	}
	for _, want := range []string{
		`value="resource \"data_tracker\": sent more than once in the answer; only the first is kept"`,
		`value="resource \"bad\ufffdname\": sent more than once in the answer; only the first is kept"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// A target whose answer would give more samples than its sample_limit
// fails with a reason that says so; the others stay up.
func TestSampleLimitFailsTheTarget(t *testing.T) {
	cloud := newTestCloud(t)
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v3/") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"resources":[{"type":"a","used":1,"quota":5},{"type":"b","used":2,"quota":5},{"type":"c","used":1,"quota":null}]}`)
		return true
	})
	cfg := testConfig(t, cloud.URL, "")
	for i := range cfg.Targets {
		if cfg.Targets[i].Name == "audit" {
			cfg.Targets[i].SampleLimit = 4 // the answer has 5
		}
	}
	e, logs, _ := newTestExporter(t, cfg)
	got := scrapeOnce(t, e)
	if got[`cloudquota_up{service="cts",target="audit"}`] != 0 {
		t.Errorf("target over its sample_limit is up")
	}
	if len(withPrefix(got, "cloudquota_cts_")) != 0 {
		t.Errorf("target over its sample_limit has samples: %v", withPrefix(got, "cloudquota_cts_"))
	}
	if got[`cloudquota_up{service="smh",target="media"}`] != 1 {
		t.Errorf("another target suffered")
	}
	if want := "the answer would give 5 quota samples, more than the target's sample_limit of 4"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}

	cfg.Targets[len(cfg.Targets)-1].SampleLimit = 0
	for i := range cfg.Targets {
		if cfg.Targets[i].Name == "audit" {
			cfg.Targets[i].SampleLimit = 5
		}
	}
	e.Apply(cfg)
	if got := scrapeOnce(t, e); got[`cloudquota_up{service="cts",target="audit"}`] != 1 {
		t.Errorf("target exactly at its sample_limit is down:\n%s", logs)
	}
}

func TestNoSecretInLogsWhileUpstreamsFail(t *testing.T) {
	cloud := newTestCloud(t)
	// Every kind of failure, with answers that echo what they received.
	cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code":"ParamInvalid","message":"bad request %s %s","error_msg":"%s"}`,
			r.URL.RawQuery, r.Header.Get("X-Security-Token"), r.Header.Get("Authorization"))
		return true
	})
	e, logs, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))
	scrapeOnce(t, e)
	cloud.Close() // then connection refused
	scrapeOnce(t, e)
	assertNoSecret(t, "log", logs.String())
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("connection refused not logged:\n%s", logs)
	}
}

func TestApplyPicksUpRotatedSecret(t *testing.T) {
	cloud := newTestCloud(t)
	e, _, _ := newTestExporter(t, testConfig(t, cloud.URL, ""))
	if got := scrapeOnce(t, e); got[`cloudquota_up{service="workspace",target="desktops"}`] != 1 {
		t.Fatal("target not up before the rotation")
	}
	rotated := testConfig(t, cloud.URL, "")
	rotated.Credential("hw").SecretKey = "rotated-but-wrong"
	e.Apply(rotated)
	if got := scrapeOnce(t, e); got[`cloudquota_up{service="workspace",target="desktops"}`] != 0 {
		t.Error("a reload that changed only the secret key kept using the old one")
	}
}
