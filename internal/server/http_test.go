package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// Any method but GET and HEAD on a scrape endpoint is 405 and polls
// nothing; HEAD polls (it is a scrape whose body is not wanted).
func TestScrapeEndpointsAnswerOnlyGetAndHead(t *testing.T) {
	s := newEnv(t, envOptions{})
	before := s.cloud.Counts()
	for _, path := range []string{"/metrics", "/probe?target=audit-prod", "/sd", "/-/healthy", "/-/ready"} {
		for _, method := range []string{http.MethodOptions, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "PROPFIND"} {
			code, body, err := s.do(method, path)
			if err != nil {
				t.Fatal(err)
			}
			if code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: HTTP %d %q, want 405", method, path, code, body)
			}
		}
	}
	if after := s.cloud.Counts(); dataRequests(after) != dataRequests(before) {
		t.Errorf("refused methods polled upstream: %v → %v", before, after)
	}
	if code, _, err := s.do(http.MethodHead, "/probe?target=audit-prod"); err != nil || code != http.StatusOK {
		t.Errorf("HEAD /probe: HTTP %d, %v", code, err)
	}
}

func dataRequests(counts map[string]int) int {
	return counts[simcloud.OpSMHUsage] + counts[simcloud.OpWorkspaceQuotas] + counts[simcloud.OpCTSQuotas]
}

func TestScrapeTimeoutHeaderMustBeFinitePositive(t *testing.T) {
	s := newEnv(t, envOptions{})
	for _, v := range []string{"NaN", "nan", "-NaN", "Inf", "+Inf", "-Inf", "0", "-1", "1e7", "soon", "0x10", ""} {
		for _, path := range []string{"/metrics", "/probe?target=audit-prod"} {
			code, body := s.get(t, path, scrapeTimeoutHeader, v)
			if v == "" { // no header
				if code != http.StatusOK {
					t.Errorf("%s with %q: HTTP %d", path, v, code)
				}
				continue
			}
			if code != http.StatusBadRequest || !strings.Contains(body, scrapeTimeoutHeader) {
				t.Errorf("%s with %s %q: HTTP %d %q, want 400 naming the header", path, scrapeTimeoutHeader, v, code, body)
			}
		}
	}
}

// Prometheus 3 asks for OpenMetrics first and must get it; a scraper that
// asks for nothing gets the classic text format.
func TestOpenMetricsWhenAskedFor(t *testing.T) {
	s := newEnv(t, envOptions{})
	const prom3Accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	for _, path := range []string{"/metrics", "/probe?target=audit-prod"} {
		req, _ := http.NewRequest(http.MethodGet, s.http.URL+path, nil)
		req.Header.Set("Accept", prom3Accept)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
			t.Errorf("%s with Prometheus 3's Accept: Content-Type %q, want OpenMetrics", path, ct)
		}
		resp, err = s.client.Get(s.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s without Accept: Content-Type %q, want the text format", path, ct)
		}
	}
}

// Stop answers a scrape in flight with what it has: the target whose
// upstream hangs is down, the others are up, and it comes at once.
func TestStopAnswersScrapesInFlight(t *testing.T) {
	s := newEnv(t, envOptions{})
	s.scrapeAllUp(t)
	hanging := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, upstreamPrefix["cts"]) {
			return false
		}
		close(hanging)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	started := time.Now()
	go func() {
		code, body, err := s.do(http.MethodGet, "/metrics", scrapeTimeoutHeader, "60")
		done <- result{code, body, err}
	}()
	<-hanging
	// Stop once every other target has its answer (audit-dev is served
	// from its cache).
	testutil.WaitFor(t, func() bool {
		for _, st := range s.srv.Exporter().Status() {
			if st.Name != faultedTargets["cts"].name && st.Name != "audit-dev" && !st.LastSuccess.After(started) {
				return false
			}
		}
		return true
	})
	stopped := time.Now()
	s.srv.Stop()
	r := <-done
	if took := time.Since(stopped); took > time.Second {
		t.Errorf("the scrape ended %s after Stop", took)
	}
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("scrape in flight at Stop: HTTP %d, %v", r.code, r.err)
	}
	series := parseSeries(r.body)
	for _, dt := range demoTargets {
		want := 1.0
		if dt == faultedTargets["cts"] {
			want = 0
		}
		if series[upKey(dt)] != want {
			t.Errorf("%s: up %v, want %v", dt.name, series[upKey(dt)], want)
		}
	}
}

// net/http's own messages, a TLS handshake error among them, go through
// the structured logger at error level.
func TestServerErrorsReachTheLogger(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	logger := log.NewLogfmtLogger(logs)
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: ErrorLog(logger), TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // plain HTTP to a TLS port
	conn.Close()
	testutil.WaitFor(t, func() bool { return strings.Contains(logs.String(), "TLS handshake error") })
	line := logs.String()
	if !strings.Contains(line, "level=error") || !strings.Contains(line, `msg="http: TLS handshake error from`) {
		t.Errorf("handshake error not logged as a structured error line: %s", line)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// /probe?target=NAME&debug=true tells the poll's story as text: how the
// answer came, each upstream request, the result, then the metrics; never a
// secret, even when the poll fails with an echo.
func TestProbeDebugTellsThePollsStory(t *testing.T) {
	s := newEnv(t, envOptions{})
	code, body := s.get(t, "/probe?target=media-prod&debug=true")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	for _, want := range []string{
		`Probe of target "media-prod" (service smh)`,
		"Decision: started a new poll",
		"Upstream requests:",
		"1. smh token: HTTP 200 in ",
		"2. smh usage: HTTP 200 in ",
		", request id ",
		"Result: up, 7 quota samples",
		"Metrics:\n",
		`cloudquota_up{service="smh",target="media-prod"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("debug probe lacks %q:\n%s", want, body)
		}
	}
	// A cached answer says so.
	s.get(t, "/probe?target=audit-dev")
	if _, body := s.get(t, "/probe?target=audit-dev&debug=true"); !strings.Contains(body, "Decision: served from the cache: the answer is ") {
		t.Errorf("cached probe:\n%s", body)
	}
	// A failure, with secrets echoed, is told without them.
	s.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, upstreamPrefix["workspace"]) {
			return false
		}
		echoSecrets(&caseRun{svc: "workspace", target: faultedTargets["workspace"]}, w, r)
		return true
	})
	_, body = s.get(t, "/probe?target=desktops-dev&debug=true")
	if !strings.Contains(body, "1. workspace quotas_detail: HTTP 400 in ") || !strings.Contains(body, "Result: down: ") {
		t.Errorf("failed probe:\n%s", body)
	}
	assertNoDemoSecret(t, "the debug probe", body)
	if code, body := s.get(t, "/probe?target=media-prod&debug=yes"); code != http.StatusBadRequest || !strings.Contains(body, "invalid debug parameter") {
		t.Errorf("bad debug parameter: HTTP %d %q", code, body)
	}
}
