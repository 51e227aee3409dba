package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func request(t *testing.T, rawURL string) Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return Request{Service: "smh", Operation: "usage", URL: u, Secrets: []string{"topsecret"}}
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestErrorBodiesOfEveryShape(t *testing.T) {
	cases := []struct {
		name, body, header string
		status             int
		want               APIError
	}{
		{"smh", `{"code":"InvalidAccessToken","message":"expired","requestId":"r1"}`, "", 403,
			APIError{StatusCode: 403, Code: "InvalidAccessToken", Message: "expired", RequestID: "r1"}},
		{"huawei service", `{"error_code":"WKS.0001","error_msg":"bad","error_detail":"more","encoded_authorization_message":"enc"}`, "hdr-id", 400,
			APIError{StatusCode: 400, Code: "WKS.0001", Message: "bad", Detail: "more", EncodedAuthorizationMessage: "enc", RequestID: "hdr-id"}},
		{"huawei gateway", `{"error_msg":"verify aksk signature fail","error_code":"APIGW.0301","request_id":"gw1"}`, "", 401,
			APIError{StatusCode: 401, Code: "APIGW.0301", Message: "verify aksk signature fail", RequestID: "gw1"}},
		{"nested", `{"error":{"code":"E1","message":"nested message"}}`, "", 500,
			APIError{StatusCode: 500, Code: "E1", Message: "nested message"}},
		{"numeric code", `{"code":42,"message":"m"}`, "", 500,
			APIError{StatusCode: 500, Code: "42", Message: "m"}},
		{"html page", `<html><body>502 Bad Gateway</body></html>`, "", 502,
			APIError{StatusCode: 502, Message: "Bad Gateway (non-JSON text/html body of 41 bytes)"}},
		{"empty", ``, "", 503,
			APIError{StatusCode: 503, Message: "Service Unavailable"}},
		{"echoed secret", `{"code":"X","message":"bad token topsecret"}`, "", 400,
			APIError{StatusCode: 400, Code: "X", Message: "bad token <secret>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Request-Id", tc.header)
				}
				if strings.HasPrefix(tc.body, "<") {
					w.Header().Set("Content-Type", "text/html")
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			resp, err := New(Options{}).Do(context.Background(), request(t, srv.URL))
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Errorf("response not returned with the error")
			}
			tc.want.Service, tc.want.Operation = "smh", "usage"
			if *apiErr != tc.want {
				t.Errorf("got  %+v\nwant %+v", *apiErr, tc.want)
			}
		})
	}
}

func TestErrorStringHasCodeMessageAndRequestID(t *testing.T) {
	e := &APIError{Service: "cts", Operation: "quotas", StatusCode: 401, Code: "APIGW.0301", Message: "verify fail", RequestID: "abc"}
	if got, want := e.Error(), "cts quotas: HTTP 401 APIGW.0301: verify fail [request id abc]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:02:00 GMT": 2 * time.Minute,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("Retry-After %q = %v, want %v", in, got, want)
		}
	}
}

func TestBodyCap(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2048)))
	})
	_, err := New(Options{MaxBodyBytes: 1024}).Do(context.Background(), request(t, srv.URL))
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
	resp, err := New(Options{MaxBodyBytes: 2048}).Do(context.Background(), request(t, srv.URL))
	if err != nil || len(resp.Body) != 2048 {
		t.Fatalf("body at the cap: %v", err)
	}
}

func TestTransportErrorHasNoURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var codes []string
	c := New(Options{Observer: ObserverFunc(func(_, _, code string) { codes = append(codes, code) })})
	_, err = c.Do(context.Background(), request(t, "http://"+addr+"/api/v1/usage/lib/s1?access_token=topsecret"))
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TransportError", err)
	}
	if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "access_token") {
		t.Errorf("error repeats the URL: %v", err)
	}
	if len(codes) != 1 || codes[0] != "error" {
		t.Errorf("observed codes %v, want [error]", codes)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var hits atomic.Int32
	other := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	_, err := New(Options{}).Do(context.Background(), request(t, srv.URL))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusFound {
		t.Fatalf("err = %v, want an APIError for the 302", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the redirect was followed")
	}
}

func TestMaxConcurrentBoundsRequestsInFlight(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	})
	c := New(Options{MaxConcurrent: 3})
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(context.Background(), request(t, srv.URL)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Errorf("peak requests in flight = %d, want at most 3", p)
	}
}

func TestWaitingForASlotEndsWithTheContext(t *testing.T) {
	c := New(Options{MaxConcurrent: 1})
	c.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Do(ctx, request(t, "http://127.0.0.1:9"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx := WithRequestTimeout(context.Background(), 50*time.Millisecond)
	_, err := New(Options{}).Do(ctx, request(t, srv.URL))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestRequestTimeoutStartsWhenASlotIsFree(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	c := New(Options{MaxConcurrent: 1})
	c.slots <- struct{}{} // another request holds the only slot...
	go func() {
		time.Sleep(150 * time.Millisecond)
		<-c.slots // ...for longer than this request's timeout
	}()
	ctx := WithRequestTimeout(context.Background(), 100*time.Millisecond)
	if _, err := c.Do(ctx, request(t, srv.URL)); err != nil {
		t.Fatalf("the wait for a slot counted against the request timeout: %v", err)
	}

	hang := make(chan struct{})
	defer close(hang)
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	if _, err := c.Do(ctx, request(t, slow.URL)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request slower than WithRequestTimeout: err = %v, want deadline exceeded", err)
	}
}
