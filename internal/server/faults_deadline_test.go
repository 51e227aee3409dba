package server

import (
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Fault cases: upstream hangs, breaks the connection, redirects, or is
// not there at all.
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

// At start-up the key is not yet known to work. One target whose upstream
// hangs must not hold back the other targets of its key: they answer, and
// only the hanging one is down.
func TestHangingTargetHoldsNoSiblingAtStartUp(t *testing.T) {
	e := newEnv(t, envOptions{})
	release := make(chan struct{})
	hanging := make(chan struct{}, 1)
	t.Cleanup(func() { close(release) })
	e.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, upstreamPrefix["cts"]) {
			return false
		}
		hanging <- struct{}{}
		select { // audit-prod's upstream hangs; desktops-prod shares its key
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	// audit-prod's request is the first to use the unproven key...
	go e.do(http.MethodGet, "/probe?target=audit-prod", scrapeTimeoutHeader, "10")
	<-hanging
	// ...and the scrape of everything meanwhile is not held up by it.
	_, body := e.get(t, "/metrics", scrapeTimeoutHeader, "3")
	series := parseSeries(body)
	for _, dt := range demoTargets {
		want := 1.0
		if dt == faultedTargets["cts"] {
			want = 0
		}
		if series[upKey(dt)] != want {
			t.Errorf("%s: up %v, want %v\n%s", dt.name, series[upKey(dt)], want, e.logs.String())
		}
	}
}
