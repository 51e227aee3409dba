package server

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The golden exposition: a fixed fleet scraped through the real handlers,
// compared byte for byte with committed files, so that a restructuring that
// changes a series, a label, a HELP text or the order shows in review.
// go test -run TestGolden -update rewrites the files.
var update = flag.Bool("update", false, "rewrite the golden files")

const goldenDir = "testdata/golden"

// goldenExtraTargets adds a failing target to the demo fleet: a project
// the cloud does not know, so its only request gets a 404.
const goldenExtraTargets = `  - name: audit-unknown-project
    service: cts
    credentials: hw-prod
    project_id: 000000000000
    endpoint: %s
`

// timingValued are the series whose values depend on the clock; their
// values are masked, their presence and labels still compared.
var timingValued = regexp.MustCompile(`^(cloudquota_collect_duration_seconds|cloudquota_last_success_timestamp_seconds|cloudquota_exporter_config_last_reload_success_timestamp_seconds|cloudquota_upstream_clock_offset_seconds)(\{.*\})? .*$`)

// normalizeExposition drops the Go and process collectors' families and the
// build info (they describe the machine and the build, not the code under
// test) and masks timing values.
func normalizeExposition(body string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		name := line
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			name = line[len("# HELP "):]
		}
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "cloudquota_exporter_build_info") {
			continue
		}
		out = append(out, timingValued.ReplaceAllString(line, "$1$2 <timing>"))
	}
	return strings.Join(out, "\n")
}

// compareGolden compares got with the golden file name, or rewrites it
// with -update.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file %s (rerun with -update if the change is intended):\n%s", name, path, lineDiff(string(want), got))
	}
}

// lineDiff shows where got first departs from want, with a few lines of
// both sides from there.
func lineDiff(want, got string) string {
	wantLines, gotLines := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(wantLines) && i < len(gotLines) && wantLines[i] == gotLines[i] {
		i++
	}
	excerpt := func(lines []string) string {
		return strings.Join(lines[min(i, len(lines)):min(i+5, len(lines))], "\n    ")
	}
	return "from line " + strconv.Itoa(i+1) + "\n  want:\n    " + excerpt(wantLines) + "\n  got:\n    " + excerpt(gotLines)
}

// goldenServer is the demo fleet plus the failing target, scraped once so
// that the cached target (audit-dev, cache_ttl 30s) is served from its
// cache on the scrape that is compared.
func goldenServer(t *testing.T) *env {
	t.Helper()
	s := newEnv(t, envOptions{})
	s.writeConfig(t, s.yaml+strings.ReplaceAll(goldenExtraTargets, "%s", s.cloud.URL))
	if code, body := s.post(t, "/-/reload"); code != http.StatusOK {
		t.Fatalf("reload: HTTP %d %s", code, body)
	}
	if code, body := s.get(t, "/metrics"); code != http.StatusOK {
		t.Fatalf("first scrape: HTTP %d %s", code, body)
	}
	return s
}

func TestGoldenMetrics(t *testing.T) {
	s := goldenServer(t)
	code, body := s.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	compareGolden(t, "metrics.txt", normalizeExposition(body))
}

func TestGoldenProbe(t *testing.T) {
	s := goldenServer(t)
	for _, target := range []string{"desktops-prod", "media-prod", "audit-unknown-project"} {
		code, body := s.get(t, "/probe?target="+target)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		compareGolden(t, "probe-"+target+".txt", normalizeExposition(body))
	}
}

func TestGoldenServiceDiscovery(t *testing.T) {
	s := goldenServer(t)
	code, body := s.get(t, "/sd")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	compareGolden(t, "sd.json", body)
}
