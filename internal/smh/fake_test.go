package smh

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

const (
	testLibrary = "smh-lib-1"
	testSecret  = "SECRET-do-not-leak-0123456789"
)

// fakeSMH speaks the documented SMH token and usage protocol.
type fakeSMH struct {
	t   *testing.T
	srv *httptest.Server

	mu            sync.Mutex
	expiresIn     int
	tokens        map[string]bool // issued and still accepted
	issued        []string        // every token ever issued
	tokenQueries  []url.Values
	usageQueries  []url.Values
	usageBatches  [][]string
	rejectAll     bool          // answer InvalidAccessToken to every usage request
	tokenDelay    time.Duration // slows the token endpoint to let callers pile up
	tokenGate     chan struct{} // when set, the token endpoint waits for it
	tokenBody     string        // when set, replaces the token answer
	usageAnswer   func(w http.ResponseWriter, ids []string) bool
	spaceOverride map[string]string // raw JSON element per space id
}

func newFakeSMH(t *testing.T) *fakeSMH {
	f := &fakeSMH{t: t, expiresIn: 3600, tokens: map[string]bool{}, spaceOverride: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/token", f.handleToken)
	mux.HandleFunc("GET /api/v1/usage/{lib}/{ids}", f.handleUsage)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeError(w http.ResponseWriter, status int, code, message, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message, "requestId": requestID})
}

func (f *fakeSMH) handleToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.tokenQueries = append(f.tokenQueries, q)
	n := len(f.tokenQueries)
	delay, gate, body, expiresIn := f.tokenDelay, f.tokenGate, f.tokenBody, f.expiresIn
	f.mu.Unlock()

	if gate != nil {
		<-gate
	}
	time.Sleep(delay)
	if q.Get("library_id") != testLibrary || q.Get("library_secret") != testSecret {
		// A careless server might echo the secret; upstream must scrub it.
		writeError(w, http.StatusNotFound, "WrongLibraryIdOrSecret", "wrong library id or secret "+q.Get("library_secret"), "req-token-404")
		return
	}
	if body != "" {
		w.Header().Set("X-Request-Id", "req-token-bad")
		fmt.Fprint(w, body)
		return
	}
	token := fmt.Sprintf("acctk-%d-%d", n, time.Now().UnixNano())
	f.mu.Lock()
	f.tokens[token] = true
	f.issued = append(f.issued, token)
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"accessToken": token, "expiresIn": expiresIn})
}

func (f *fakeSMH) handleUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ids := strings.Split(r.PathValue("ids"), ",")
	f.mu.Lock()
	f.usageQueries = append(f.usageQueries, q)
	f.usageBatches = append(f.usageBatches, ids)
	valid := f.tokens[q.Get("access_token")] && !f.rejectAll
	answer := f.usageAnswer
	f.mu.Unlock()

	if r.PathValue("lib") != testLibrary {
		writeError(w, http.StatusNotFound, "LibraryNotFound", "no such library", "req-lib")
		return
	}
	if !valid {
		writeError(w, http.StatusForbidden, "InvalidAccessToken", "invalid access token "+q.Get("access_token"), "req-403")
		return
	}
	if answer != nil && answer(w, ids) {
		return
	}
	w.Header().Set("X-Request-Id", "req-usage")
	var elems []string
	f.mu.Lock()
	for _, id := range ids {
		if raw, ok := f.spaceOverride[id]; ok {
			elems = append(elems, raw)
			continue
		}
		b, _ := json.Marshal(map[string]string{"spaceId": id, "capacity": "10000", "availableSpace": "5000", "size": "1000"})
		elems = append(elems, string(b))
	}
	f.mu.Unlock()
	fmt.Fprint(w, "["+strings.Join(elems, ",")+"]")
}

func (f *fakeSMH) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func (f *fakeSMH) counts() (tokenRequests, usageRequests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokenQueries), len(f.usageQueries)
}

func (f *fakeSMH) tokenQuery(i int) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenQueries[i]
}

func (f *fakeSMH) usageQuery(i int) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usageQueries[i]
}

func (f *fakeSMH) batches() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.usageBatches)
}

func (f *fakeSMH) allIssued() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testCreds() Credentials {
	return Credentials{LibraryID: testLibrary, LibrarySecret: testSecret, Grant: "admin", TokenPeriod: time.Hour}
}

// newTestClient returns a Client for f's server with a fake clock.
func newTestClient(t *testing.T, f *fakeSMH, creds Credentials) (*Client, *fakeClock) {
	t.Helper()
	base, err := url.Parse(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(upstream.New(upstream.Options{MaxConcurrent: 8}), base, creds, nil)
	clock := &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	c.now = clock.Now
	return c, clock
}
