package server

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A Huawei 401 whose Date is far from the local clock says so, in the log
// and on the status page, and the offset is a gauge an alert can watch.
func TestClockSkewIsExplainedAndExposed(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.scrapeAllUp(t)
	e.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, upstreamPrefix["cts"]) {
			return false
		}
		w.Header().Set("Date", time.Now().Add(-20*time.Minute).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"r-skew"}`)
		return true
	})
	_, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	series := parseSeries(body)
	target := faultedTargets["cts"]
	key := fmt.Sprintf(`cloudquota_upstream_clock_offset_seconds{service=%q,target=%q}`, target.service, target.name)
	if got := series[key]; math.Abs(got+1200) > 2 {
		t.Errorf("%s = %v, want about -1200", key, got)
	}
	healthy := `cloudquota_upstream_clock_offset_seconds{service="smh",target="media-prod"}`
	if got, ok := series[healthy]; !ok || math.Abs(got) > 2 {
		t.Errorf("%s = %v (present %v), want about 0", healthy, got, ok)
	}
	const want = "the local clock is 20m0s ahead of upstream's Date header; Huawei refuses signatures more than 15 minutes off"
	if !strings.Contains(e.logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, e.logs.String())
	}
	if _, page := e.get(t, "/"); !strings.Contains(page, "20m0s ahead of upstream&#39;s Date header") {
		t.Errorf("status page does not explain the skew")
	}
}

// At debug level every upstream request is logged with its service,
// operation, status, duration, size and request id, and never its URL.
func TestDebugLogsEveryUpstreamRequest(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.scrapeAllUp(t)
	var lines []string
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `msg="Upstream request"`) {
			lines = append(lines, line)
		}
	}
	// Two SMH tokens, two SMH usage, three Workspace sites, two CTS;
	// media-all's space list, usage and library totals; desktops-found's
	// IAM lookup and quotas; desktops-all-sites' site list and two sites.
	if len(lines) != 17 {
		t.Fatalf("%d upstream request lines, want 17:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		for _, want := range []string{"level=debug", "target=", "service=", "operation=", "status=200", "duration=", "bytes=", "request_id="} {
			if !strings.Contains(line, want) {
				t.Errorf("line lacks %s: %s", want, line)
			}
		}
		for _, unwanted := range []string{"http://", "access_token", "library_secret", "?"} {
			if strings.Contains(line, unwanted) {
				t.Errorf("line has %q: %s", unwanted, line)
			}
		}
	}
}
