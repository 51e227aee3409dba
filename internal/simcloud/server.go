package simcloud

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Operation names used by Counts, Requests and OpOf.
const (
	OpSMHToken        = "smh_token"
	OpSMHUsage        = "smh_usage"
	OpWorkspaceQuotas = "workspace_quotas_detail"
	OpCTSQuotas       = "cts_quotas"
)

// OpHuaweiAuthFailure counts, in Counts, the requests that the simulated
// Huawei gateway refused for their signature.
const OpHuaweiAuthFailure = "huawei_auth_failure"

// Cloud is the simulated cloud's state. Set its fields before Start; use the
// methods to change or read it while it serves.
type Cloud struct {
	// Libraries maps an SMH library id to its library.
	Libraries map[string]*Library
	// TokenLifetime is the expiresIn of new SMH tokens when the request has
	// no period.
	TokenLifetime time.Duration
	// Keys maps a Huawei access key to its secret key and, for temporary
	// credentials, its security token.
	Keys map[string]Key
	// Projects maps a Huawei project id to its quotas.
	Projects map[string]*Project
	// DriftPeriod is the period of the usage drift; 0 keeps usage still.
	DriftPeriod time.Duration
	// Now is the cloud's clock; tests move it to expire tokens, for
	// example with a testutil.Clock's Now.
	Now func() time.Time
	// Record makes the cloud keep every request it receives and every SMH
	// token it issues, for Requests and SMHTokens. It is off by default
	// because a long --demo run would grow the log without bound.
	Record bool
	// EchoSecrets makes SMH error answers quote the library secret or
	// access token they refuse, as a careless server might, so that tests
	// see whether a client scrubs them from its errors.
	EchoSecrets bool
	SMH         SMHSettings   // SMH's listing and library totals (smh_list.go)
	Huawei      HuaweiOptions // IAM projects and site id forms (iam.go); SetHuaweiOptions while running
	huaweiMu    sync.Mutex

	mu     sync.Mutex
	start  time.Time
	tokens map[string]token
	counts map[string]int
	hook   func(w http.ResponseWriter, r *http.Request) bool
	log    []Request
	issued []string // every SMH token, when recording

	listener net.Listener
	server   *http.Server
	// URL is the base URL of the running cloud, e.g. http://127.0.0.1:4321.
	URL string
}

// Key is a Huawei AK/SK pair's secret part.
type Key struct {
	SecretKey     string
	SecurityToken string
}

type token struct {
	library  string
	lifetime time.Duration
	expires  time.Time
}

// Start serves the cloud on a free loopback port until Close.
func (c *Cloud) Start() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.init()
	c.listener = l
	c.URL = "http://" + l.Addr().String()
	c.server = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go c.server.Serve(l) //nolint:errcheck // ends with Close
	return nil
}

func (c *Cloud) init() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = 24 * time.Hour
	}
	c.start = c.Now()
	if c.tokens == nil {
		c.tokens = map[string]token{}
	}
	if c.counts == nil {
		c.counts = map[string]int{}
	}
}

// Close stops serving.
func (c *Cloud) Close() error {
	if c.server == nil {
		return nil
	}
	return c.server.Close()
}

// SetHook installs a function that sees every request first and may answer
// it itself (returning true), for fault injection; nil removes it. A request
// the hook answers is in Requests but not in Counts. OpOf tells the hook
// which operation a request is for.
func (c *Cloud) SetHook(hook func(w http.ResponseWriter, r *http.Request) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hook = hook
}

// RevokeTokens forgets every SMH access token, as a cloud does when tokens
// are deleted.
func (c *Cloud) RevokeTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = map[string]token{}
}

// Counts returns how many requests each operation's route answered so far
// (not those a hook answered), plus OpHuaweiAuthFailure.
func (c *Cloud) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Update runs f with the cloud's data locked, to change quotas while
// serving.
func (c *Cloud) Update(f func(c *Cloud)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *Cloud) count(op string) {
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
}

// Request is one request as the cloud's log keeps it (see Record).
type Request struct {
	// Op is the operation the request's path belongs to; "" for none.
	Op     string
	Method string
	// URL holds the path as sent (RawPath keeps escapes such as %2F) and
	// the query.
	URL *url.URL
	// RequestID is the X-Request-Id the cloud answered with.
	RequestID string
	// At is when the request arrived, by the cloud's clock.
	At time.Time
}

// Requests returns the recorded requests for operation op in the order
// they arrived, including those a hook answered; op "" returns every
// request. It is empty unless Record was set before Start.
func (c *Cloud) Requests(op string) []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Request
	for _, r := range c.log {
		if op == "" || r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// route is one simulated API operation. Each provider's file lists its own
// routes; ServeHTTP counts, records and dispatches them alike.
type route struct {
	op    string
	match func(path string) bool
	serve func(c *Cloud, w http.ResponseWriter, r *http.Request, requestID string)
}

var routes = slices.Concat(smhRoutes, huaweiRoutes)

// findRoute returns the route that serves path, or nil.
func findRoute(path string) *route {
	for i := range routes {
		if routes[i].match(path) {
			return &routes[i]
		}
	}
	return nil
}

// OpOf returns the operation that r's path belongs to (OpSMHToken, ...),
// or "" when no simulated API serves it; hooks use it to pick their
// requests.
func OpOf(r *http.Request) string {
	if rt := findRoute(r.URL.Path); rt != nil {
		return rt.op
	}
	return ""
}

// ServeHTTP routes a request to the simulated API it belongs to.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newID(16)
	w.Header().Set("X-Request-Id", requestID)
	rt := findRoute(r.URL.Path)
	if hook := c.arrive(r, rt, requestID); hook != nil && hook(w, r) {
		return
	}
	switch {
	case r.Method != http.MethodGet:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"code": "MethodNotAllowed", "message": "only GET is simulated", "requestId": requestID})
	case rt == nil:
		writeJSON(w, http.StatusNotFound, map[string]string{"error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published in the environment", "request_id": requestID})
	default:
		c.count(rt.op)
		rt.serve(c, w, r, requestID)
	}
}

// arrive records r when recording and returns the hook to run.
func (c *Cloud) arrive(r *http.Request, rt *route, requestID string) func(w http.ResponseWriter, r *http.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Record {
		u := *r.URL
		entry := Request{Method: r.Method, URL: &u, RequestID: requestID, At: c.Now()}
		if rt != nil {
			entry.Op = rt.op
		}
		c.log = append(c.log, entry)
	}
	return c.hook
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client may be gone
}

func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}
