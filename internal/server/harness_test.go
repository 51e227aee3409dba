package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/demo"
	"github.com/cloudquota/cloudquota_exporter/internal/logging"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// env is the exporter wired by New, as the command wires it (debug
// logging, the request counter, the status page), against fresh demo
// clouds, with its configuration in a file that tests may rewrite.
type env struct {
	cloud      *demo.Clouds
	srv        *Server
	http       *httptest.Server
	client     *http.Client
	clientTr   *http.Transport
	logs       *testutil.SyncBuffer
	configPath string
	yaml       string
}

// envOptions are what tests vary in New's options.
type envOptions struct {
	maxRequests int
	// transport replaces the upstream client's own (nil: the production
	// transport).
	transport http.RoundTripper
	// afterLoad, when set, runs after every load of the configuration
	// file, before the server applies it.
	afterLoad func()
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	clouds, err := demo.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clouds.Close() })

	e := &env{cloud: clouds, logs: &testutil.SyncBuffer{}, configPath: filepath.Join(t.TempDir(), "cloudquota.yml")}
	logger, _, err := logging.New(e.logs, "debug", "logfmt")
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = New(Options{
		Name: "cloudquota_exporter",
		Load: func() (*config.Config, error) {
			cfg, err := config.Load(e.configPath, false)
			if o.afterLoad != nil {
				o.afterLoad()
			}
			return cfg, err
		},
		ConfigFile:    e.configPath,
		Logger:        logger,
		MetricsPath:   "/metrics",
		TimeoutOffset: 500 * time.Millisecond,
		MaxRequests:   o.maxRequests,
		Concurrency:   8,
		LogRequests:   true,
		UserAgent:     "cloudquota_exporter/test",
		Transport:     o.transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The demo configuration, with a target timeout that a machine
	// starved by -race and other work still meets for the 4 MiB answers.
	yaml := demo.ConfigYAML(clouds.URL)
	if !strings.Contains(yaml, "\n  timeout: 5s\n") {
		t.Fatal("the demo configuration's global timeout moved; update the harness")
	}
	e.apply(t, strings.Replace(yaml, "\n  timeout: 5s\n", "\n  timeout: 15s\n", 1))

	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.http.Close)
	e.clientTr = &http.Transport{}
	e.client = &http.Client{Transport: e.clientTr, Timeout: 30 * time.Second}
	t.Cleanup(e.clientTr.CloseIdleConnections)
	return e
}

// writeConfig puts yaml into the configuration file without loading it.
func (e *env) writeConfig(t *testing.T, yaml string) {
	t.Helper()
	writeAtomically(t, e.configPath, yaml)
	e.yaml = yaml
}

// writeAtomically replaces the file at path with text at once, as an editor
// saving or a Kubernetes Secret update does, so that a reader never sees it
// half written.
func writeAtomically(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// apply makes yaml the exporter's configuration, as a reload would.
func (e *env) apply(t *testing.T, yaml string) {
	t.Helper()
	e.writeConfig(t, yaml)
	if _, err := e.srv.Load(); err != nil {
		t.Fatal(err)
	}
}

// get requests path from the exporter with header pairs.
func (e *env) get(t *testing.T, path string, header ...string) (int, string) {
	t.Helper()
	code, body, err := e.do(http.MethodGet, path, header...)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// post sends a POST to path.
func (e *env) post(t *testing.T, path string) (int, string) {
	t.Helper()
	code, body, err := e.do(http.MethodPost, path)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// do is get for any method, and for goroutines other than the test's.
func (e *env) do(method, path string, header ...string) (int, string, error) {
	req, err := http.NewRequest(method, e.http.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	return resp.StatusCode, string(body), nil
}

// scrapeAllUp scrapes /metrics and requires every demo target up.
func (e *env) scrapeAllUp(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	if code != http.StatusOK {
		t.Fatalf("healthy scrape: HTTP %d: %s", code, body)
	}
	series := parseSeries(body)
	for _, dt := range demoTargets {
		if series[upKey(dt)] != 1 || !hasQuotaSeries(series, dt.name) {
			t.Fatalf("healthy scrape: target %s not up with its series:\n%s\nlogs:\n%s", dt.name, body, e.logs.String())
		}
	}
	return series
}

// logLinesFor returns the log lines after offset that name the target,
// but the debug lines of its upstream requests.
func (e *env) logLinesFor(offset int, target string) []string {
	var out []string
	for _, line := range strings.Split(e.logs.Since(offset), "\n") {
		if strings.Contains(line, "target="+target+" ") && !strings.HasPrefix(line, "level=debug ") {
			out = append(out, line)
		}
	}
	return out
}

// parseSeries reads the text exposition into "name{labels}" → value;
// client_golang sorts labels by name.
func parseSeries(body string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}
