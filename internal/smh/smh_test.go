package smh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

const (
	testLibrary = "smh-lib-1"
	testSecret  = "SECRET-do-not-leak-0123456789"
)

// testCloud is the simulated SMH the tests talk to. It records every
// request and echoes refused secrets in its error answers, so that the
// tests can count requests and check that errors are scrubbed.
type testCloud struct {
	*simcloud.Cloud
	clock *testutil.Clock
}

// newTestCloud serves a library whose spaces are every id the tests ask
// for, each with the same usage; spaces given replace those of their id.
func newTestCloud(t *testing.T, spaces ...*simcloud.Space) *testCloud {
	t.Helper()
	var ids []string
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("s%d", i))
	}
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("space-%03d", i))
	}
	ids = append(ids, "a b", "x/y", "plain")
	lib := &simcloud.Library{Secret: testSecret}
	for _, id := range ids {
		lib.Spaces = append(lib.Spaces, &simcloud.Space{ID: id, Capacity: simcloud.Ptr(10000), Used: 1000})
	}
	for _, s := range spaces {
		i := slices.IndexFunc(lib.Spaces, func(l *simcloud.Space) bool { return l.ID == s.ID })
		lib.Spaces[i] = s
	}
	f := &testCloud{clock: testutil.NewClock()}
	f.Cloud = &simcloud.Cloud{
		Libraries:   map[string]*simcloud.Library{testLibrary: lib},
		Now:         f.clock.Now,
		Record:      true,
		EchoSecrets: true,
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// hookOn installs hook for the requests of operation op only.
func (f *testCloud) hookOn(op string, hook func(w http.ResponseWriter, r *http.Request) bool) {
	f.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		return simcloud.OpOf(r) == op && hook(w, r)
	})
}

func (f *testCloud) counts() (tokenRequests, usageRequests int) {
	return len(f.Requests(simcloud.OpSMHToken)), len(f.Requests(simcloud.OpSMHUsage))
}

// tokenQuery and usageQuery are the query of the i-th token or usage
// request.
func (f *testCloud) tokenQuery(i int) url.Values {
	return f.Requests(simcloud.OpSMHToken)[i].URL.Query()
}

func (f *testCloud) usageQuery(i int) url.Values {
	return f.Requests(simcloud.OpSMHUsage)[i].URL.Query()
}

// requestID is the id the cloud gave the i-th request of op.
func (f *testCloud) requestID(op string, i int) string { return f.Requests(op)[i].RequestID }

// batches returns the space ids of each usage request, in arrival order.
func (f *testCloud) batches() [][]string {
	var out [][]string
	for _, r := range f.Requests(simcloud.OpSMHUsage) {
		out = append(out, simcloud.SMHSpaceIDs(r.URL))
	}
	return out
}

func testCreds() Credentials {
	return Credentials{LibraryID: testLibrary, LibrarySecret: testSecret, Grant: "admin", TokenPeriod: time.Hour}
}

// newTestClient returns a Client for f on f's clock, so that moving the
// clock ages the tokens on both sides.
func newTestClient(t *testing.T, f *testCloud, creds Credentials) (*Client, *testutil.Clock) {
	t.Helper()
	base, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(upstream.New(upstream.Options{MaxConcurrent: 8}), base, creds, nil)
	c.now = f.clock.Now
	return c, f.clock
}

// assertNoSecrets fails if err's text holds the library secret or any of
// the tokens issued.
func assertNoSecrets(t *testing.T, err error, issued []string) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	msg := err.Error()
	if strings.Contains(msg, testSecret) {
		t.Errorf("error contains the library secret: %s", msg)
	}
	for _, tok := range issued {
		if strings.Contains(msg, tok) {
			t.Errorf("error contains access token %q: %s", tok, msg)
		}
	}
}

// answerRaw makes every request of operation op get body, with status 200.
func (f *testCloud) answerRaw(op, body string) {
	f.hookOn(op, func(w http.ResponseWriter, _ *http.Request) bool {
		fmt.Fprint(w, body)
		return true
	})
}

// delayTokens slows the token route, to let callers pile up.
func (f *testCloud) delayTokens(d time.Duration) {
	f.hookOn(simcloud.OpSMHToken, func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(d)
		return false
	})
}

func TestTokenReuseSequential(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	for i := range 20 {
		u, err := c.Usage(context.Background(), []string{"s1", "s2"}, 0)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(u.Spaces) != 2 {
			t.Fatalf("call %d: got %d spaces", i, len(u.Spaces))
		}
	}
	tokens, usages := f.counts()
	if tokens != 1 || usages != 20 {
		t.Errorf("got %d token and %d usage requests, want 1 and 20", tokens, usages)
	}
	q := f.tokenQuery(0)
	if q.Get("grant") != "admin" || q.Get("period") != "3600" || q.Get("library_id") != testLibrary {
		t.Errorf("token query = %v", q)
	}
	if f.usageQuery(0).Has("user_id") {
		t.Errorf("user_id sent though not set: %v", f.usageQuery(0))
	}
}

func TestTokenReuseConcurrent(t *testing.T) {
	f := newTestCloud(t)
	// A slow token endpoint makes every caller arrive while the first
	// token request is still in flight.
	f.delayTokens(100 * time.Millisecond)
	c, _ := newTestClient(t, f, testCreds())
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if tokens, usages := f.counts(); tokens != 1 || usages != 20 {
		t.Errorf("got %d token and %d usage requests, want 1 and 20", tokens, usages)
	}
}

func TestTokenQueryOmitsUnsetFields(t *testing.T) {
	f := newTestCloud(t)
	creds := testCreds()
	creds.Grant, creds.TokenPeriod, creds.UserID = "", 0, "user-7"
	c, _ := newTestClient(t, f, creds)
	if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
		t.Fatal(err)
	}
	if q := f.tokenQuery(0); q.Has("grant") || q.Has("period") {
		t.Errorf("token query = %v, want no grant or period", q)
	}
	if got := f.usageQuery(0).Get("user_id"); got != "user-7" {
		t.Errorf("user_id = %q, want user-7", got)
	}
}

func TestTokenRefreshAfterExpiry(t *testing.T) {
	f := newTestCloud(t)
	// testCreds asks for a one-hour token: margin min(360s, 5m) = 5m.
	c, clock := newTestClient(t, f, testCreds())
	call := func() {
		t.Helper()
		if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	call()
	clock.Advance(time.Hour - 5*time.Minute - time.Second)
	call()
	if tokens, _ := f.counts(); tokens != 1 {
		t.Fatalf("token refreshed before its margin: %d token requests", tokens)
	}
	clock.Advance(2 * time.Second)
	call()
	call()
	if tokens, usages := f.counts(); tokens != 2 || usages != 4 {
		t.Errorf("got %d token and %d usage requests, want 2 and 4", tokens, usages)
	}
	issued := f.SMHTokens()
	if got := f.usageQuery(3).Get("access_token"); got != issued[1] {
		t.Errorf("last call used %q, want the new token %q", got, issued[1])
	}
}

func TestRefreshMargin(t *testing.T) {
	for _, tc := range []struct{ lifetime, want time.Duration }{
		{24 * time.Hour, 5 * time.Minute},
		{20 * time.Minute, 2 * time.Minute},
		{30 * time.Second, 5 * time.Second},
		{4 * time.Second, 2 * time.Second},
	} {
		if got := refreshMargin(tc.lifetime); got != tc.want {
			t.Errorf("refreshMargin(%v) = %v, want %v", tc.lifetime, got, tc.want)
		}
	}
}

func TestRetryOnceOnInvalidAccessToken(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
		t.Fatal(err)
	}
	f.RevokeTokens() // as after a server restart or a token deletion
	u, err := c.Usage(context.Background(), []string{"s1"}, 0)
	if err != nil {
		t.Fatalf("want success after one retry: %v", err)
	}
	if len(u.Spaces) != 1 || u.Spaces[0].SpaceID != "s1" {
		t.Errorf("spaces = %+v", u.Spaces)
	}
	tokens, usages := f.counts()
	if tokens != 2 || usages-1 != 2 {
		t.Errorf("got %d token and %d usage requests for the revoked call, want 2 tokens in all and 2 usage requests", tokens, usages-1)
	}
	// The new token is cached again.
	if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
		t.Fatal(err)
	}
	if tokens, _ := f.counts(); tokens != 2 {
		t.Errorf("new token not reused: %d token requests", tokens)
	}
}

func TestRetryConcurrentBatchesShareOneNewToken(t *testing.T) {
	f := newTestCloud(t)
	f.delayTokens(20 * time.Millisecond)
	c, _ := newTestClient(t, f, testCreds())
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%d", i)
	}
	if _, err := c.Usage(context.Background(), ids, 0); err != nil {
		t.Fatal(err)
	}
	f.RevokeTokens()
	if _, err := c.Usage(context.Background(), ids, 0); err != nil {
		t.Fatal(err)
	}
	// A batch scheduled late may start with the already renewed token, so
	// the second call sends 4 to 8 usage requests; what matters is that the
	// rejected batches share one new token.
	tokens, usages := f.counts()
	if tokens != 2 || usages-4 < 4 || usages-4 > 8 {
		t.Errorf("got %d token and %d usage requests, want 2 and 8 to 12", tokens, usages)
	}
}

func TestFailsAfterOneRetry(t *testing.T) {
	f := newTestCloud(t)
	// Every token is revoked as a usage request arrives, so each one is
	// answered InvalidAccessToken.
	f.hookOn(simcloud.OpSMHUsage, func(http.ResponseWriter, *http.Request) bool {
		f.RevokeTokens()
		return false
	})
	c, _ := newTestClient(t, f, testCreds())
	_, err := c.Usage(context.Background(), []string{"s1"}, 0)
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "InvalidAccessToken" || apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("want a 403 InvalidAccessToken APIError, got %v", err)
	}
	if tokens, usages := f.counts(); tokens != 2 || usages != 2 {
		t.Errorf("got %d token and %d usage requests, want 2 and 2", tokens, usages)
	}
	// The server echoes the token in its message; it must be scrubbed.
	assertNoSecrets(t, err, f.SMHTokens())
}

func TestBatching(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	ids := make([]string, 120)
	for i := range ids {
		ids[i] = fmt.Sprintf("space-%03d", i)
	}
	u, err := c.Usage(context.Background(), ids, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, b := range f.batches() {
		sizes = append(sizes, len(b))
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{20, 50, 50}) {
		t.Errorf("batch sizes = %v, want 50, 50, 20", sizes)
	}
	var got []string
	for _, s := range u.Spaces {
		got = append(got, s.SpaceID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("space order not preserved:\n got %v\nwant %v", got, ids)
	}
}

func TestBatchFailureFailsCall(t *testing.T) {
	f := newTestCloud(t)
	f.hookOn(simcloud.OpSMHUsage, func(w http.ResponseWriter, r *http.Request) bool {
		if simcloud.SMHSpaceIDs(r.URL)[0] == "s50" {
			simcloud.SMHError(w, http.StatusInternalServerError, "InternalServerError", "boom")
			return true
		}
		return false
	})
	c, _ := newTestClient(t, f, testCreds())
	ids := make([]string, 120)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%d", i)
	}
	_, err := c.Usage(context.Background(), ids, 0)
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "InternalServerError" {
		t.Fatalf("want the failed batch's APIError, got %v", err)
	}
}

func TestPathEscaping(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	ids := []string{"a b", "x/y", "plain"}
	u, err := c.Usage(context.Background(), ids, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.batches()[0], ids) {
		t.Errorf("server saw ids %q, want %q", f.batches()[0], ids)
	}
	if len(u.Spaces) != 3 {
		t.Errorf("got %d spaces", len(u.Spaces))
	}
}

func TestInvalidSpaceIDs(t *testing.T) {
	f := newTestCloud(t)
	c, _ := newTestClient(t, f, testCreds())
	if _, err := c.Usage(context.Background(), nil, 0); !errors.Is(err, ErrNoSpaceIDs) {
		t.Errorf("no ids: got %v, want ErrNoSpaceIDs", err)
	}
	for _, ids := range [][]string{{"a", ""}, {"a,b"}} {
		if _, err := c.Usage(context.Background(), ids, 0); err == nil {
			t.Errorf("ids %q: want an error", ids)
		}
	}
	if tokens, usages := f.counts(); tokens != 0 || usages != 0 {
		t.Errorf("invalid input caused %d token and %d usage requests", tokens, usages)
	}
}

func TestNullAmounts(t *testing.T) {
	f := newTestCloud(t,
		// No capacity: sent as {"spaceId":"s1","capacity":null,"availableSpace":null,"size":"1000"}.
		&simcloud.Space{ID: "s1", Used: 1000},
		&simcloud.Space{ID: "s2", Raw: `{"spaceId":"s2","size":"7"}`})
	c, _ := newTestClient(t, f, testCreds())
	u, err := c.Usage(context.Background(), []string{"s1", "s2"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []SpaceUsage{
		{SpaceID: "s1", Used: upstream.Some(1000)},
		{SpaceID: "s2", Used: upstream.Some(7)},
	}
	if !slices.Equal(u.Spaces, want) {
		t.Errorf("spaces = %+v, want %+v", u.Spaces, want)
	}
	if len(u.Skipped) != 0 {
		t.Errorf("skipped = %q, want none", u.Skipped)
	}
}

func TestLargeValueExact(t *testing.T) {
	f := newTestCloud(t, &simcloud.Space{ID: "s1", Raw: `{"spaceId":"s1","capacity":"9007199254740993","availableSpace":"18446744073709551615","size":"0"}`})
	c, _ := newTestClient(t, f, testCreds())
	u, err := c.Usage(context.Background(), []string{"s1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := u.Spaces[0]
	if s.Capacity != upstream.Some(9007199254740993) {
		t.Errorf("capacity = %+v, want exactly 9007199254740993", s.Capacity)
	}
	if s.Available != upstream.Some(18446744073709551615) {
		t.Errorf("available = %+v", s.Available)
	}
	if s.Used != upstream.Some(0) {
		t.Errorf("used = %+v", s.Used)
	}
}

func TestSkippedBadValue(t *testing.T) {
	f := newTestCloud(t, &simcloud.Space{ID: "s1", Raw: `{"spaceId":"s1","capacity":"abc","availableSpace":"-5","size":"12"}`})
	c, _ := newTestClient(t, f, testCreds())
	u, err := c.Usage(context.Background(), []string{"s1", "s2"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []SpaceUsage{
		{SpaceID: "s1", Used: upstream.Some(12)},
		{SpaceID: "s2", Capacity: upstream.Some(10000), Available: upstream.Some(9000), Used: upstream.Some(1000)},
	}
	if !slices.Equal(u.Spaces, want) {
		t.Errorf("spaces = %+v, want %+v", u.Spaces, want)
	}
	wantSkipped := []string{
		`space "s1" capacity: "abc": not a non-negative integer`,
		`space "s1" availableSpace: "-5": negative value`,
	}
	if !slices.Equal(u.Skipped, wantSkipped) {
		t.Errorf("skipped = %q, want %q", u.Skipped, wantSkipped)
	}
}

func TestMalformedBody(t *testing.T) {
	for name, body := range map[string]string{
		"object":         `{"spaceId":"s1"}`,
		"null":           `null`,
		"not json":       `<html>oops</html>`,
		"empty":          ``,
		"element number": `[1]`,
		"no spaceId":     `[{"capacity":"1"}]`,
		"numeric id":     `[{"spaceId":5}]`,
		"truncated":      `[{"spaceId":"s1"`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newTestCloud(t)
			f.answerRaw(simcloud.OpSMHUsage, body)
			c, _ := newTestClient(t, f, testCreds())
			_, err := c.Usage(context.Background(), []string{"s1"}, 0)
			var decErr *upstream.DecodeError
			if !errors.As(err, &decErr) {
				t.Fatalf("want a DecodeError, got %T %v", err, err)
			}
			if decErr.RequestID != f.requestID(simcloud.OpSMHUsage, 0) || decErr.Operation != "usage" {
				t.Errorf("DecodeError = %+v, want the usage request's id %s", decErr, f.requestID(simcloud.OpSMHUsage, 0))
			}
			assertNoSecrets(t, err, f.SMHTokens())
		})
	}
}

func TestBadTokenAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"zero expiry":     `{"accessToken":"acctk-x","expiresIn":0}`,
		"negative expiry": `{"accessToken":"acctk-x","expiresIn":-1}`,
		// A missing expiresIn is no longer an error: the token lives for the
		// period asked for (TestTokenWithoutExpiresIn).
		"string expiry": `{"accessToken":"acctk-x","expiresIn":"soon"}`,
		"no token":      `{"expiresIn":86400}`,
		"not json":      `acctk-x`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newTestCloud(t)
			f.answerRaw(simcloud.OpSMHToken, body)
			c, _ := newTestClient(t, f, testCreds())
			_, err := c.Usage(context.Background(), []string{"s1"}, 0)
			var decErr *upstream.DecodeError
			if !errors.As(err, &decErr) || decErr.Operation != "token" || decErr.RequestID != f.requestID(simcloud.OpSMHToken, 0) {
				t.Fatalf("want a token DecodeError with the token request's id, got %v", err)
			}
			if strings.Contains(err.Error(), "acctk-x") {
				t.Errorf("error contains the token: %v", err)
			}
			if _, usages := f.counts(); usages != 0 {
				t.Errorf("%d usage requests sent without a token", usages)
			}
		})
	}
}

func TestErrorBodyReachesError(t *testing.T) {
	f := newTestCloud(t)
	f.hookOn(simcloud.OpSMHUsage, func(w http.ResponseWriter, _ *http.Request) bool {
		simcloud.SMHError(w, http.StatusForbidden, "NoPermission", "token lacks space_admin")
		return true
	})
	c, _ := newTestClient(t, f, testCreds())
	_, err := c.Usage(context.Background(), []string{"s1"}, 0)
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an APIError, got %T %v", err, err)
	}
	for _, want := range []string{"NoPermission", "token lacks space_admin", f.requestID(simcloud.OpSMHUsage, 0), "403", "usage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// NoPermission is not a token problem, so no retry.
	if tokens, usages := f.counts(); tokens != 1 || usages != 1 {
		t.Errorf("got %d token and %d usage requests, want 1 and 1", tokens, usages)
	}
}

func TestWrongLibrarySecret(t *testing.T) {
	f := newTestCloud(t)
	creds := testCreds()
	creds.LibrarySecret = testSecret + "-wrong"
	c, _ := newTestClient(t, f, creds)
	_, err := c.Usage(context.Background(), []string{"s1"}, 0)
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "WrongLibraryIdOrSecret" || apiErr.Operation != "token" {
		t.Fatalf("want a 404 WrongLibraryIdOrSecret token error, got %v", err)
	}
	// The server echoed the wrong secret; testSecret is its prefix.
	assertNoSecrets(t, err, f.SMHTokens())
	if !strings.Contains(err.Error(), f.requestID(simcloud.OpSMHToken, 0)) {
		t.Errorf("error lacks the request id: %v", err)
	}
	// A failed fetch is not cached: the next call asks again.
	c.Usage(context.Background(), []string{"s1"}, 0)
	if tokens, usages := f.counts(); tokens != 2 || usages != 0 {
		t.Errorf("got %d token and %d usage requests, want 2 and 0", tokens, usages)
	}
}

func TestConnectionRefusedHasNoSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base, _ := url.Parse("http://" + addr)
	c := NewClient(upstream.New(upstream.Options{}), base, testCreds(), nil)

	_, err = c.Usage(context.Background(), []string{"s1"}, 0)
	var tErr *upstream.TransportError
	if !errors.As(err, &tErr) {
		t.Fatalf("want a TransportError, got %T %v", err, err)
	}
	assertNoSecrets(t, err, nil)

	// The usage request, with a cached token in its URL, fails the same way.
	c.token = &cachedToken{value: "acctk-cached-secret-token", refreshAt: time.Now().Add(time.Hour)}
	_, err = c.Usage(context.Background(), []string{"s1"}, 0)
	assertNoSecrets(t, err, nil)
	if strings.Contains(err.Error(), "acctk-cached-secret-token") {
		t.Errorf("error contains the access token: %v", err)
	}
}

func TestWaiterLeavesFetchContinues(t *testing.T) {
	f := newTestCloud(t)
	gate := make(chan struct{})
	f.hookOn(simcloud.OpSMHToken, func(http.ResponseWriter, *http.Request) bool {
		<-gate
		return false
	})
	c, _ := newTestClient(t, f, testCreds())

	// The first caller starts the fetch and gives up while it hangs.
	ctx, cancel := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := c.Usage(ctx, []string{"s1"}, 0)
		firstDone <- err
	}()
	testutil.WaitFor(t, func() bool { tokens, _ := f.counts(); return tokens == 1 })

	secondDone := make(chan error, 1)
	go func() {
		_, err := c.Usage(context.Background(), []string{"s1"}, 0)
		secondDone <- err
	}()
	cancel()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: got %v, want context.Canceled", err)
	}
	close(gate)
	if err := <-secondDone; err != nil {
		t.Errorf("second caller: %v", err)
	}
	if tokens, usages := f.counts(); tokens != 1 || usages != 1 {
		t.Errorf("got %d token and %d usage requests, want 1 and 1", tokens, usages)
	}
}

func TestBasePathPrefix(t *testing.T) {
	f := newTestCloud(t)
	proxy := httptest.NewServer(http.StripPrefix("/proxy", f.Cloud))
	t.Cleanup(proxy.Close)
	base, _ := url.Parse(proxy.URL + "/proxy/")
	c := NewClient(upstream.New(upstream.Options{}), base, testCreds(), nil)
	if _, err := c.Usage(context.Background(), []string{"s1"}, 0); err != nil {
		t.Fatal(err)
	}
}
