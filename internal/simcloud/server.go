package simcloud

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Operation names used by Counts.
const (
	OpSMHToken          = "smh_token"
	OpSMHUsage          = "smh_usage"
	OpWorkspaceQuotas   = "workspace_quotas_detail"
	OpCTSQuotas         = "cts_quotas"
	OpHuaweiAuthFailure = "huawei_auth_failure"
)

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
	// Now is the cloud's clock; tests move it to expire tokens.
	Now func() time.Time

	mu     sync.Mutex
	start  time.Time
	tokens map[string]token
	counts map[string]int
	hook   func(w http.ResponseWriter, r *http.Request) bool

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
// it itself (returning true), for fault injection; nil removes it.
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

// Counts returns how many requests each operation answered so far.
func (c *Cloud) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
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

// ServeHTTP routes a request to the simulated API it belongs to.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	hook := c.hook
	c.mu.Unlock()
	requestID := newID(16)
	w.Header().Set("X-Request-Id", requestID)
	if hook != nil && hook(w, r) {
		return
	}
	path := r.URL.Path
	switch {
	case r.Method != http.MethodGet:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"code": "MethodNotAllowed", "message": "only GET is simulated", "requestId": requestID})
	case path == "/api/v1/token":
		c.smhToken(w, r, requestID)
	case strings.HasPrefix(path, "/api/v1/usage/"):
		c.smhUsage(w, r, requestID)
	case strings.HasPrefix(path, "/v2/") && strings.HasSuffix(path, "/quotas/detail"):
		c.workspaceQuotas(w, r, requestID)
	case strings.HasPrefix(path, "/v3/") && strings.HasSuffix(path, "/quotas"):
		c.ctsQuotas(w, r, requestID)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published in the environment", "request_id": requestID})
	}
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
