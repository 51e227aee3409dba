package server

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// privateTarget is a CTS target like audit-prod on the cloud's HTTPS
// listener, with extra keys (tls_config, proxy settings).
func privateTarget(name, url, extra string) string {
	return "  - name: " + name + "\n    service: cts\n    credentials: hw-prod\n    project_id: 0a1b2c3d4e5f\n    endpoint: " + url + "\n" + extra
}

// connectProxy is a forward proxy that tunnels CONNECT requests and
// remembers the headers they carried.
type connectProxy struct {
	mu      sync.Mutex
	headers []http.Header
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "only CONNECT", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.headers = append(p.headers, r.Header.Clone())
	p.mu.Unlock()
	upstream, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	// Written on the connection itself: a status written before Hijack
	// may stay in the server's buffer.
	if _, err := client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		upstream.Close()
		client.Close()
		return
	}
	go func() { io.Copy(upstream, client); upstream.Close() }()
	go func() { io.Copy(client, upstream); client.Close() }()
}

func (p *connectProxy) seen() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.headers...)
}

// Private endpoints: a CA of the company's own in tls_config, a proxy with
// CONNECT headers, per target, with Prometheus's keys. A target whose CA is
// missing or not PEM fails alone, with the reason.
func TestPrivateEndpointsTLSAndProxy(t *testing.T) {
	e := newEnv(t, envOptions{})
	private, err := e.cloud.StartTLS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { private.Close() })
	dir := filepath.Dir(e.configPath)
	os.WriteFile(filepath.Join(dir, "company-ca.pem"), private.CAPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "not-a-ca.pem"), []byte("-----BEGIN NOTHING-----\n"), 0o600)
	proxy := &connectProxy{}
	proxySrv := &http.Server{Handler: proxy}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go proxySrv.Serve(ln)
	t.Cleanup(func() { proxySrv.Close() })

	e.apply(t, e.yaml+
		privateTarget("private-ca", private.URL, "    tls_config:\n      ca_file: company-ca.pem\n")+
		privateTarget("private-ca-2", private.URL, "    tls_config:\n      ca_file: company-ca.pem\n")+
		privateTarget("private-no-ca", private.URL, "")+
		privateTarget("private-bad-ca", private.URL, "    tls_config:\n      ca_file: not-a-ca.pem\n")+
		privateTarget("private-proxied", private.URL, "    tls_config:\n      ca_file: company-ca.pem\n    proxy_url: http://"+ln.Addr().String()+"\n    proxy_connect_header:\n      Proxy-Authorization: [Basic cHJveHk6c2VjcmV0LXByb3h5LXBhc3M=]\n"))
	_, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	series := parseSeries(body)
	for target, want := range map[string]float64{
		"private-ca": 1, "private-ca-2": 1, "private-proxied": 1, "private-no-ca": 0, "private-bad-ca": 0,
		"media-prod": 1, "audit-prod": 1, "desktops-prod": 1,
	} {
		if got := series[`cloudquota_up{service="`+serviceOf(target)+`",target="`+target+`"}`]; got != want {
			t.Errorf("%s: up %v, want %v\n%s", target, got, want, e.logLinesFor(0, target))
		}
	}
	logs := e.logs.String()
	for _, want := range []string{
		`target=private-no-ca service=cts msg="Target poll failed"`,
		"certificate signed by unknown authority",
		`target=private-bad-ca service=cts msg="Target poll failed" err="tls_config or proxy settings: unable to use specified CA cert`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	seen := proxy.seen()
	if len(seen) == 0 || seen[0].Get("Proxy-Authorization") != "Basic cHJveHk6c2VjcmV0LXByb3h5LXBhc3M=" {
		t.Errorf("the proxied target did not CONNECT through the proxy with its header: %v", seen)
	}
	for where, text := range map[string]string{"the log": logs, "/metrics": body} {
		if strings.Contains(text, "cHJveHk6c2VjcmV0LXByb3h5LXBhc3M=") {
			t.Errorf("%s shows the proxy's header", where)
		}
	}
}

// serviceOf is a demo target's service; the private ones are cts.
func serviceOf(target string) string {
	for _, dt := range demoTargets {
		if dt.name == target {
			return dt.service
		}
	}
	return "cts"
}
