package simcloud

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
)

// fakeClock is a settable clock for token expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func startCloud(t *testing.T, clock *fakeClock) *Cloud {
	t.Helper()
	c := &Cloud{
		Libraries:     map[string]*Library{"lib": {Secret: "sec", Spaces: []*Space{{ID: "s1", Capacity: Ptr(100), Used: 40}, {ID: "s2", Used: 5}}}},
		TokenLifetime: time.Hour,
		Keys:          map[string]Key{"AK": {SecretKey: "SK"}},
		Projects:      map[string]*Project{"p1": {DefaultSite: "a", Sites: map[string][]*Resource{"a": {{Type: "cores", Unit: "count", Quota: Ptr(10), Used: 3}}}, CTS: []*Resource{{Type: "system_tracker", Quota: Ptr(1), Used: 1}}}},
		Now:           clock.Now,
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func getJSON(t *testing.T, req *http.Request) (int, map[string]any, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	json.Unmarshal(body, &obj)
	return resp.StatusCode, obj, string(body)
}

func TestSMHTokenExpiresAndIsRenewedByUse(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	c := startCloud(t, clock)
	req, _ := http.NewRequest(http.MethodGet, c.URL+"/api/v1/token?library_id=lib&library_secret=sec", nil)
	code, tok, body := getJSON(t, req)
	if code != 200 || tok["expiresIn"].(float64) != 3600 {
		t.Fatalf("token: %d %s", code, body)
	}
	usage := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, c.URL+"/api/v1/usage/lib/s1,s2?access_token="+url.QueryEscape(tok["accessToken"].(string)), nil)
		code, _, body := getJSON(t, req)
		return code, body
	}
	if code, body := usage(); code != 200 || !strings.Contains(body, `"capacity":"100","availableSpace":"60","size":"40"`) || !strings.Contains(body, `"spaceId":"s2","capacity":null,"availableSpace":null,"size":"5"`) {
		t.Fatalf("usage: %d %s", code, body)
	}
	clock.Advance(50 * time.Minute)
	if code, _ := usage(); code != 200 {
		t.Fatalf("token used within its period refused")
	}
	clock.Advance(50 * time.Minute) // 100 min after issue, 50 after last use
	if code, _ := usage(); code != 200 {
		t.Fatalf("a use did not renew the token")
	}
	clock.Advance(61 * time.Minute)
	if code, body := usage(); code != 403 || !strings.Contains(body, `"code":"InvalidAccessToken"`) {
		t.Fatalf("stale token: %d %s, want 403 InvalidAccessToken", code, body)
	}

	req, _ = http.NewRequest(http.MethodGet, c.URL+"/api/v1/token?library_id=lib&library_secret=wrong", nil)
	if code, obj, _ := getJSON(t, req); code != 404 || obj["code"] != "WrongLibraryIdOrSecret" {
		t.Errorf("wrong secret: %d %v", code, obj)
	}
}

func TestHuaweiGatewayChecksSignature(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	c := startCloud(t, clock)
	signed := func(sk string) *http.Request {
		u, _ := url.Parse(c.URL + "/v3/p1/quotas")
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		req.Header.Set("X-Project-Id", "p1")
		if err := huawei.Sign(req.Method, req.URL, req.Header, nil, huawei.Credentials{AccessKey: "AK", SecretKey: sk}, clock.Now()); err != nil {
			t.Fatal(err)
		}
		return req
	}
	if code, obj, body := getJSON(t, signed("SK")); code != 200 || obj["resources"] == nil {
		t.Fatalf("signed request: %d %s", code, body)
	}
	code, obj, _ := getJSON(t, signed("not-the-key"))
	if code != 401 || obj["error_code"] != "APIGW.0301" || obj["request_id"] == "" {
		t.Errorf("wrong signature: %d %v, want 401 APIGW.0301 with request_id", code, obj)
	}
	if n := c.Counts()[OpHuaweiAuthFailure]; n != 1 {
		t.Errorf("auth failures counted %d, want 1", n)
	}
}
