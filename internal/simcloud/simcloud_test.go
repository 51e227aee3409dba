package simcloud

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// startCloud serves a small cloud on clock; configure, when given, changes
// it before Start.
func startCloud(t *testing.T, clock *testutil.Clock, configure ...func(*Cloud)) *Cloud {
	t.Helper()
	c := &Cloud{
		Libraries:     map[string]*Library{"lib": {Secret: "sec", Spaces: []*Space{{ID: "s1", Capacity: Ptr(100), Used: 40}, {ID: "s2", Used: 5}}}},
		TokenLifetime: time.Hour,
		Keys:          map[string]Key{"AK": {SecretKey: "SK"}},
		Projects:      map[string]*Project{"p1": {DefaultSite: "a", Sites: map[string][]*Resource{"a": {{Type: "cores", Unit: "count", Quota: Ptr(10), Used: 3}}}, CTS: []*Resource{{Type: "system_tracker", Quota: Ptr(1), Used: 1}}}},
		Now:           clock.Now,
	}
	for _, f := range configure {
		f(c)
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
	clock := testutil.NewClock()
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
	clock := testutil.NewClock()
	clock.Set(time.Now()) // the signature's date is checked against it
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

func get(t *testing.T, u string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return getJSON(t, req)
}

// issueToken asks c for a token of library lib with secret sec.
func issueToken(t *testing.T, c *Cloud) string {
	t.Helper()
	code, tok, body := get(t, c.URL+"/api/v1/token?library_id=lib&library_secret=sec")
	if code != 200 {
		t.Fatalf("token: %d %s", code, body)
	}
	return tok["accessToken"].(string)
}

func TestRecordLogsRequestsAndTokens(t *testing.T) {
	clock := testutil.NewClock()
	c := startCloud(t, clock, func(c *Cloud) {
		c.Record = true
		c.Libraries["lib"].Spaces = append(c.Libraries["lib"].Spaces, &Space{ID: "x/y", Used: 1}, &Space{ID: "a b", Used: 2})
	})
	tok := issueToken(t, c)
	clock.Advance(time.Second)
	if code, _, body := get(t, c.URL+"/api/v1/usage/lib/x%2Fy,a%20b?access_token="+tok); code != 200 {
		t.Fatalf("usage with escaped ids: %d %s", code, body)
	}
	get(t, c.URL+"/nowhere")

	all := c.Requests("")
	if len(all) != 3 || all[2].Op != "" || all[2].URL.Path != "/nowhere" {
		t.Fatalf("log = %+v, want token, usage and /nowhere", all)
	}
	usage := c.Requests(OpSMHUsage)
	if len(usage) != 1 || usage[0].Method != http.MethodGet || !usage[0].At.Equal(testutil.Epoch.Add(time.Second)) || usage[0].RequestID == "" {
		t.Fatalf("usage log = %+v", usage)
	}
	if ids := SMHSpaceIDs(usage[0].URL); !slices.Equal(ids, []string{"x/y", "a b"}) {
		t.Errorf("logged space ids = %q", ids)
	}
	if got := c.Requests(OpSMHToken)[0].URL.Query().Get("library_id"); got != "lib" {
		t.Errorf("logged token query library_id = %q", got)
	}
	c.RevokeTokens()
	if got := c.SMHTokens(); !slices.Equal(got, []string{tok}) {
		t.Errorf("SMHTokens = %q, want the revoked %q", got, tok)
	}
}

func TestNoRecordByDefault(t *testing.T) {
	c := startCloud(t, testutil.NewClock())
	issueToken(t, c)
	if n, m := len(c.Requests("")), len(c.SMHTokens()); n != 0 || m != 0 {
		t.Errorf("without Record: %d requests and %d tokens kept", n, m)
	}
}

func TestEchoSecretsAndRawSpace(t *testing.T) {
	c := startCloud(t, testutil.NewClock(), func(c *Cloud) {
		c.EchoSecrets = true
		c.Libraries["lib"].Spaces[1].Raw = `{"spaceId":"s2","size":"x"}`
	})
	if _, obj, _ := get(t, c.URL+"/api/v1/token?library_id=lib&library_secret=wrong-one"); !strings.Contains(obj["message"].(string), "wrong-one") {
		t.Errorf("wrong secret not echoed: %v", obj)
	}
	if _, obj, _ := get(t, c.URL+"/api/v1/usage/lib/s1?access_token=acctkgone"); obj["code"] != "InvalidAccessToken" || !strings.Contains(obj["message"].(string), "acctkgone") {
		t.Errorf("refused token not echoed: %v", obj)
	}
	tok := issueToken(t, c)
	if code, _, body := get(t, c.URL+"/api/v1/usage/lib/s1,s2?access_token="+tok); code != 200 || !strings.HasSuffix(strings.TrimSpace(body), `{"spaceId":"s2","size":"x"}]`) {
		t.Errorf("raw space: %d %s", code, body)
	}
}

func TestHookSeesOpAndAnswersWithSMHError(t *testing.T) {
	c := startCloud(t, testutil.NewClock(), func(c *Cloud) { c.Record = true })
	var ops []string
	c.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		ops = append(ops, OpOf(r))
		if OpOf(r) != OpSMHUsage {
			return false
		}
		SMHError(w, http.StatusInternalServerError, "InternalServerError", "boom")
		return true
	})
	tok := issueToken(t, c)
	code, obj, _ := get(t, c.URL+"/api/v1/usage/lib/s1?access_token="+tok)
	logged := c.Requests(OpSMHUsage)
	if code != 500 || obj["code"] != "InternalServerError" || len(logged) != 1 || obj["requestId"] != logged[0].RequestID {
		t.Errorf("hooked usage: %d %v, log %+v; want 500 with the logged request id", code, obj, logged)
	}
	if !slices.Equal(ops, []string{OpSMHToken, OpSMHUsage}) {
		t.Errorf("hook saw ops %q", ops)
	}
	if n := c.Counts()[OpSMHUsage]; n != 0 {
		t.Errorf("Counts has %d usage requests, want 0: the hook answered", n)
	}
}

// issueGrantToken asks c for a token of library lib with the grant.
func issueGrantToken(t *testing.T, c *Cloud, grant string) string {
	t.Helper()
	code, tok, body := get(t, c.URL+"/api/v1/token?library_id=lib&library_secret=sec&grant="+url.QueryEscape(grant))
	if code != 200 {
		t.Fatalf("token: %d %s", code, body)
	}
	return tok["accessToken"].(string)
}

// listPage asks for one page of lib's listing.
func listPage(t *testing.T, c *Cloud, token, query string) (int, map[string]any) {
	t.Helper()
	code, obj, _ := get(t, c.URL+"/api/v1/space/lib/list?access_token="+url.QueryEscape(token)+query)
	return code, obj
}

func TestSMHSpaceListPages(t *testing.T) {
	c := startCloud(t, testutil.NewClock(), func(c *Cloud) {
		for i := range 5 {
			c.Libraries["lib"].Spaces = append(c.Libraries["lib"].Spaces, &Space{ID: "x" + strconv.Itoa(i)})
		}
	})
	tok := issueGrantToken(t, c, "admin")
	var ids []string
	var shapes []string
	marker := ""
	for range 10 {
		code, obj := listPage(t, c, tok, "&limit=2&marker="+url.QueryEscape(marker))
		if code != 200 {
			t.Fatalf("page: %d %v", code, obj)
		}
		for _, e := range obj["list"].([]any) {
			s := e.(map[string]any)
			if _, ok := s["creationTime"].(string); !ok {
				t.Errorf("element without creationTime: %v", s)
			}
			ids = append(ids, s["spaceId"].(string))
		}
		m, hasMarker := obj["marker"].(string)
		n, hasNext := obj["nextMarker"].(string)
		switch {
		case hasNext && hasMarker && m == n:
			shapes = append(shapes, "both")
		case hasMarker && m != marker:
			shapes = append(shapes, "marker")
		case hasMarker:
			shapes = append(shapes, "echo")
		default:
			shapes = append(shapes, "none")
		}
		next := n
		if !hasNext {
			next = m
		}
		if next == "" || next == marker {
			break
		}
		marker = next
	}
	if want := []string{"s1", "s2", "x0", "x1", "x2", "x3", "x4"}; !slices.Equal(ids, want) {
		t.Errorf("listed %q, want %q", ids, want)
	}
	if want := []string{"both", "marker", "both", "none"}; !slices.Equal(shapes, want) {
		t.Errorf("page shapes %q, want %q", shapes, want)
	}
	// Three pages: the last one (even) echoes the marker it was sent.
	c.Update(func(c *Cloud) { c.Libraries["lib"].Spaces = c.Libraries["lib"].Spaces[:6] })
	_, p2 := listPage(t, c, tok, "&limit=2&marker=mk2.4")
	if p2["marker"] != "mk2.4" || p2["nextMarker"] != nil || len(p2["list"].([]any)) != 2 {
		t.Errorf("last even page: %v, want the marker echoed and no nextMarker", p2)
	}
}

func TestSMHSpaceListKnobsAndRefusals(t *testing.T) {
	c := startCloud(t, testutil.NewClock(), func(c *Cloud) {
		c.EchoSecrets = true
		c.SMH.Libraries = map[string]*SMHLibrary{"lib": {PageSize: 1, RepeatMarker: true}}
	})
	tok := issueGrantToken(t, c, "space_admin")
	_, first := listPage(t, c, tok, "")
	if len(first["list"].([]any)) != 1 || first["nextMarker"] == nil {
		t.Fatalf("first page: %v, want one space (PageSize) and a next marker", first)
	}
	_, second := listPage(t, c, tok, "&marker="+first["nextMarker"].(string))
	if second["nextMarker"] != first["nextMarker"] {
		t.Errorf("RepeatMarker: second page's nextMarker %v, want %v again", second["nextMarker"], first["nextMarker"])
	}
	for _, q := range []string{"&limit=0", "&limit=1001", "&limit=x", "&marker=bogus"} {
		if code, obj := listPage(t, c, tok, q); code != 400 || obj["code"] != "ParamInvalid" {
			t.Errorf("query %s: %d %v, want 400 ParamInvalid", q, code, obj)
		}
	}
	plain := issueGrantToken(t, c, "")
	code, obj := listPage(t, c, plain, "")
	if code != 403 || obj["code"] != "NoPermission" || !strings.Contains(obj["message"].(string), plain) {
		t.Errorf("token without grant: %d %v, want 403 NoPermission echoing the token", code, obj)
	}
}

func TestSMHLibraryUsage(t *testing.T) {
	c := startCloud(t, testutil.NewClock())
	admin := issueGrantToken(t, c, "admin")
	code, _, body := get(t, c.URL+"/api/v1/usage/lib?access_token="+admin)
	if code != 200 || strings.TrimSpace(body) != `{"totalFileSize":"45"}` {
		t.Errorf("default totals: %d %s, want totalFileSize only", code, body)
	}
	c.Update(func(c *Cloud) {
		c.SMH.Libraries = map[string]*SMHLibrary{"lib": {Totals: &LibraryTotals{Allocated: Ptr(100)}}}
	})
	_, _, body = get(t, c.URL+"/api/v1/usage/lib?access_token="+admin)
	if want := `{"totalFileSize":"45","capacity":null,"availableSpace":null,"totalAllocatedSpaceQuota":"100"}`; strings.TrimSpace(body) != want {
		t.Errorf("totals: %s, want %s", body, want)
	}
	c.Update(func(c *Cloud) { c.SMH.Libraries["lib"].Totals.Capacity = Ptr(1000) })
	if _, obj, _ := get(t, c.URL+"/api/v1/usage/lib?access_token="+admin); obj["capacity"] != "1000" || obj["availableSpace"] != "955" {
		t.Errorf("totals with capacity: %v", obj)
	}
	if code, obj, _ := get(t, c.URL+"/api/v1/usage/lib?access_token="+issueGrantToken(t, c, "space_admin")); code != 403 || obj["code"] != "NoPermission" {
		t.Errorf("space_admin token: %d %v, want 403 NoPermission (admin only)", code, obj)
	}
}

func TestSMHUsageUnknownSpaceInBatch(t *testing.T) {
	c := startCloud(t, testutil.NewClock())
	tok := issueToken(t, c)
	code, obj, _ := get(t, c.URL+"/api/v1/usage/lib/s1,nope,s2?access_token="+tok)
	if code != 404 || obj["code"] != "SpaceNotFound" {
		t.Errorf("batch with an unknown id: %d %v, want 404 SpaceNotFound", code, obj)
	}
}
