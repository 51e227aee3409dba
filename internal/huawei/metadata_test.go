package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// fakeMetadata is a loopback metadata service that hands out keys[0],
// keys[1], … (the last one again once they run out), each expiring at
// expires.
type fakeMetadata struct {
	t *testing.T

	mu          sync.Mutex
	keys        []Credentials
	expires     time.Time
	tokenStatus int    // 0: hand out a session token
	answer      string // when set, the securitykey answer, verbatim
	status      int    // securitykey status; 0: 200
	hold        chan struct{}
	tokens      int
	fetches     int
	sawToken    []string // X-Metadata-Token of each securitykey request
}

const fakeSessionToken = "session-token-0123456789abcdef"

func (f *fakeMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case MetadataTokenPath:
		f.mu.Lock()
		f.tokens++
		status := f.tokenStatus
		f.mu.Unlock()
		if r.Method != http.MethodPut {
			f.t.Errorf("token request method %s, want PUT", r.Method)
		}
		if got := r.Header.Get(MetadataTokenTTLHeader); got != "21600" {
			f.t.Errorf("%s = %q, want 21600", MetadataTokenTTLHeader, got)
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		fmt.Fprint(w, fakeSessionToken+"\n")
	case MetadataSecurityKeyPath:
		f.mu.Lock()
		f.fetches++
		f.sawToken = append(f.sawToken, r.Header.Get(MetadataTokenHeader))
		hold := f.hold
		f.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != 0 {
			w.WriteHeader(f.status)
		}
		if f.answer != "" {
			fmt.Fprint(w, f.answer)
			return
		}
		k := f.keys[min(f.fetches, len(f.keys))-1]
		json.NewEncoder(w).Encode(map[string]any{"credential": map[string]string{ //nolint:errcheck
			"access": k.AccessKey, "secret": k.SecretKey, "securitytoken": k.SecurityToken,
			"expires_at": f.expires.UTC().Format("2006-01-02T15:04:05Z"),
		}})
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func (f *fakeMetadata) counts() (tokens, fetches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens, f.fetches
}

// start serves f and returns a source for it on clock.
func (f *fakeMetadata) start(clock func() time.Time) *MetadataSource {
	f.t.Helper()
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	return NewMetadataSource(upstream.New(upstream.Options{}), u, clock)
}

var (
	metaKeysA = Credentials{AccessKey: "METAAKAAAA", SecretKey: "meta-secret-a-0123456789", SecurityToken: "meta-token-a-0123456789abcdef"}
	metaKeysB = Credentials{AccessKey: "METAAKBBBB", SecretKey: "meta-secret-b-0123456789", SecurityToken: "meta-token-b-0123456789abcdef"}
)

func TestMetadataHandshake(t *testing.T) {
	clock := testutil.NewClock()
	f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA}, expires: clock.Now().Add(6 * time.Hour)}
	src := f.start(clock.Now)
	if !src.Expiry().IsZero() {
		t.Error("an expiry before the first fetch")
	}
	got, err := src.Credentials(context.Background())
	if err != nil || got != metaKeysA {
		t.Fatalf("Credentials = %v, %v; want %v", got, err, metaKeysA)
	}
	if f.sawToken[0] != fakeSessionToken {
		t.Errorf("securitykey sent %s %q, want the session token", MetadataTokenHeader, f.sawToken[0])
	}
	if want := clock.Now().Add(6 * time.Hour); !src.Expiry().Equal(want) {
		t.Errorf("Expiry = %v, want %v", src.Expiry(), want)
	}
	if s := fmt.Sprint(src); strings.Contains(s, metaKeysA.SecretKey) || !strings.Contains(s, "metadata service http://127.0.0.1:") {
		t.Errorf("String = %q", s)
	}
}

func TestMetadataWithoutSessionTokens(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			clock := testutil.NewClock()
			f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA}, expires: clock.Now().Add(6 * time.Hour), tokenStatus: status}
			if got, err := f.start(clock.Now).Credentials(context.Background()); err != nil || got != metaKeysA {
				t.Fatalf("Credentials = %v, %v", got, err)
			}
			if f.sawToken[0] != "" {
				t.Errorf("securitykey sent a token: %q", f.sawToken[0])
			}
		})
	}
	clock := testutil.NewClock()
	f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA}, expires: clock.Now().Add(6 * time.Hour), tokenStatus: http.StatusInternalServerError}
	_, err := f.start(clock.Now).Credentials(context.Background())
	if err == nil || !strings.Contains(err.Error(), "metadata token: HTTP 500") {
		t.Errorf("a token route failing with 500: err = %v", err)
	}
}

func TestMetadataRefreshTiming(t *testing.T) {
	clock := testutil.NewClock()
	f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA, metaKeysB}, expires: clock.Now().Add(2 * time.Hour)}
	src := f.start(clock.Now)
	ctx := context.Background()
	if got, _ := src.Credentials(ctx); got != metaKeysA {
		t.Fatalf("first keys %v", got)
	}
	clock.Advance(80*time.Minute - time.Second) // 40 min and 1 s left
	if got, _ := src.Credentials(ctx); got != metaKeysA {
		t.Fatalf("keys with more than 40 minutes left were replaced by %v", got)
	}
	f.mu.Lock()
	f.expires = clock.Now().Add(2 * time.Hour)
	f.mu.Unlock()
	clock.Advance(2 * time.Second) // 39 min 59 s left
	if got, _ := src.Credentials(ctx); got != metaKeysB {
		t.Fatalf("keys with less than 40 minutes left were not refreshed: %v", got)
	}
	if _, fetches := f.counts(); fetches != 2 {
		t.Errorf("%d fetches, want 2", fetches)
	}
	// Secrets covers the keys before the refresh too: a request signed
	// with them may still be in flight.
	secrets := strings.Join(src.Secrets(), " ")
	for _, s := range []string{metaKeysA.SecretKey, metaKeysA.SecurityToken, metaKeysB.SecretKey, metaKeysB.SecurityToken} {
		if !strings.Contains(secrets, s) {
			t.Errorf("Secrets lacks %q", s)
		}
	}
}

func TestRefreshTime(t *testing.T) {
	t0 := testutil.Epoch
	for _, tc := range []struct {
		left, want time.Duration
	}{
		{24 * time.Hour, 24*time.Hour - MetadataRefreshBefore},
		{41 * time.Minute, time.Minute},
		{30 * time.Minute, 15 * time.Minute}, // halfway
		{12 * time.Second, 10 * time.Second}, // not sooner than 10 s
		{5 * time.Second, 5 * time.Second},   // used until they expire
	} {
		if got := refreshTime(t0, t0.Add(tc.left)).Sub(t0); got != tc.want {
			t.Errorf("keys with %v left: refreshed after %v, want %v", tc.left, got, tc.want)
		}
	}
}

func TestMetadataConcurrentCallersShareOneFetch(t *testing.T) {
	clock := testutil.NewClock()
	hold := make(chan struct{})
	f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA}, expires: clock.Now().Add(6 * time.Hour), hold: hold}
	src := f.start(clock.Now)
	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := src.Credentials(context.Background()); err != nil || got != metaKeysA {
				errs <- fmt.Errorf("Credentials = %v, %v", got, err)
			}
		}()
	}
	testutil.WaitFor(t, func() bool { _, n := f.counts(); return n == 1 })
	time.Sleep(20 * time.Millisecond) // let every caller arrive
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if tokens, fetches := f.counts(); tokens != 1 || fetches != 1 {
		t.Errorf("%d callers at once: %d token and %d securitykey requests, want 1 and 1", callers, tokens, fetches)
	}
}

func TestMetadataCallerGivesUp(t *testing.T) {
	clock := testutil.NewClock()
	hold := make(chan struct{})
	f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA}, expires: clock.Now().Add(6 * time.Hour), hold: hold}
	src := f.start(clock.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := src.Credentials(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("a caller whose deadline passed: %v after %v", err, time.Since(start))
	}
	// The abandoned fetch is cancelled; the next caller starts afresh.
	close(hold)
	if got, err := src.Credentials(context.Background()); err != nil || got != metaKeysA {
		t.Fatalf("after an abandoned fetch: %v, %v", got, err)
	}
	if _, fetches := f.counts(); fetches != 2 {
		t.Errorf("%d fetches, want 2", fetches)
	}
}

func TestMetadataRequestTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 3 s timeout")
	}
	clock := testutil.NewClock()
	f := &fakeMetadata{t: t, keys: []Credentials{metaKeysA}, expires: clock.Now().Add(6 * time.Hour), hold: make(chan struct{})}
	src := f.start(clock.Now)
	start := time.Now()
	_, err := src.Credentials(context.Background())
	// Not before the timeout; and not long after it, though how long
	// after depends on the machine's load, so only a hang fails.
	if elapsed := time.Since(start); err == nil || elapsed < MetadataTimeout || elapsed > MetadataTimeout+30*time.Second {
		t.Fatalf("a hanging securitykey: %v after %v, want an error after %v", err, elapsed, MetadataTimeout)
	}
	if !strings.Contains(err.Error(), "metadata securitykey: request failed") {
		t.Errorf("err = %v", err)
	}
}

func TestMetadataErrorsHideSecrets(t *testing.T) {
	clock := testutil.NewClock()
	for _, tc := range []struct {
		name, answer string
		status       int
		want         string
	}{
		{"refusal echoing the token", `{"message":"bad token ` + fakeSessionToken + `"}`, http.StatusBadRequest, "HTTP 400"},
		{"no agency", `{"message":"Please configure Cloud Service Agency first"}`, http.StatusUnauthorized, "op_svc_ecs"},
		{"expires_at echoing the secret", `{"credential":{"access":"AK","secret":"` + metaKeysA.SecretKey + `","securitytoken":"tok1234567890","expires_at":"` + metaKeysA.SecretKey + `"}}`, 0, "not an RFC 3339 time"},
		{"no secret", `{"credential":{"access":"AK","securitytoken":"` + metaKeysA.SecurityToken + `","expires_at":"2099-01-01T00:00:00Z"}}`, 0, "credential has no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeMetadata{t: t, answer: tc.answer, status: tc.status}
			_, err := f.start(clock.Now).Credentials(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "keys from the metadata service") {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			testutil.CheckNoSecret(t, "the error", err.Error(), "", []string{fakeSessionToken, metaKeysA.SecretKey, metaKeysA.SecurityToken})
		})
	}
}

func TestDecodeSecurityKey(t *testing.T) {
	now := testutil.Epoch
	valid := func(expires string) string {
		return `{"credential":{"access":"AK1","secret":"SK1","securitytoken":"TOK1","expires_at":"` + expires + `"}}`
	}
	keys, expires, err := decodeSecurityKey([]byte(valid("2026-11-23T12:00:00Z")), now)
	if err != nil || keys != (Credentials{"AK1", "SK1", "TOK1"}) || !expires.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("valid answer: %v %v %v", keys, expires, err)
	}
	if _, expires, err := decodeSecurityKey([]byte(valid("2026-11-23T12:00:00.5+01:00")), now); err != nil || !expires.Equal(now.Add(23*time.Hour+500*time.Millisecond)) {
		t.Errorf("fractional seconds and an offset: %v %v", expires, err)
	}
	for _, tc := range []struct{ body, want string }{
		{``, "body: is empty, want a JSON object"},
		{`[]`, "body: is an array, want a JSON object"},
		{`{"credential":{"access":"AK1"`, "body: invalid JSON"},
		{`{}`, `body has no "credential" field`},
		{`{"credential":null}`, `"credential": is null, want a JSON object`},
		{`{"credential":{}}`, "credential has no access; credential has no secret; credential has no securitytoken; credential has no expires_at"},
		{`{"credential":{"access":1,"secret":"s","securitytoken":"t","expires_at":"2027-01-01T00:00:00Z"}}`, "credential.access is a number, want a string"},
		{`{"credential":{"access":"A K","secret":"s","securitytoken":"t","expires_at":"2027-01-01T00:00:00Z"}}`, "credential.access (3 bytes) is not printable ASCII"},
		{valid("tomorrow"), `credential.expires_at (8 bytes, not a time) is not an RFC 3339 time`},
		{valid("2026-11-23 12:00:00"), `credential.expires_at "2026-11-23 12:00:00" is not an RFC 3339 time`},
		{valid("2026-11-22T12:00:00Z"), "credential.expires_at 2026-11-22T12:00:00Z is already past (local clock: 2026-11-22T12:00:00Z)"},
		{valid(""), "credential has no expires_at"},
	} {
		_, _, err := decodeSecurityKey([]byte(tc.body), now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.body, err, tc.want)
		}
	}
}

// refusingCloud is a gateway that accepts only want and counts requests.
func refusingCloud(t *testing.T, want Credentials) (*fakeCloud, *url.URL) {
	f := &fakeCloud{t: t, creds: want, wantPath: "/v3/" + testProject + "/quotas", body: `{"resources":[]}`}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	return f, base
}

func (f *fakeCloud) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func TestClientRefreshesOnceAfterUnauthorized(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keys     []Credentials // handed out by the metadata service
		ok       bool
		requests int // to the gateway
		fetches  int
	}{
		{"new keys work", []Credentials{metaKeysA, metaKeysB}, true, 2, 2},
		{"the same keys again", []Credentials{metaKeysA}, false, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud, base := refusingCloud(t, metaKeysB)
			// The fake gateway checks signatures on the real clock.
			f := &fakeMetadata{t: t, keys: tc.keys, expires: time.Now().Add(6 * time.Hour)}
			gate := upstream.NewGate(nil)
			c := NewClientWithSource(upstream.New(upstream.Options{}), "cts", base, testProject, f.start(time.Now), gate)
			_, err := c.CTSQuotas(context.Background())
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if _, fetches := f.counts(); cloud.requests() != tc.requests || fetches != tc.fetches {
				t.Errorf("%d gateway requests and %d fetches, want %d and %d", cloud.requests(), fetches, tc.requests, tc.fetches)
			}
			if tc.ok && gate.Backoff() != 0 {
				t.Error("a 401 cured by new keys put the key in back-off")
			}
		})
	}
}

func TestClientWithStaticKeysDoesNotRetry(t *testing.T) {
	cloud, base := refusingCloud(t, metaKeysB)
	c := NewClient(upstream.New(upstream.Options{}), "cts", base, testProject, metaKeysA, nil)
	if _, err := c.CTSQuotas(context.Background()); !isUnauthorized(err) || cloud.requests() != 1 {
		t.Errorf("static keys refused: %v after %d requests, want one 401", err, cloud.requests())
	}
}

func TestClientFailsWithTheMetadataError(t *testing.T) {
	cloud, base := refusingCloud(t, metaKeysB)
	f := &fakeMetadata{t: t, answer: `{"credential":{}}`}
	gate := upstream.NewGate(nil)
	c := NewClientWithSource(upstream.New(upstream.Options{}), "cts", base, testProject, f.start(nil), gate)
	_, err := c.CTSQuotas(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "cts quotas: keys from the metadata service") || cloud.requests() != 0 {
		t.Errorf("err = %v after %d gateway requests", err, cloud.requests())
	}
	if IsAuthFailure(err) {
		t.Error("a broken metadata answer counts as an authentication failure of the key")
	}
}

func FuzzSecurityKeyAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"credential":{"access":"AK","secret":"secret-key-0123456789","securitytoken":"token-0123456789abcdef","expires_at":"2030-01-01T00:00:00Z"}}`,
		`{"credential":{"access":"AK","secret":"secret-key-0123456789","securitytoken":"token-0123456789abcdef","expires_at":"secret-key-0123456789"}}`,
		`{"credential":{"access":"secret-key-0123456789","secret":"secret-key-0123456789","securitytoken":"t","expires_at":"2020-01-01T00:00:00Z"}}`,
		`{"credential":{"access":"AK","secret":"s\u0065cret-key-0123456789","securitytoken":"tok","expires_at":"s\u0065cret-key-0123456789"}}`,
		`{"credential":{"access":"A\u0000K","secret":"x","securitytoken":"y","expires_at":1}}`,
		`{"credential":{"secret":"secret-key-0123456789"`,
		`{"credential":[]}`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	now := testutil.Epoch
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, expires, err := decodeSecurityKey(body, now)
		if err == nil {
			if keys.AccessKey == "" || keys.SecretKey == "" || keys.SecurityToken == "" || !expires.After(now) {
				t.Fatalf("accepted %q as %v expiring %v", body, keys, expires)
			}
			if !headerSafe(keys.AccessKey) || !headerSafe(keys.SecurityToken) {
				t.Fatalf("accepted keys that cannot be sent: %q", body)
			}
			return
		}
		// What the caller does with the error: redact the keys decoded.
		msg := upstream.NewRedactor(keys.SecretKey, keys.SecurityToken).Error(err).Error()
		var secrets []string
		var answer struct {
			Credential struct {
				Secret        string `json:"secret"`
				SecurityToken string `json:"securitytoken"`
			} `json:"credential"`
		}
		if json.Unmarshal(body, &answer) == nil {
			for _, s := range []string{answer.Credential.Secret, answer.Credential.SecurityToken} {
				if len(s) >= 8 {
					secrets = append(secrets, s)
				}
			}
		}
		testutil.CheckNoSecret(t, "the error", msg, string(body), secrets)
	})
}
