package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// SMH space discovery, library totals and missing spaces, end to end: the
// exporter's HTTP face against the simulated SMH of the demo clouds.

// The demo's production library and its secret.
const (
	smhDemoLibrary = "smhdemoprod"
	smhDemoSecret  = "demo-library-secret-prod"
)

// smhConfig is a configuration of one credential of the demo's production
// library, with grant (none when empty), and the given smh targets.
func smhConfig(e *env, grant, targets string) string {
	grantLine := ""
	if grant != "" {
		grantLine = "\n    grant: " + grant
	}
	return fmt.Sprintf(`credentials:
  - name: media
    type: tencent_smh
    library_id: %s
    library_secret: %s%s
targets:
%s`, smhDemoLibrary, smhDemoSecret, grantLine, strings.ReplaceAll(targets, "ENDPOINT", e.cloud.URL))
}

// smhEnv is an exporter on the demo clouds with only the given SMH targets,
// the cloud recording its requests and echoing refused secrets.
func smhEnv(t *testing.T, grant, targets string) *env {
	t.Helper()
	e := newEnv(t, envOptions{})
	e.cloud.Update(func(c *simcloud.Cloud) {
		c.Record, c.EchoSecrets = true, true
	})
	e.apply(t, smhConfig(e, grant, targets))
	return e
}

// tuneLibrary sets the listing and totals knobs of the demo's production
// library.
func (e *env) tuneLibrary(l *simcloud.SMHLibrary) {
	e.cloud.Update(func(c *simcloud.Cloud) {
		c.SMH.Libraries = map[string]*simcloud.SMHLibrary{smhDemoLibrary: l}
	})
}

// probe scrapes one target and returns its series.
func (e *env) probe(t *testing.T, target string) map[string]float64 {
	t.Helper()
	code, body := e.get(t, "/probe?target="+target, scrapeTimeoutHeader, "10")
	if code != http.StatusOK {
		t.Fatalf("/probe?target=%s: HTTP %d: %s", target, code, body)
	}
	return parseSeries(body)
}

func smhUp(target string) string {
	return fmt.Sprintf(`cloudquota_up{service="smh",target=%q}`, target)
}

func spaceUsed(target, space string) string {
	return fmt.Sprintf(`cloudquota_smh_space_used_bytes{library_id=%q,space_id=%q,target=%q}`, smhDemoLibrary, space, target)
}

func libraryMetric(metric, target string) string {
	return fmt.Sprintf(`cloudquota_smh_library_%s_bytes{library_id=%q,target=%q}`, metric, smhDemoLibrary, target)
}

// checkNoSecretAnywhere fails when the log, the status page or a probe of
// target shows the library secret or an access token, in any form.
func (e *env) checkNoSecretAnywhere(t *testing.T, target string) {
	t.Helper()
	secrets := append(e.cloud.SMHTokens(), smhDemoSecret)
	_, page := e.get(t, "/")
	_, probe := e.get(t, "/probe?target="+target, scrapeTimeoutHeader, "10")
	for what, out := range map[string]string{"log": e.logs.String(), "status page": page, "probe": probe} {
		testutil.CheckNoSecret(t, what, out, "", secrets)
	}
}

var demoProdSpaces = []string{"space-media", "space-archive", "space-scratch"}

const discoverTarget = `  - name: media-all
    service: smh
    credentials: media
    endpoint: ENDPOINT
    discovery_interval: 1h
`

func TestSMHDiscoveryListsEverySpaceOnce(t *testing.T) {
	e := smhEnv(t, "admin", discoverTarget)
	e.tuneLibrary(&simcloud.SMHLibrary{PageSize: 2}) // two pages, both marker forms
	series := e.probe(t, "media-all")
	if series[smhUp("media-all")] != 1 {
		t.Fatalf("media-all down:\n%s", e.logs.String())
	}
	for _, s := range demoProdSpaces {
		if _, ok := series[spaceUsed("media-all", s)]; !ok {
			t.Errorf("discovered space %s has no series", s)
		}
	}
	lists := len(e.cloud.Requests(simcloud.OpSMHSpaceList))
	if lists != 2 {
		t.Errorf("%d list requests, want 2 pages", lists)
	}

	// Within discovery_interval the list is reused: a new space shows only
	// at the next listing.
	e.cloud.Update(func(c *simcloud.Cloud) {
		lib := c.Libraries[smhDemoLibrary]
		lib.Spaces = append(lib.Spaces, &simcloud.Space{ID: "space-new", Used: 5})
	})
	series = e.probe(t, "media-all")
	if n := len(e.cloud.Requests(simcloud.OpSMHSpaceList)); n != lists || series[smhUp("media-all")] != 1 {
		t.Errorf("second scrape: %d list requests (want %d), up %v", n, lists, series[smhUp("media-all")])
	}
	if _, ok := series[spaceUsed("media-all", "space-new")]; ok {
		t.Errorf("a space created after the listing showed before discovery_interval passed")
	}

	_, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	if !strings.Contains(body, `cloudquota_api_requests_total{code="200",operation="space_list",service="smh"} 2`) {
		t.Errorf("the listing is not counted as operation space_list:\n%s", grepLines(body, "api_requests_total"))
	}
}

func TestSMHDiscoveryKeepsLastGoodList(t *testing.T) {
	e := smhEnv(t, "admin", strings.Replace(discoverTarget, "1h", "1ms", 1))
	if series := e.probe(t, "media-all"); series[smhUp("media-all")] != 1 {
		t.Fatalf("media-all down:\n%s", e.logs.String())
	}
	e.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if simcloud.OpOf(r) != simcloud.OpSMHSpaceList {
			return false
		}
		simcloud.SMHError(w, http.StatusServiceUnavailable, "ServerOverloaded", "simulated overload")
		return true
	})
	for i := range 2 {
		time.Sleep(5 * time.Millisecond) // past discovery_interval and the retry after a failure
		offset := e.logs.Len()
		series := e.probe(t, "media-all")
		if series[smhUp("media-all")] != 1 {
			t.Fatalf("scrape %d: a failed listing downed the target that has a list", i)
		}
		for _, s := range demoProdSpaces {
			if _, ok := series[spaceUsed("media-all", s)]; !ok {
				t.Errorf("scrape %d: space %s of the last good list lost", i, s)
			}
		}
		var said []string
		for _, l := range e.logLinesFor(offset, "media-all") {
			if strings.Contains(l, "Listing the SMH spaces failed") {
				said = append(said, l)
			}
		}
		if len(said) != 1 || !strings.Contains(said[0], "level=warn") || !strings.Contains(said[0], "ServerOverloaded") || !strings.Contains(said[0], "spaces=3") {
			t.Errorf("scrape %d: want one warning naming the failure and the list kept, got %q\n%s", i, said, e.logs.Since(offset))
		}
	}
}

func TestSMHDiscoveryNoListIsDown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grant string
		tune  *simcloud.SMHLibrary
		want  string
	}{
		{"token without admin or space_admin", "", nil, "listing every space needs a token with grant admin or space_admin; set grant: admin on the credential, or list space_ids"},
		{"the same marker again", "admin", &simcloud.SMHLibrary{PageSize: 1, RepeatMarker: true}, "the space listing does not end"},
		{"more than 100 pages", "admin", &simcloud.SMHLibrary{PageSize: 1}, "more pages after 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets := discoverTarget + `  - name: media-fixed
    service: smh
    credentials: media
    space_ids: [space-media]
    endpoint: ENDPOINT
`
			e := smhEnv(t, tc.grant, targets)
			if tc.tune != nil {
				if tc.name == "more than 100 pages" {
					e.cloud.Update(func(c *simcloud.Cloud) {
						lib := c.Libraries[smhDemoLibrary]
						for i := range 100 {
							lib.Spaces = append(lib.Spaces, &simcloud.Space{ID: fmt.Sprintf("space-extra-%03d", i)})
						}
					})
				}
				e.tuneLibrary(tc.tune)
			}
			_, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
			series := parseSeries(body)
			if series[smhUp("media-all")] != 0 || hasQuotaSeries(series, "media-all") {
				t.Errorf("media-all: up %v with series %v; want down", series[smhUp("media-all")], hasQuotaSeries(series, "media-all"))
			}
			if series[smhUp("media-fixed")] != 1 {
				t.Errorf("media-fixed, with its space_ids, suffered from the listing's failure")
			}
			_, page := e.get(t, "/")
			lines := strings.Join(e.logLinesFor(0, "media-all"), "\n")
			for what, out := range map[string]string{"log": lines, "status page": page} {
				if !strings.Contains(strings.ReplaceAll(out, `\"`, `"`), tc.want) {
					t.Errorf("%s does not say %q:\n%s", what, tc.want, out)
				}
			}
			e.checkNoSecretAnywhere(t, "media-all")
		})
	}
}

func TestSMHLibraryTotals(t *testing.T) {
	targets := `  - name: media-lib
    service: smh
    credentials: media
    space_ids: [space-media]
    library_usage: true
    endpoint: ENDPOINT
`
	e := smhEnv(t, "admin", targets)
	var used uint64
	e.cloud.Update(func(c *simcloud.Cloud) {
		for _, s := range c.Libraries[smhDemoLibrary].Spaces {
			used += s.Used
		}
	})

	// As the official page documents: totalFileSize only.
	series := e.probe(t, "media-lib")
	if got, ok := series[libraryMetric("used", "media-lib")]; !ok || got != float64(used) {
		t.Errorf("library used %v (present %v), want %d", got, ok, used)
	}
	for _, m := range []string{"capacity", "available", "allocated"} {
		if _, ok := series[libraryMetric(m, "media-lib")]; ok {
			t.Errorf("library %s has a sample though upstream did not send it", m)
		}
	}

	// Every field, the capacity null: no capacity or available sample.
	e.tuneLibrary(&simcloud.SMHLibrary{Totals: &simcloud.LibraryTotals{Allocated: simcloud.Ptr(1 << 40)}})
	series = e.probe(t, "media-lib")
	if series[libraryMetric("allocated", "media-lib")] != 1<<40 || series[libraryMetric("used", "media-lib")] != float64(used) {
		t.Errorf("library totals with nulls: %v", grepSeries(series, "library"))
	}
	for _, m := range []string{"capacity", "available"} {
		if _, ok := series[libraryMetric(m, "media-lib")]; ok {
			t.Errorf("library %s sent as null has a sample", m)
		}
	}
	e.tuneLibrary(&simcloud.SMHLibrary{Totals: &simcloud.LibraryTotals{Capacity: simcloud.Ptr(1 << 41), Allocated: simcloud.Ptr(1 << 40)}})
	series = e.probe(t, "media-lib")
	if series[libraryMetric("capacity", "media-lib")] != 1<<41 || series[libraryMetric("available", "media-lib")] != float64(1<<41-used) {
		t.Errorf("library totals: %v", grepSeries(series, "library"))
	}
	if _, ok := series[spaceUsed("media-lib", "space-media")]; !ok {
		t.Errorf("the space's series are missing next to the library's")
	}
	_, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	if !strings.Contains(body, `operation="library_usage"`) {
		t.Errorf("library usage requests are not counted as operation library_usage")
	}
}

func TestSMHLibraryTotalsNeedAdmin(t *testing.T) {
	targets := strings.Replace(discoverTarget, "    discovery_interval: 1h\n", "    library_usage: true\n", 1)
	e := smhEnv(t, "space_admin", targets)
	series := e.probe(t, "media-all")
	if series[smhUp("media-all")] != 0 {
		t.Errorf("library totals refused, yet the target is up")
	}
	want := "reading the library totals needs a token with grant admin"
	if lines := strings.Join(e.logLinesFor(0, "media-all"), "\n"); !strings.Contains(lines, want) {
		t.Errorf("the log does not say %q:\n%s", want, lines)
	}
	e.checkNoSecretAnywhere(t, "media-all")
}

func TestSMHMissingSpaceSkipped(t *testing.T) {
	targets := `  - name: media-some
    service: smh
    credentials: media
    space_ids: [space-media, space-gone, space-archive]
    endpoint: ENDPOINT
`
	e := smhEnv(t, "admin", targets)
	offset := e.logs.Len()
	series := e.probe(t, "media-some")
	if series[smhUp("media-some")] != 1 {
		t.Fatalf("one missing space downed the target:\n%s", e.logs.Since(offset))
	}
	for _, s := range []string{"space-media", "space-archive"} {
		if _, ok := series[spaceUsed("media-some", s)]; !ok {
			t.Errorf("space %s lost for its missing sibling", s)
		}
	}
	notes := 0
	for _, l := range e.logLinesFor(offset, "media-some") {
		if strings.Contains(l, `space \"space-gone\": not found`) {
			notes++
		}
	}
	if notes != 1 {
		t.Errorf("%d log lines say space-gone is not found, want 1:\n%s", notes, e.logs.Since(offset))
	}

	// The next scrapes neither search again nor say it again.
	searched := len(e.cloud.Requests(simcloud.OpSMHUsage))
	offset = e.logs.Len()
	if series := e.probe(t, "media-some"); series[smhUp("media-some")] != 1 || !hasQuotaSeries(series, "media-some") {
		t.Fatalf("second scrape: target down or without series")
	}
	later := e.cloud.Requests(simcloud.OpSMHUsage)[searched:]
	if len(later) != 1 || strings.Contains(later[0].URL.Path, "space-gone") {
		t.Errorf("second scrape sent %d usage requests (%v), want one without the missing space", len(later), later)
	}
	for _, l := range e.logLinesFor(offset, "media-some") {
		if !strings.Contains(l, "level=debug") {
			t.Errorf("second scrape logged again: %s", l)
		}
	}
}

func grepLines(body, substr string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func grepSeries(series map[string]float64, substr string) map[string]float64 {
	return testutil.SeriesWhere(series, func(k string) bool { return strings.Contains(k, substr) })
}
