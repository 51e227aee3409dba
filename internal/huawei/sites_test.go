package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

func TestWorkspaceSiteList(t *testing.T) {
	f := &fakeCloud{
		t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/sites",
		body: `{"site_infos":[
			{"site_id":"site-a","site_name":"a","site_type":"CENTER","status":"AVAILABLE"},
			{"site_id":147258369,"site_type":"IES"},
			{"site_id":1.5e1},
			{"site_id":"site-a"},
			{"site_id":-3},
			{"site_id":true},
			{"site_name":"no id"}
		],"total_count":7}`,
	}
	got, err := f.start("workspace", "", permanentCreds).WorkspaceSiteList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &SiteList{
		IDs: []string{"site-a", "147258369", "15"},
		Skipped: []string{
			`site "site-a": listed more than once; asked for once`,
			"site_infos[4] site_id: -3: negative value; site skipped",
			"site_infos[5] site_id: is a boolean, want a string or a number; site skipped",
			"site_infos[6]: no site_id; site skipped",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestWorkspaceSiteListCount(t *testing.T) {
	for body, note := range map[string]string{
		`{"site_infos":[{"site_id":"a"}],"total_count":1}`:   "",
		`{"site_infos":[{"site_id":"a"}]}`:                   "",
		`{"site_infos":[{"site_id":"a"}],"total_count":3}`:   "total_count is 3 but 1 sites were sent; only those are asked for",
		`{"site_infos":[{"site_id":"a"}],"total_count":"1"}`: `total_count: want an integer, got a string "1"`,
	} {
		f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/sites", body: body}
		got, err := f.start("workspace", "", permanentCreds).WorkspaceSiteList(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if gotNote := strings.Join(got.Skipped, "|"); gotNote != note || !reflect.DeepEqual(got.IDs, []string{"a"}) {
			t.Errorf("%s: got %+v, want note %q", body, got, note)
		}
	}
}

func TestWorkspaceSiteListBadShapes(t *testing.T) {
	for _, body := range []string{`null`, `{}`, `{"site_infos":{}}`, `{"site_infos":[1]}`, `{"site_infos":[null]}`, `{"site_infos":`} {
		f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/sites", body: body}
		_, err := f.start("workspace", "", permanentCreds).WorkspaceSiteList(context.Background())
		var decErr *upstream.DecodeError
		if !errors.As(err, &decErr) || decErr.Operation != "sites" {
			t.Errorf("%s: err = %v, want a sites DecodeError", body, err)
		}
	}
}

// The official ShowQuotas example sends site_id as a number: it is the
// same site as the string, in any exact integer notation.
func TestWorkspaceQuotasNumericSiteID(t *testing.T) {
	for raw, want := range map[string]string{
		`147258369`:    "147258369",
		`1.47258369e8`: "147258369",
		`147258369.0`:  "147258369",
		`"147258369"`:  "147258369",
		`0`:            "0",
	} {
		f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/quotas/detail", body: `{"resources":[],"site_id":` + raw + `}`}
		got, err := f.start("workspace", "", permanentCreds).WorkspaceQuotas(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got.SiteID != want || len(got.Skipped) != 0 {
			t.Errorf("site_id %s: got %q %q, want %q", raw, got.SiteID, got.Skipped, want)
		}
	}
	for raw, note := range map[string]string{
		`1.5`:    "site_id: 1.5: not a non-negative integer",
		`-1`:     "site_id: -1: negative value",
		`1e30`:   "site_id: 1e30: too large",
		`{}`:     "site_id: is an object, want a string or a number",
		`[1, 2]`: "site_id: is an array, want a string or a number",
	} {
		f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/quotas/detail", body: `{"resources":[],"site_id":` + raw + `}`}
		got, err := f.start("workspace", "", permanentCreds).WorkspaceQuotas(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got.SiteID != "" || len(got.Skipped) != 1 || got.Skipped[0] != note {
			t.Errorf("site_id %s: got %q %q, want note %q", raw, got.SiteID, got.Skipped, note)
		}
	}
}

// A space goes on the wire as %20 and a plus as %2B, as the official SDKs
// send them, and the signature covers those bytes.
func TestQueryEncodingOnTheWire(t *testing.T) {
	var raw string
	inner := &fakeCloud{
		t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/quotas/detail",
		wantQuery: url.Values{"site_id": {"a b+c"}, "az_code": {"x y"}}, body: `{"resources":[]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw = r.URL.RawQuery
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	c := NewClient(upstream.New(upstream.Options{}), "workspace", base, testProject, permanentCreds, nil)
	if _, err := c.WorkspaceQuotas(context.Background(), "a b+c", "x y"); err != nil {
		t.Fatal(err)
	}
	if want := "az_code=x%20y&site_id=a%20b%2Bc"; raw != want {
		t.Errorf("raw query %q, want %q", raw, want)
	}
}

func TestEncodeAndParseQuery(t *testing.T) {
	q := url.Values{"a b": {"c d", "+"}, "k": {"一 (&=?!#%.*)/~"}, "empty": {""}}
	enc := EncodeQuery(q)
	if strings.Contains(enc, "+") {
		t.Errorf("EncodeQuery = %q has a +", enc)
	}
	if got := ParseQuery(enc); !reflect.DeepEqual(got, q) {
		t.Errorf("ParseQuery(EncodeQuery) = %v, want %v", got, q)
	}
	if form, _ := url.ParseQuery(enc); !reflect.DeepEqual(form, q) {
		t.Errorf("url.ParseQuery reads %q as %v", enc, form)
	}
	// + is a plus by RFC 3986; a bad escape drops its pair only.
	got := ParseQuery("a=b+c&&bad=%zz&d")
	if want := (url.Values{"a": {"b+c"}, "d": {""}}); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseQuery = %v, want %v", got, want)
	}
	// Signed as sent: "+" in the raw query is signed as %2B, as a
	// gateway reading the query by RFC 3986 computes it.
	plus := canonicalQueryString(ParseQuery("site_id=a+b"))
	if plus != "site_id=a%2Bb" {
		t.Errorf("canonical query of a+b = %q", plus)
	}
}

func TestSiteIDFieldIsJSONKindAware(t *testing.T) {
	obj := map[string]json.RawMessage{"site_id": json.RawMessage(` 42`)}
	if id, err := siteIDField(obj, "site_id"); err != nil || id != "42" {
		t.Errorf("siteIDField = %q, %v", id, err)
	}
	if id, err := siteIDField(map[string]json.RawMessage{"site_id": json.RawMessage(`null`)}, "site_id"); err != nil || id != "" {
		t.Errorf("null: siteIDField = %q, %v", id, err)
	}
}
