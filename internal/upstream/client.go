package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	commonconfig "github.com/prometheus/common/config"
)

// DefaultMaxBodyBytes caps how much of one upstream response is read. Real
// quota answers are a few kilobytes; anything near this size is broken.
const DefaultMaxBodyBytes = 4 << 20

// Observer is told about every upstream request once it has ended. code is
// the HTTP status code, or "error" when no response arrived.
type Observer interface {
	ObserveRequest(service, operation, code string)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(service, operation, code string)

// ObserveRequest calls f.
func (f ObserverFunc) ObserveRequest(service, operation, code string) { f(service, operation, code) }

// Options configure a Client.
type Options struct {
	// MaxConcurrent bounds the requests in flight at once across every
	// caller of this Client; 0 means no bound.
	MaxConcurrent int
	// MaxBodyBytes caps the bytes read from one response; 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Observer, when set, is told about every request.
	Observer Observer
	// Transport replaces the default keep-alive transport (tests).
	Transport http.RoundTripper
	// UserAgent is sent on every request.
	UserAgent string
}

// Client sends requests to the clouds. One Client is shared by all
// provider clients so that connections are reused and the concurrency
// bound holds across targets.
type Client struct {
	http      *http.Client
	slots     chan struct{}
	maxBody   int64
	observer  Observer
	userAgent string
}

// New returns a Client with the given options.
func New(opts Options) *Client {
	transport := opts.Transport
	if transport == nil {
		transport = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   10 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2: true,
			// Enough idle connections for every request slot: below that,
			// each scrape would open (and TLS-handshake) new ones.
			MaxIdleConns:          max(100, 2*opts.MaxConcurrent),
			MaxIdleConnsPerHost:   max(32, opts.MaxConcurrent),
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	c := &Client{
		http: &http.Client{
			Transport: transport,
			// Credentials travel in headers and query strings, so a
			// redirect is never followed: the 3xx is reported as an error.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		maxBody:   opts.MaxBodyBytes,
		observer:  opts.Observer,
		userAgent: opts.UserAgent,
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if opts.MaxConcurrent > 0 {
		c.slots = make(chan struct{}, opts.MaxConcurrent)
	}
	return c
}

// HTTPSettings are how requests reach a cloud: TLS and proxy, with the
// keys and meaning of Prometheus's own configuration.
type HTTPSettings struct {
	TLS   commonconfig.TLSConfig
	Proxy commonconfig.ProxyConfig
}

// With returns a Client that sends through its own pool of connections,
// built by prometheus/common/config for settings (which re-reads a changed
// CA file), and shares c's request slots, size cap and observer. An
// unusable setting (a CA file that is not PEM, say) is an error naming it.
func (c *Client) With(settings HTTPSettings) (*Client, error) {
	rt, err := commonconfig.NewRoundTripperFromConfig(commonconfig.HTTPClientConfig{
		TLSConfig:   settings.TLS,
		ProxyConfig: settings.Proxy,
		EnableHTTP2: true,
	}, "cloudquota_exporter", commonconfig.WithIdleConnTimeout(90*time.Second))
	if err != nil {
		return nil, fmt.Errorf("tls_config or proxy settings: %w", err)
	}
	with := *c
	with.http = &http.Client{Transport: rt, CheckRedirect: c.http.CheckRedirect}
	return &with, nil
}

// Request is one upstream call.
type Request struct {
	// Service and Operation label the request in errors and observations,
	// for example "smh" and "usage".
	Service   string
	Operation string
	Method    string
	URL       *url.URL
	Header    http.Header
	// Secrets are redacted, in every form (see Redactor), from any text
	// the upstream sends back in an error or a request id, should a
	// cloud or a gateway echo one.
	Secrets []string
}

type requestTimeoutKey struct{}

// WithRequestTimeout returns a context under which each request is
// bounded by d, on top of the context's deadline, counted from when it is sent, not
// from when it began to wait for a free request slot: a target's timeout
// must not run out while other targets' requests hold every slot.
func WithRequestTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, requestTimeoutKey{}, d)
}

// Response is a complete upstream answer with a 2xx status.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// RequestID is the upstream's request id from the X-Request-Id header,
	// if it sent one.
	RequestID string
}

// Do sends req and reads the whole answer. A non-2xx status returns an
// *APIError; a failure to get an answer returns a *TransportError. Neither
// contains the request URL.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	release, err := c.takeSlot(ctx, req)
	if err != nil {
		return nil, err
	}
	defer release()
	if timeout, _ := ctx.Value(requestTimeoutKey{}).(time.Duration); timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	resp, err := c.do(ctx, req)
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	if c.observer != nil {
		c.observer.ObserveRequest(req.Service, req.Operation, code)
	}
	if trace := traceOf(ctx); trace != nil {
		trace(event(req, resp, err, start, time.Now()))
	}
	return resp, err
}

// takeSlot waits for a request slot, and for the gate that admitted the
// request to let it go out now that it has one: the key may have been
// refused while it waited. When the gate wants it to wait for room in the
// key's failure budget, the slot is given back meanwhile, so that the
// requests the budget waits for are not kept from theirs.
func (c *Client) takeSlot(ctx context.Context, req Request) (release func(), err error) {
	for {
		release = func() {}
		if c.slots != nil {
			select {
			case c.slots <- struct{}{}:
				release = func() { <-c.slots }
			case <-ctx.Done():
				return nil, &TransportError{Service: req.Service, Operation: req.Operation, Err: fmt.Errorf("waiting for a free request slot: %w", ctx.Err())}
			}
		}
		err := admit(ctx)
		if err == nil {
			return release, nil
		}
		release()
		if !errors.Is(err, errBudgetFull) {
			return nil, err
		}
		if err := awaitAdmission(ctx); err != nil {
			return nil, err
		}
	}
}

func (c *Client) do(ctx context.Context, req Request) (*Response, error) {
	redactor := NewRedactor(req.Secrets...)
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	httpReq, err := http.NewRequestWithContext(ctx, method, req.URL.String(), nil)
	if err != nil {
		return nil, &TransportError{Service: req.Service, Operation: req.Operation, Err: errors.New("cannot build request")}
	}
	for k, v := range req.Header {
		httpReq.Header[k] = v
	}
	if c.userAgent != "" && httpReq.Header.Get("User-Agent") == "" {
		httpReq.Header.Set("User-Agent", c.userAgent)
	}
	httpResp, err := c.http.Do(httpReq)
	if err != nil {
		// The cause can quote what upstream sent (a malformed status
		// line, for one), so it is redacted like an answer.
		return nil, &TransportError{Service: req.Service, Operation: req.Operation, Err: redactor.Error(unwrapURLError(err))}
	}
	defer httpResp.Body.Close()

	body, readErr := readCapped(httpResp.Body, httpResp.ContentLength, c.maxBody)
	resp := &Response{
		StatusCode: httpResp.StatusCode,
		Header:     httpResp.Header,
		Body:       body,
		// Upstream's text, printed in every error about this answer.
		RequestID: cut(redactor.Text(requestIDFromHeader(httpResp.Header))),
	}
	if readErr != nil {
		// The status line arrived, so the request is counted with its
		// code, but the answer is unusable.
		return resp, &TransportError{Service: req.Service, Operation: req.Operation, StatusCode: resp.StatusCode, RequestID: resp.RequestID, Err: redactor.Error(readErr)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, newAPIError(req, resp)
	}
	return resp, nil
}

// ErrBodyTooLarge is wrapped by the error for an answer above the size cap.
var ErrBodyTooLarge = errors.New("response body too large")

// readCapped reads a body of at most limit bytes; size is its
// Content-Length (-1 when unknown), which saves growing the buffer.
func readCapped(r io.Reader, size, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if size >= 0 && size <= limit {
		buf.Grow(int(size) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading response body: %w", unwrapURLError(err))
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// full request URL, secrets in its query included.
func unwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

func requestIDFromHeader(h http.Header) string {
	for _, name := range []string{"X-Request-Id", "X-Smh-Request-Id", "X-Cos-Request-Id"} {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// Slots is the number of requests c lets be in flight at once across every
// caller (MaxConcurrent), 0 when it does not bound them or c is nil.
func (c *Client) Slots() int {
	if c == nil {
		return 0
	}
	return cap(c.slots)
}
