package simcloud

import (
	"maps"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
)

// Operation names of the metadata service, for Metadata.Counts and
// MetadataRequest.Op.
const (
	OpMetadataToken       = "metadata_token"
	OpMetadataSecurityKey = "metadata_securitykey"
)

// sweepEvery is how often, in real time, expired keys leave the gateway:
// the cloud's clock may be a test's, which moves without telling anyone.
const sweepEvery = 10 * time.Millisecond

// Metadata is a simulated ECS/CCE metadata service: a session token from
// PUT /meta-data/latest/api/token, and temporary keys of the server's
// agency from GET /openstack/latest/securitykey, which Cloud's gateway
// accepts until they expire and refuses with its 401 afterwards. Each
// securitykey answer hands out new keys. It runs on a loopback listener of
// its own, as the real one is another host than the APIs.
//
// Set the fields before Start; change them while it serves with Update.
type Metadata struct {
	// Cloud is the gateway that accepts the keys handed out. Required.
	Cloud *Cloud
	// Lifetime is how long keys handed out are valid; 0 means 24 hours.
	Lifetime time.Duration
	// Now is the service's clock; nil means Cloud.Now.
	Now func() time.Time
	// NoTokenRoute answers 404 on the token route, as a service without
	// session tokens does.
	NoTokenRoute bool
	// RequireToken refuses securitykey requests without a session token.
	RequireToken bool
	// OmitExpiresAt leaves expires_at out of the answer.
	OmitExpiresAt bool
	// Expired hands out keys whose expires_at is already past.
	Expired bool
	// NoAgency answers securitykey with the 401 of a server that has no
	// agency.
	NoAgency bool
	// Answer, when set, is sent verbatim with status 200 as every
	// securitykey answer, for tests of broken ones; no keys are handed out.
	Answer string
	// Delay holds each securitykey answer back, so that tests can see
	// whether concurrent callers share one fetch.
	Delay time.Duration

	mu     sync.Mutex
	tokens map[string]time.Time // session token → expiry
	issued []TemporaryKey
	counts map[string]int
	log    []MetadataRequest

	server *http.Server
	stop   chan struct{}
	// URL is the base URL of the running service, the metadata_endpoint.
	URL string
}

// TemporaryKey is one set of keys the metadata service handed out.
type TemporaryKey struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
	Expires       time.Time
}

// MetadataRequest is one request the metadata service received.
type MetadataRequest struct {
	Op     string // "" for an unknown path
	Method string
	// Token is the X-Metadata-Token it carried, if any.
	Token string
}

// Start serves the metadata service on a free loopback port until Close.
func (m *Metadata) Start() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.tokens, m.counts, m.stop = map[string]time.Time{}, map[string]int{}, make(chan struct{})
	m.mu.Unlock()
	m.URL = "http://" + l.Addr().String()
	m.server = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go m.server.Serve(l) //nolint:errcheck // ends with Close
	go m.sweepLoop(m.stop)
	return nil
}

// Close stops serving. Nothing sweeps expired keys from the gateway after
// that; call Revoke first when it matters.
func (m *Metadata) Close() error {
	if m.server == nil {
		return nil
	}
	close(m.stop)
	return m.server.Close()
}

// Update runs f with the service's settings locked, to change them while
// it serves.
func (m *Metadata) Update(f func(m *Metadata)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// Issued returns every set of keys handed out so far, oldest first.
func (m *Metadata) Issued() []TemporaryKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]TemporaryKey(nil), m.issued...)
}

// Counts returns how many requests each route answered.
func (m *Metadata) Counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.counts)
}

// Requests returns every request received, in order.
func (m *Metadata) Requests() []MetadataRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MetadataRequest(nil), m.log...)
}

// Revoke makes the gateway refuse every key handed out so far, as it
// does for keys that expired or whose agency was withdrawn.
func (m *Metadata) Revoke() {
	m.forget(func(TemporaryKey) bool { return true })
}

// Sweep makes the gateway refuse the keys that have expired by the
// service's clock; it runs by itself every few milliseconds.
func (m *Metadata) Sweep() {
	now := m.now()
	m.forget(func(k TemporaryKey) bool { return !now.Before(k.Expires) })
}

func (m *Metadata) sweepLoop(stop chan struct{}) {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			m.Sweep()
		}
	}
}

// forget removes the issued keys that gone says are gone from the gateway.
func (m *Metadata) forget(gone func(TemporaryKey) bool) {
	var drop []string
	for _, k := range m.Issued() {
		if gone(k) {
			drop = append(drop, k.AccessKey)
		}
	}
	if len(drop) == 0 {
		return
	}
	m.Cloud.Update(func(c *Cloud) {
		for _, ak := range drop {
			delete(c.Keys, ak)
		}
	})
}

func (m *Metadata) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return m.Cloud.Now()
}

// ServeHTTP answers the token and securitykey routes.
func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := ""
	switch r.URL.Path {
	case huawei.MetadataTokenPath:
		op = OpMetadataToken
	case huawei.MetadataSecurityKeyPath:
		op = OpMetadataSecurityKey
	}
	m.mu.Lock()
	m.log = append(m.log, MetadataRequest{Op: op, Method: r.Method, Token: r.Header.Get(huawei.MetadataTokenHeader)})
	if op != "" {
		m.counts[op]++
	}
	m.mu.Unlock()
	switch op {
	case OpMetadataToken:
		m.token(w, r)
	case OpMetadataSecurityKey:
		m.securityKey(w, r)
	default:
		http.NotFound(w, r)
	}
}

// token serves PUT /meta-data/latest/api/token.
func (m *Metadata) token(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.NoTokenRoute {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(huawei.MetadataTokenTTLHeader))
	if err != nil || ttl < 1 || ttl > huawei.MetadataTokenTTL {
		http.Error(w, huawei.MetadataTokenTTLHeader+" must be 1 to "+strconv.Itoa(huawei.MetadataTokenTTL), http.StatusBadRequest)
		return
	}
	token := "mdtoken-" + newID(24)
	m.tokens[token] = m.now().Add(time.Duration(ttl) * time.Second)
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(token)) //nolint:errcheck // the client may be gone
}

// securityKey serves GET /openstack/latest/securitykey.
func (m *Metadata) securityKey(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m.mu.Lock()
	delay := m.Delay
	m.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}

	m.mu.Lock()
	now := m.now()
	token := r.Header.Get(huawei.MetadataTokenHeader)
	tokenExpiry, known := m.tokens[token]
	switch {
	case m.NoAgency:
		m.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Please configure Cloud Service Agency first"})
		return
	case token != "" && (!known || !now.Before(tokenExpiry)), token == "" && m.RequireToken:
		m.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "invalid or missing " + huawei.MetadataTokenHeader})
		return
	}
	if m.Answer != "" {
		answer := m.Answer
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer)) //nolint:errcheck // the client may be gone
		return
	}
	lifetime := m.Lifetime
	if lifetime <= 0 {
		lifetime = 24 * time.Hour
	}
	// expires_at has whole seconds, so the gateway's expiry is the same.
	key := TemporaryKey{
		AccessKey:     "METATEMPAK" + newID(8),
		SecretKey:     "metatemp-sk-" + newID(16),
		SecurityToken: "metatemp-token-" + newID(32),
		Expires:       now.Add(lifetime).UTC().Truncate(time.Second),
	}
	if m.Expired {
		key.Expires = now.Add(-time.Minute).UTC().Truncate(time.Second)
	}
	credential := map[string]string{"access": key.AccessKey, "secret": key.SecretKey, "securitytoken": key.SecurityToken}
	if !m.OmitExpiresAt {
		credential["expires_at"] = key.Expires.Format("2006-01-02T15:04:05Z")
	}
	if m.Expired {
		m.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"credential": credential})
		return
	}
	m.issued = append(m.issued, key)
	m.mu.Unlock()

	m.Cloud.Update(func(c *Cloud) {
		if c.Keys == nil {
			c.Keys = map[string]Key{}
		}
		c.Keys[key.AccessKey] = Key{SecretKey: key.SecretKey, SecurityToken: key.SecurityToken}
	})
	writeJSON(w, http.StatusOK, map[string]any{"credential": credential})
}
