package main

// Fault matrix and secret hygiene ("Reliability and security"): every
// service's upstream answers badly in every way we could think of, one
// target at a time, and the exporter must keep serving the others, mark the
// faulty one down (or skip the single bad value), log why exactly once, and
// never show a secret anywhere.

import (
	"bytes"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cloudquota/cloudquota_exporter/collector"
	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/demo"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// demoSecrets are the secrets of the demo configuration
// (internal/demo/demo.go). Every SMH access token the simulated cloud
// issues starts with "acctk", so that prefix stands for all of them.
var demoSecrets = []string{
	"demo-library-secret-prod",
	"demo-library-secret-backup",
	"demo-secret-key-0000000000000001",
	"demo-temp-secret-key-00000000001",
	"demo-security-token",
	"acctk",
}

// demoTarget is one target of the demo configuration.
type demoTarget struct{ name, service, credential string }

var demoTargets = []demoTarget{
	{"media-prod", "smh", "media-prod"},
	{"media-backup", "smh", "media-backup"},
	{"desktops-prod", "workspace", "hw-prod"},
	{"desktops-dev", "workspace", "hw-dev-temporary"},
	{"audit-prod", "cts", "hw-prod"},
	{"audit-dev", "cts", "hw-dev-temporary"},
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

// faultEnv is the exporter's HTTP side, set up as main does it (debug
// logging through newLogger, the request counter, the status page), against
// fresh demo clouds.
type faultEnv struct {
	cloud    *demo.Clouds
	exporter *collector.Exporter
	srv      *httptest.Server
	client   *http.Client
	clientTr *http.Transport
	logs     *lockedBuffer
	yaml     string
}

// newFaultEnv starts demo clouds and an exporter polling them. transport
// replaces the upstream client's own (nil: the production transport).
func newFaultEnv(t *testing.T, transport http.RoundTripper) *faultEnv {
	t.Helper()
	clouds, err := demo.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clouds.Close() })

	logs := &lockedBuffer{}
	logger, _, err := newLogger(logs, "debug", "logfmt")
	if err != nil {
		t.Fatal(err)
	}
	reg := &exporterMetrics{}
	client := upstream.New(upstream.Options{
		MaxConcurrent: 8,
		Observer:      collector.NewRequestCounter(reg),
		Transport:     transport,
		UserAgent:     exporterName + "/test",
	})
	env := &faultEnv{
		cloud:    clouds,
		exporter: collector.New(client, log.With(logger, "component", "collector")),
		logs:     logs,
	}
	// The demo configuration, with a target timeout that a machine
	// starved by -race and other work still meets for the 4 MiB answers.
	yaml := demo.ConfigYAML(clouds.URL)
	if !strings.Contains(yaml, "\n  timeout: 5s\n") {
		t.Fatal("the demo configuration's global timeout moved; update the harness")
	}
	env.apply(t, strings.Replace(yaml, "\n  timeout: 5s\n", "\n  timeout: 15s\n", 1))

	mux := http.NewServeMux()
	reload := func() error { return nil }
	newHandlers(env.exporter, reg, logger, 500*time.Millisecond, 0, reload).
		register(mux, "/metrics", newStatusPage(env.exporter, "/metrics", logger))
	env.srv = httptest.NewServer(mux)
	t.Cleanup(env.srv.Close)
	env.clientTr = &http.Transport{}
	env.client = &http.Client{Transport: env.clientTr, Timeout: 30 * time.Second}
	t.Cleanup(env.clientTr.CloseIdleConnections)
	return env
}

// apply makes yaml the exporter's configuration, as a reload would.
func (e *faultEnv) apply(t *testing.T, yaml string) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "faults.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	e.yaml = yaml
	e.exporter.Apply(cfg)
}

// get requests path from the exporter with header pairs.
func (e *faultEnv) get(t *testing.T, path string, header ...string) (int, string) {
	t.Helper()
	code, body, err := e.do(path, header...)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// do is get for goroutines other than the test's.
func (e *faultEnv) do(path string, header ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: reading the body: %w", path, err)
	}
	return resp.StatusCode, string(body), nil
}

// scrapeAllUp scrapes /metrics and requires every demo target up.
func (e *faultEnv) scrapeAllUp(t *testing.T) map[string]float64 {
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

// logLinesFor returns the log lines after offset that name the target.
func (e *faultEnv) logLinesFor(offset int, target string) []string {
	var out []string
	for _, line := range strings.Split(e.logs.String()[offset:], "\n") {
		if strings.Contains(line, "target="+target+" ") {
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

// waitFor polls cond until it holds or the bound passes.
func waitFor(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assertNoDemoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range demoSecrets {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(i-200, 0), min(i+200, len(text))
			t.Errorf("%s contains the secret %q: …%s…", where, s, text[lo:hi])
		}
	}
}

// --- the fault cases ---

// caseRun is one fault case run against one service.
type caseRun struct {
	svc     string
	target  demoTarget
	env     *faultEnv
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
	// authFailure: the credential backs off, which may down its other
	// targets in the same scrape.
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

// Healthy answers, with one element each case can break.
const (
	smhGoodFirst = `{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"66571993088"}`
	smhRest      = `{"spaceId":"space-archive","capacity":"53687091200","availableSpace":"3758096384","size":"49929650176"},` +
		`{"spaceId":"space-scratch","capacity":null,"availableSpace":null,"size":"12884901888"}`
	hwGoodFirst = `{"type":"cores","unit":"count","quota":400,"used":80}`
	hwRest      = `{"type":"users","unit":"count","quota":500,"used":100}`
)

func smhBody(first string) string { return "[" + first + "," + smhRest + "]" }

func hwBody(svc, first string) string {
	b := `{"resources":[` + first + "," + hwRest + "]"
	if svc == "workspace" {
		b += `,"site_id":"site-dev"`
	}
	return b + "}"
}

func goodBody(svc string) string {
	if svc == "smh" {
		return smhBody(smhGoodFirst)
	}
	return hwBody(svc, hwGoodFirst)
}

// answer200 answers 200 with a JSON body made for the service.
func answer200(body func(c *caseRun, r *http.Request) string) responder {
	return func(c *caseRun, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, body(c, r))
	}
}

// firstBroken answers the healthy body with its first element replaced.
func firstBroken(smhFirst, hwFirst string) responder {
	return answer200(func(c *caseRun, _ *http.Request) string {
		if c.svc == "smh" {
			return smhBody(smhFirst)
		}
		return hwBody(c.svc, hwFirst)
	})
}

// whole answers a whole body per provider.
func whole(smh, hw string) responder {
	return answer200(func(c *caseRun, _ *http.Request) string {
		if c.svc == "smh" {
			return smh
		}
		return hw
	})
}

func hang(c *caseRun, w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-c.release:
	}
}

// resetMidBody sends the status line, headers and part of the body, then
// resets the connection.
func resetMidBody(c *caseRun, w http.ResponseWriter, r *http.Request) {
	id := w.Header().Get("X-Request-Id")
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: %s\r\nContent-Length: 4096\r\n\r\n", id)
	buf.WriteString(goodBody(c.svc)[:30])
	buf.Flush()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

// shortBody declares more bytes than it sends.
func shortBody(c *caseRun, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "4096")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, goodBody(c.svc)[:30])
}

const hugeBody = 100 << 20

// streamHuge streams a 100 MiB answer of well-formed elements without
// holding it in memory, stopping when the client hangs up.
func streamHuge(status int) responder {
	return func(c *caseRun, w http.ResponseWriter, r *http.Request) {
		defer c.doneOnce.Do(func() { close(c.hookDone) })
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		elem := hwGoodFirst + ","
		head := `{"resources":[`
		if c.svc == "smh" {
			elem, head = smhGoodFirst+",", "["
		}
		chunk := []byte(strings.Repeat(elem, 64<<10/len(elem)))
		n, _ := io.WriteString(w, head)
		written := int64(n)
		for written < hugeBody {
			n, err := w.Write(chunk)
			written += int64(n)
			if err != nil {
				break
			}
		}
		c.written.CompareAndSwap(0, written)
	}
}

// redirect answers 302 to another loopback server, query (with the SMH
// access token or library secret) and all.
func redirect(c *caseRun, w http.ResponseWriter, r *http.Request) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.otherHits.Add(1)
		io.WriteString(w, goodBody(c.svc))
	}))
	// Closed when the test ends, not now: a client that followed the
	// redirect would find it there.
	go func() { <-c.release; other.Close() }()
	http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
}

// errorCode is the documented error code the upstream sends with status.
func errorCode(svc string, token bool, status int) string {
	if svc == "smh" {
		switch status {
		case 400:
			return "ParamInvalid"
		case 401:
			return "Unauthenticated"
		case 403:
			if token {
				return "NoPermission"
			}
			return "InvalidAccessToken" // a new token is fetched and the request retried once
		case 404:
			if token {
				return "WrongLibraryIdOrSecret" // the credential backs off
			}
			return "SpaceNotFound"
		case 429:
			return "RateLimitExceeded"
		}
		return "InternalError"
	}
	switch status {
	case 401:
		return "APIGW.0301" // the credential backs off
	case 403:
		return "APIGW.0302"
	case 404:
		return "APIGW.0101"
	case 429:
		return "APIGW.0308"
	}
	if svc == "workspace" {
		return fmt.Sprintf("WKS.00000%d", status)
	}
	return fmt.Sprintf("CTS.%04d", status)
}

const htmlErrorPage = `<html>
<head><title>%[1]d %[2]s</title></head>
<body><center><h1>%[1]d %[2]s</h1></center><hr><center>nginx</center></body>
</html>`

// errorAnswer answers status with the documented error body, none, or an
// HTML error page.
func errorAnswer(status int, variant, retryAfter string, token bool) responder {
	return func(c *caseRun, w http.ResponseWriter, r *http.Request) {
		id := w.Header().Get("X-Request-Id")
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		switch variant {
		case "documented body":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			code, msg := errorCode(c.svc, token, status), fmt.Sprintf("simulated %d fault", status)
			if c.svc == "smh" {
				fmt.Fprintf(w, `{"code":%q,"message":%q,"requestId":%q}`, code, msg, id)
			} else {
				fmt.Fprintf(w, `{"error_code":%q,"error_msg":%q,"request_id":%q}`, code, msg, id)
			}
		case "no body":
			w.WriteHeader(status)
		case "HTML page":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, htmlErrorPage, status, http.StatusText(status))
		}
	}
}

// ownSecret is the secret of a target's credential that its requests do
// not carry but the cloud knows.
var ownSecret = map[string]string{
	"media-prod":    "demo-library-secret-prod",
	"media-backup":  "demo-library-secret-backup",
	"desktops-prod": "demo-secret-key-0000000000000001",
	"desktops-dev":  "demo-temp-secret-key-00000000001",
	"audit-prod":    "demo-secret-key-0000000000000001",
	"audit-dev":     "demo-temp-secret-key-00000000001",
}

// echoSecrets answers an error whose message repeats every secret the
// request carried (query, token header) and its credential's secret.
func echoSecrets(c *caseRun, w http.ResponseWriter, r *http.Request) {
	id := w.Header().Get("X-Request-Id")
	echo := fmt.Sprintf("bad request %s; token=%s; security=%s; key %s",
		r.URL.RawQuery, r.URL.Query().Get("access_token"), r.Header.Get("X-Security-Token"), ownSecret[c.target.name])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	if c.svc == "smh" {
		fmt.Fprintf(w, `{"code":"ParamInvalid","message":%q,"requestId":%q}`, echo, id)
	} else {
		fmt.Fprintf(w, `{"error_code":"APIGW.0201","error_msg":%q,"request_id":%q}`, echo, id)
	}
}

func statusCases(token bool) []faultCase {
	var cases []faultCase
	add := func(status int, variant, retryAfter string) {
		name := fmt.Sprintf("HTTP %d %s", status, variant)
		if retryAfter != "" {
			name += " Retry-After " + retryAfter
		}
		fc := faultCase{
			name:    name,
			token:   token,
			respond: errorAnswer(status, variant, retryAfter, token),
			logs:    all([]string{`msg="Target poll failed"`, "status=" + strconv.Itoa(status), fmt.Sprintf("HTTP %d", status)}),
			// Huawei's gateway: any 401 is the credential refused.
			authFailure: func(svc string) bool { return svc != "smh" && status == 401 },
			backoff: func(svc string) bool {
				switch {
				case svc != "smh":
					return status == 401
				case token:
					return status == 404 && variant == "documented body" // WrongLibraryIdOrSecret
				default:
					return status == 403 && variant == "documented body" // InvalidAccessToken after a retry
				}
			},
			throttled: status == 429,
		}
		switch variant {
		case "documented body":
			base := fc.logs[""]
			fc.logs = map[string][]string{}
			for _, svc := range []string{"smh", "workspace", "cts"} {
				fc.logs[svc] = slices.Concat(base, []string{"code=" + errorCode(svc, token, status), fmt.Sprintf("simulated %d fault", status)})
			}
		case "no body":
			fc.logs[""] = append(fc.logs[""], http.StatusText(status))
		case "HTML page":
			fc.logs[""] = append(fc.logs[""], "non-JSON text/html body")
		}
		if retryAfter != "" {
			fc.check = func(t *testing.T, c *caseRun, _ map[string]float64) {
				_, page := c.env.get(t, "/")
				if !strings.Contains(page, "throttled by upstream, next request in") {
					t.Errorf("status page does not say the target is throttled")
				}
			}
		}
		cases = append(cases, fc)
	}
	for _, status := range []int{400, 401, 403, 404, 429, 500, 502, 503, 504} {
		for _, variant := range []string{"documented body", "no body", "HTML page"} {
			add(status, variant, "")
		}
	}
	add(429, "documented body", "7")
	add(429, "no body", "120")
	return cases
}

// networkCases break the connection rather than the answer.
func networkCases(token bool) []faultCase {
	return []faultCase{
		{name: "connection reset mid-body", token: token, respond: resetMidBody,
			logs: all([]string{`msg="Target poll failed"`, "connection reset by peer", "status=200"})},
		{name: "body shorter than Content-Length", token: token, respond: shortBody,
			logs: all([]string{`msg="Target poll failed"`, "unexpected EOF", "status=200"})},
		{name: "100 MiB body", token: token, respond: streamHuge(http.StatusOK),
			logs: all([]string{`msg="Target poll failed"`, "response body too large: more than 4194304 bytes", "status=200"}),
			check: func(t *testing.T, c *caseRun, _ map[string]float64) {
				select {
				case <-c.hookDone:
				case <-time.After(10 * time.Second):
					t.Fatal("the huge-body upstream is still sending 10s after the scrape")
				}
				if w := c.written.Load(); w >= hugeBody {
					t.Errorf("the exporter read all %d bytes of a 100 MiB answer; it must stop at its cap", w)
				}
			}},
		{name: "100 MiB error body", token: token, respond: streamHuge(http.StatusBadGateway),
			logs: all([]string{`msg="Target poll failed"`, "response body too large", "status=502"})},
		{name: "never answers", token: token, respond: hang, hang: true,
			logs: all([]string{`msg="Target poll abandoned: every scrape waiting for it reached its deadline"`})},
		{name: "302 to another host", token: token, respond: redirect,
			logs: all([]string{`msg="Target poll failed"`, "HTTP 302", "status=302"}),
			check: func(t *testing.T, c *caseRun, _ map[string]float64) {
				if n := c.otherHits.Load(); n != 0 {
					t.Errorf("the redirect target received %d requests; it must receive none", n)
				}
			}},
	}
}

// endpointCases point the faulted target at something that is not the cloud.
func endpointCases() []faultCase {
	return []faultCase{
		{name: "connection refused", noResponse: true,
			endpoint: func(t *testing.T, c *caseRun) string {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				return "http://" + addr
			},
			logs: all([]string{`msg="Target poll failed"`, "connection refused"})},
		{name: "TLS to a plain HTTP listener", noResponse: true,
			endpoint: func(t *testing.T, c *caseRun) string {
				return "https://" + strings.TrimPrefix(c.env.cloud.URL, "http://")
			},
			logs: all([]string{`msg="Target poll failed"`, "http: server gave HTTP response to HTTPS client"})},
		{name: "TLS certificate not trusted", noResponse: true,
			endpoint: func(t *testing.T, c *caseRun) string {
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c.otherHits.Add(1)
				}))
				srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // handshake errors expected
				srv.StartTLS()
				t.Cleanup(srv.Close)
				return srv.URL
			},
			logs: all([]string{`msg="Target poll failed"`, "x509: certificate signed by unknown authority"}),
			check: func(t *testing.T, c *caseRun, _ map[string]float64) {
				if n := c.otherHits.Load(); n != 0 {
					t.Errorf("the untrusted TLS server received %d requests", n)
				}
			}},
	}
}

// bodyCases answer 200 with a body of the wrong kind or shape.
func bodyCases() []faultCase {
	failed := func(extra ...string) map[string][]string {
		return map[string][]string{"": append([]string{`msg="Target poll failed"`, "unusable answer"}, extra...)}
	}
	skipped := `msg="Skipped an unusable upstream value"`
	up1 := all(1.0)
	absent := func(smh, hw string) func(t *testing.T, c *caseRun, series map[string]float64) {
		return func(t *testing.T, c *caseRun, series map[string]float64) {
			t.Helper()
			missing, kept := smhKey(smh, "space-media"), smhKey("capacity", "space-archive")
			if c.svc != "smh" {
				missing, kept = hwKey(c.svc, hw, "cores"), hwKey(c.svc, "used", "users")
			}
			if _, ok := series[missing]; ok {
				t.Errorf("series %s present; its value was unusable or absent", missing)
			}
			if _, ok := series[kept]; !ok {
				t.Errorf("series %s missing; only the bad value should be", kept)
			}
		}
	}
	return []faultCase{
		{name: "malformed JSON", respond: whole(`[{"spaceId":"space-media" "size":"1"}]`, `{"resources":[{"type":"cores" "quota":1}]}`),
			logs: failed("invalid character")},
		{name: "empty body", respond: whole("", ""),
			logs: map[string][]string{"smh": failed("an empty body")[""], "hw": failed("is empty, want a JSON object")[""]}},
		{name: "truncated JSON", respond: answer200(func(c *caseRun, _ *http.Request) string { return goodBody(c.svc)[:60] }),
			logs: failed("unexpected end of JSON input")},
		{name: "object for array", respond: whole(smhGoodFirst, `{"resources":`+hwGoodFirst+`}`),
			logs: map[string][]string{"smh": failed("want a JSON array of spaces, got an object")[""], "hw": failed(`\"resources\" is an object, want an array`)[""]}},
		{name: "array for object", respond: whole(`[["space-media","1"]]`, "["+hwGoodFirst+"]"),
			logs: map[string][]string{"smh": failed("element 0: want an object, got an array")[""], "hw": failed("body: is an array, want a JSON object")[""]}},
		{name: "null body", respond: whole("null", "null"),
			logs: map[string][]string{"smh": failed("got null")[""], "hw": failed("body: is null")[""]}},
		{name: "null element", respond: whole("[null]", `{"resources":[null]}`),
			logs: map[string][]string{"smh": failed("element 0: want an object, got null")[""], "hw": failed("resources[0]: is null")[""]}},
		{name: "null list", only: "workspace", respond: whole("", `{"resources":null,"site_id":null}`),
			logs: failed(`\"resources\" is null, want an array`)},
		{name: "missing top-level field", respond: whole(`[{"capacity":"1","availableSpace":"1","size":"0"}]`, `{"site_id":"site-dev"}`),
			logs: map[string][]string{"smh": failed("element 0: no spaceId")[""], "hw": failed(`body has no \"resources\" field`)[""]}},
		{name: "null values", up: up1, lines: all(0),
			respond: firstBroken(`{"spaceId":"space-media","capacity":null,"availableSpace":null,"size":null}`, `{"type":"cores","unit":null,"quota":null,"used":null}`),
			check: func(t *testing.T, c *caseRun, series map[string]float64) {
				for k := range series {
					if !strings.Contains(k, `target="`+c.target.name+`"`) {
						continue
					}
					if strings.Contains(k, `space_id="space-media"`) || (c.svc != "smh" && strings.Contains(k, `resource="cores"`)) {
						t.Errorf("a null value got a sample: %s", k)
					}
				}
			}},
		{name: "missing value field", up: up1, lines: all(0),
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312"}`, `{"type":"cores","unit":"count","quota":400}`),
			check:   absent("used", "used")},
		{name: "null id", up: map[string]float64{"smh": 0, "hw": 1},
			respond: firstBroken(`{"spaceId":null,"capacity":"1","availableSpace":"1","size":"1"}`, `{"type":null,"unit":"count","quota":400,"used":80}`),
			logs:    map[string][]string{"smh": failed("element 0: no spaceId")[""], "hw": {skipped, "resources[0]: empty type; entry skipped"}}},
		{name: "string for number", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"lots"}`, `{"type":"cores","unit":"count","quota":400,"used":"80"}`),
			logs: map[string][]string{
				"smh": {skipped, `space \"space-media\" size: \"lots\": not a non-negative integer`},
				"hw":  {skipped, `resource \"cores\" used: want an integer, got a string \"80\"`}},
			check: absent("used", "used")},
		{name: "number for string", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":66571993088}`, `{"type":7,"unit":"count","quota":400,"used":80}`),
			logs: map[string][]string{
				"smh": {skipped, `space \"space-media\" size: want a decimal string, got a number 66571993088`},
				"hw":  {skipped, "resources[0] type: is a number, want a string; entry skipped"}},
			check: absent("used", "used")},
		{name: "number for id string", up: map[string]float64{"smh": 0, "hw": 1},
			respond: firstBroken(`{"spaceId":7,"capacity":"1","availableSpace":"1","size":"1"}`, `{"type":"cores","unit":7,"quota":400,"used":80}`),
			logs: map[string][]string{
				"smh": failed("element 0: json: cannot unmarshal number")[""],
				"hw":  {skipped, `resource \"cores\" unit: is a number, want a string`}}},
		{name: "object for number", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":{"bytes":"1"}}`, `{"type":"cores","unit":"count","quota":400,"used":[80]}`),
			logs: map[string][]string{
				"smh": {skipped, "want a decimal string, got an object"},
				"hw":  {skipped, "want an integer, got an array"}},
			check: absent("used", "used")},
		{name: "negative number", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"-5"}`, `{"type":"cores","unit":"count","quota":400,"used":-1}`),
			logs:    all([]string{skipped, "negative value"}),
			check:   absent("used", "used")},
		{name: "fraction", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"1.5"}`, `{"type":"cores","unit":"count","quota":400,"used":1.5}`),
			logs:    all([]string{skipped, "not a non-negative integer"}),
			check:   absent("used", "used")},
		{name: "number beyond 2^53", up: up1, lines: all(0),
			respond: firstBroken(`{"spaceId":"space-media","capacity":"9007199254740993","availableSpace":"40802189312","size":"66571993088"}`, `{"type":"cores","unit":"count","quota":9007199254740993,"used":80}`),
			check: func(t *testing.T, c *caseRun, series map[string]float64) {
				key := smhKey("capacity", "space-media")
				if c.svc != "smh" {
					key = hwKey(c.svc, "limit", "cores")
				}
				if got, ok := series[key]; !ok || got != float64(9007199254740993) {
					t.Errorf("%s = %v (present %v), want 2^53+1 as the nearest float", key, got, ok)
				}
			}},
		{name: "number beyond 2^64", up: up1,
			respond: firstBroken(`{"spaceId":"space-media","capacity":"99999999999999999999","availableSpace":"40802189312","size":"66571993088"}`, `{"type":"cores","unit":"count","quota":99999999999999999999,"used":80}`),
			logs:    all([]string{skipped, "too large"}),
			check:   absent("capacity", "limit")},
		{name: "extra unknown fields", up: up1, lines: all(0),
			respond: answer200(func(c *caseRun, _ *http.Request) string {
				if c.svc == "smh" {
					return `[{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":"66571993088","tier":{"hot":[1,2]},"owner":null},` + smhRest + `]`
				}
				return `{"resources":[{"type":"cores","unit":"count","quota":400,"used":80,"region":"cn-north-4","details":{"a":[1]}},` + hwRest + `],"site_id":"site-dev","page":{"next":null},"count":2}`
			}),
			check: func(t *testing.T, c *caseRun, series map[string]float64) {
				key := smhKey("used", "space-media")
				if c.svc != "smh" {
					key = hwKey(c.svc, "used", "cores")
				}
				if _, ok := series[key]; !ok {
					t.Errorf("%s missing: unknown fields must be ignored", key)
				}
			}},
		// SMH knows which spaces it was asked for and notes each one left
		// out (media-prod has three); Huawei cannot tell what is missing.
		{name: "empty list", up: up1, lines: map[string]int{"smh": 3, "hw": 0}, logs: map[string][]string{"smh": {"not in the answer"}},
			respond: whole("[]", `{"resources":[],"site_id":"site-dev"}`)},
		{name: "secret echoed in a value", up: up1,
			respond: answer200(func(c *caseRun, r *http.Request) string {
				if c.svc == "smh" {
					return smhBody(fmt.Sprintf(`{"spaceId":"space-media","capacity":"107374182400","availableSpace":"40802189312","size":%q}`, r.URL.Query().Get("access_token")))
				}
				secret := "demo-secret-key-0000000000000001"
				if tok := r.Header.Get("X-Security-Token"); tok != "" {
					secret = tok
				}
				return hwBody(c.svc, fmt.Sprintf(`{"type":"cores","unit":"count","quota":400,"used":%q}`, secret))
			}),
			logs:  all([]string{skipped, "<secret>"}),
			check: absent("used", "used")},
		{name: "secrets echoed in an error body", respond: echoSecrets,
			logs: all([]string{`msg="Target poll failed"`, "status=400", "<secret>"})},
	}
}

// tokenBodyCases break the SMH token answer.
func tokenBodyCases() []faultCase {
	failed := func(extra ...string) map[string][]string {
		return all(append([]string{`msg="Target poll failed"`, "smh token: unusable answer"}, extra...))
	}
	cases := []faultCase{
		{name: "malformed JSON", respond: whole(`{"accessToken" "x"}`, ""), logs: failed("invalid character")},
		{name: "empty body", respond: whole("", ""), logs: failed("unexpected end of JSON input")},
		{name: "truncated JSON", respond: whole(`{"accessToken":"acctk00`, ""), logs: failed("unexpected end of JSON input")},
		{name: "array for object", respond: whole(`[{"accessToken":"acctk0000","expiresIn":7200}]`, ""), logs: failed("cannot unmarshal array")},
		{name: "number for string", respond: whole(`{"accessToken":12345,"expiresIn":7200}`, ""), logs: failed("cannot unmarshal number")},
		{name: "string for number", respond: whole(`{"accessToken":"acctk0000","expiresIn":"7200"}`, ""), logs: failed("cannot unmarshal string")},
		{name: "negative number", respond: whole(`{"accessToken":"acctk0000","expiresIn":-1}`, ""), logs: failed("expiresIn is -1")},
		{name: "missing field", respond: whole(`{"expiresIn":7200}`, ""), logs: failed("no accessToken")},
		{name: "null body", respond: whole(`null`, ""), logs: failed("no accessToken")},
		{name: "null values", respond: whole(`{"accessToken":null,"expiresIn":null}`, ""), logs: failed("no accessToken")},
		{name: "secrets echoed in an error body", respond: echoSecrets,
			logs: all([]string{`msg="Target poll failed"`, "status=400", "<secret>"})},
	}
	for i := range cases {
		cases[i].token = true
	}
	return cases
}

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
	env := newFaultEnv(t, nil)
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
	offset := len(env.logs.String())
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

	// Every other target, except those of a credential the fault made back off.
	mayBeDown := func(dt demoTarget) bool {
		return fc.authFailure != nil && fc.authFailure(svc) && dt.credential == target.credential
	}
	for _, dt := range demoTargets {
		if dt == target || mayBeDown(dt) {
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
		waitFor(10*time.Second, func() bool { return len(env.logLinesFor(offset, target.name)) >= wantLines })
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
		if dt == target || mayBeDown(dt) {
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
			key := fmt.Sprintf(`cloudquota_credential_backoff_seconds{credential=%q}`, target.credential)
			if again[key] <= 0 {
				t.Errorf("%s = %v, want > 0", key, again[key])
			}
		}
		if fc.authFailure != nil && fc.authFailure(svc) {
			// The credential's other targets: desktops-prod now backs off
			// too; audit-dev's answer is cached for 30s and stays up.
			for _, dt := range demoTargets {
				if dt == target || dt.credential != target.credential {
					continue
				}
				want := 0.0
				if dt.name == "audit-dev" {
					want = 1
				}
				if again[upKey(dt)] != want {
					t.Errorf("second scrape: %s (same credential) up = %v, want %v", dt.name, again[upKey(dt)], want)
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

// --- goroutines ---

// upstreamTransport is the production transport's settings, on a value the
// test can close idle connections of.
func upstreamTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}

// Scrapes abandoned at their deadline while upstream hangs (data requests
// and SMH token requests) leave no goroutine behind once upstream answers.
func TestNoGoroutineLeakAfterHangingUpstream(t *testing.T) {
	tr := upstreamTransport()
	env := newFaultEnv(t, tr)
	env.scrapeAllUp(t)

	settled := func() int {
		tr.CloseIdleConnections()
		env.clientTr.CloseIdleConnections()
		return runtime.NumGoroutine()
	}
	// The baseline: the servers, their listeners and nothing in flight;
	// taken once two readings agree.
	baseline := settled()
	waitFor(2*time.Second, func() bool {
		prev := baseline
		baseline = settled()
		return baseline == prev
	})

	release := make(chan struct{})
	var hung, peak atomic.Int32
	env.cloud.RevokeTokens() // the next SMH polls need new tokens, which hang too
	env.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		hung.Add(1)
		if n := int32(runtime.NumGoroutine()); n > peak.Load() {
			peak.Store(n)
		}
		select {
		case <-release:
			return false // then answer normally
		case <-r.Context().Done():
			return true
		}
	})
	for range 4 {
		var wg sync.WaitGroup
		for _, path := range []string{"/metrics", "/metrics", "/probe?target=media-prod", "/probe?target=audit-prod"} {
			wg.Go(func() {
				start := time.Now()
				code, _, err := env.do(path, scrapeTimeoutHeader, "0.3")
				if err != nil || code != http.StatusOK || time.Since(start) > 2300*time.Millisecond {
					t.Errorf("%s against a hanging upstream: HTTP %d, %v, after %s", path, code, err, time.Since(start))
				}
			})
		}
		wg.Wait()
	}
	if hung.Load() == 0 {
		t.Fatal("no request reached the hanging upstream")
	}
	close(release)
	env.cloud.SetHook(nil)
	// The exporter recovers: every target up again.
	if !waitFor(10*time.Second, func() bool {
		_, body := env.get(t, "/metrics", scrapeTimeoutHeader, "5")
		s := parseSeries(body)
		for _, dt := range demoTargets {
			if s[upKey(dt)] != 1 {
				return false
			}
		}
		return true
	}) {
		t.Errorf("targets not all up after the upstream recovered:\n%s", env.logs.String())
	}

	const slack = 2
	var now int
	if !waitFor(15*time.Second, func() bool { now = settled(); return now <= baseline+slack }) {
		var stacks bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("%d goroutines after the hang, %d before: leaked?\n%s", now, baseline, stacks.String())
	}
	t.Logf("goroutines: %d before the hang, %d at its peak, %d after", baseline, peak.Load(), now)
}

// --- --config.check ---

// captureRun runs the command line with stdout and stderr captured.
func captureRun(t *testing.T, args ...string) (code int, output string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, r); close(done) }()
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
	}()
	code = run(args)
	os.Stdout, os.Stderr = oldOut, oldErr
	w.Close()
	<-done
	r.Close()
	return code, buf.String()
}

func TestConfigCheckPrintsNoSecret(t *testing.T) {
	const (
		sk       = "cfgcheck-secret-key-91f3"
		token    = "cfgcheck-security-token-77ab"
		libSec   = "cfgcheck-library-secret-c0de"
		typoSec  = "cfgcheck-typo-secret-5e5e"
		envSec   = "cfgcheck-env-secret-4242"
		fileSec  = "cfgcheck-file-secret-abcd"
		listSec1 = "cfgcheck-list-secret-1111"
	)
	secrets := []string{sk, token, libSec, typoSec, envSec, fileSec, listSec1}
	t.Setenv("CQ_FAULTS_TEST_SK", envSec)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "lib.secret")
	os.WriteFile(secretFile, []byte(fileSec+"\n"), 0o600)

	credentials := fmt.Sprintf(`credentials:
  - name: hw
    type: huaweicloud
    access_key: AKCFGCHECK
    secret_key: %s
    security_token: %s
  - name: media
    type: tencent_smh
    library_id: lib1
    library_secret: %s
`, sk, token, libSec)
	targets := `targets:
  - name: t1
    service: cts
    credentials: hw
    project_id: p1
    endpoint: http://127.0.0.1:9
  - name: t2
    service: smh
    credentials: media
    space_ids: [s1]
    endpoint: http://127.0.0.1:9
`
	cases := []struct {
		name, yaml string
		wantCode   int
		want       []string
	}{
		{"valid", credentials + targets, 0, []string{"is valid"}},
		{"unknown key next to inline secrets",
			strings.Replace(credentials, "    security_token: "+token+"\n", "    security_token: "+token+"\n    secret_kee: "+typoSec+"\n", 1) + targets,
			1, []string{`unknown key "secret_kee"`, `did you mean "secret_key"?`}},
		{"secret given as a list",
			strings.Replace(credentials, "secret_key: "+sk, "secret_key: ["+sk+", "+listSec1+"]", 1) + targets,
			1, []string{"secret_key", "expected a string, got a list"}},
		{"secret and secret file both set",
			strings.Replace(credentials, "library_secret: "+libSec, "library_secret: "+libSec+"\n    library_secret_file: "+secretFile, 1) + targets,
			1, []string{"library_secret: set both library_secret and library_secret_file"}},
		{"secret from the environment, bad target",
			strings.Replace(credentials, "secret_key: "+sk, "secret_key: ${CQ_FAULTS_TEST_SK}", 1) + strings.Replace(targets, "service: cts", "service: ctx", 1),
			1, []string{`unknown service "ctx"`}},
		{"secret from a file, unknown credential",
			strings.Replace(credentials, "library_secret: "+libSec, "library_secret_file: "+secretFile, 1) + strings.Replace(targets, "credentials: media", "credentials: medai", 1),
			1, []string{`no credential named "medai"`}},
		{"secret in a broken line",
			strings.Replace(credentials, "secret_key: "+sk, "secret_key: \""+sk, 1) + targets,
			1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := captureRun(t, "--config.check", "--config.file="+path, "--config.expand-environment-variables")
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d: %s", code, tc.wantCode, out)
			}
			if tc.wantCode != 0 && !strings.Contains(out, path) {
				t.Errorf("the message does not name the file: %s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q: %s", want, out)
				}
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("--config.check output contains the secret %q: %s", s, out)
				}
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(out))
		})
	}
}

// The status page, error responses and a debug-level log while every
// target fails at once (each with a different fault) carry no secret.
func TestNoSecretWithEveryTargetFailingAtDebugLevel(t *testing.T) {
	env := newFaultEnv(t, nil)
	env.scrapeAllUp(t)
	env.cloud.RevokeTokens()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	env.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/api/v1/token" && r.URL.Query().Get("library_id") == "smhdemoprod":
			redirect(&caseRun{svc: "smh", release: release}, w, r)
		case r.URL.Path == "/api/v1/token":
			echoSecrets(&caseRun{svc: "smh", target: demoTargets[1]}, w, r)
		case strings.HasPrefix(r.URL.Path, "/v2/0a1b2c3d4e5f/"):
			errorAnswer(401, "documented body", "", false)(&caseRun{svc: "workspace"}, w, r)
		case strings.HasPrefix(r.URL.Path, "/v2/9f8e7d6c5b4a/"):
			echoSecrets(&caseRun{svc: "workspace", target: demoTargets[3]}, w, r)
		case strings.HasPrefix(r.URL.Path, "/v3/0a1b2c3d4e5f/"):
			resetMidBody(&caseRun{svc: "cts"}, w, r)
		default:
			return false // audit-dev is served from its cache anyway
		}
		return true
	})
	_, metrics := env.get(t, "/metrics", scrapeTimeoutHeader, "2")
	series := parseSeries(metrics)
	for _, dt := range demoTargets {
		want := 0.0
		if dt.name == "audit-dev" {
			want = 1
		}
		if series[upKey(dt)] != want {
			t.Errorf("%s: up %v, want %v", dt.name, series[upKey(dt)], want)
		}
	}
	texts := map[string]string{"/metrics": metrics}
	for _, dt := range demoTargets {
		_, texts["/probe "+dt.name] = env.get(t, "/probe?target="+dt.name, scrapeTimeoutHeader, "2")
	}
	_, texts["/"] = env.get(t, "/")
	_, texts["unknown target"] = env.get(t, "/probe?target=unknown")
	for where, text := range texts {
		assertNoDemoSecret(t, where, text)
	}
	logs := env.logs.String()
	assertNoDemoSecret(t, "the log", logs)
	// An echoed query shows up scrubbed; any other access_token= or
	// library_secret= would be a request URL.
	scrubbed := regexp.MustCompile(`(access_token|library_secret)=(<secret>|&lt;secret&gt;)`)
	for where, text := range map[string]string{"the log": logs, "the status page": texts["/"]} {
		text = scrubbed.ReplaceAllString(text, "")
		for _, unwanted := range []string{"access_token=", "library_secret="} {
			if strings.Contains(text, unwanted) {
				t.Errorf("a request URL with %s reached %s", unwanted, where)
			}
		}
	}
	// Sanity: the log did get the failures, at debug level nothing extra.
	if n := strings.Count(logs, `msg="Target poll failed"`); n < 5 {
		t.Errorf("only %d failures logged:\n%s", n, logs)
	}
}
