package huawei

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

const testProject = "29dfe82ada564ac2b927e1ff036d9a9b"

// fakeCloud is a loopback Huawei endpoint that checks requests the way the
// gateway does and answers with a canned response.
type fakeCloud struct {
	t         *testing.T
	creds     Credentials // the only credentials it knows
	wantPath  string      // escaped
	wantQuery url.Values
	project   string

	status int
	header map[string]string
	body   string

	mu   sync.Mutex
	seen []http.Header
}

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("reading request body: %v", err)
	}
	f.mu.Lock()
	f.seen = append(f.seen, r.Header.Clone())
	f.mu.Unlock()

	lookup := func(ak string) (Credentials, bool) { return f.creds, ak == f.creds.AccessKey }
	if err := Verify(r, body, lookup, time.Now(), 0); err != nil {
		var verr *VerifyError
		if !errors.As(err, &verr) {
			f.t.Fatalf("Verify returned %T", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(verr.HTTPStatus())
		fmt.Fprintf(w, `{"error_msg":%q,"error_code":%q,"request_id":"abc"}`, verr.Msg, verr.Code)
		return
	}
	if r.Method != http.MethodGet {
		f.t.Errorf("method = %s", r.Method)
	}
	project := f.project
	if project == "" {
		project = testProject
	}
	if got := r.Header.Get(ProjectIDHeader); got != project {
		f.t.Errorf("X-Project-Id = %q, want %q", got, project)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		f.t.Errorf("Content-Type = %q", got)
	}
	if got := r.URL.EscapedPath(); got != f.wantPath {
		f.t.Errorf("path = %q, want %q", got, f.wantPath)
	}
	wantQuery := f.wantQuery
	if wantQuery == nil {
		wantQuery = url.Values{}
	}
	if got := r.URL.Query(); !reflect.DeepEqual(got, wantQuery) {
		f.t.Errorf("query = %v, want %v", got, wantQuery)
	}
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	io.WriteString(w, f.body)
}

func (f *fakeCloud) lastHeader() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		f.t.Fatal("no request reached the server")
	}
	return f.seen[len(f.seen)-1]
}

// start serves f and returns a client for service at its address, with
// path as the endpoint path and creds as the client's credentials.
func (f *fakeCloud) start(service, path string, creds Credentials) *Client {
	f.t.Helper()
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	project := f.project
	if project == "" {
		project = testProject
	}
	return NewClient(upstream.New(upstream.Options{}), service, base, project, creds, nil)
}

func TestWorkspaceQuotas(t *testing.T) {
	f := &fakeCloud{
		t: t, creds: permanentCreds,
		wantPath:  "/v2/" + testProject + "/quotas/detail",
		wantQuery: url.Values{"site_id": {"147258369"}, "az_code": {"cn-north-7-ies-ohzce"}},
		body: `{"resources":[
			{"type":"cores","quota":100,"used":12,"unit":"core"},
			{"type":"Cores","quota":2147483647,"used":0},
			{"type":"Memory","quota":409600,"used":1024,"unit":"MB"}
		],"site_id":"147258369"}`,
	}
	c := f.start("workspace", "", permanentCreds)
	got, err := c.WorkspaceQuotas(context.Background(), "147258369", "cn-north-7-ies-ohzce")
	if err != nil {
		t.Fatal(err)
	}
	want := &WorkspaceQuotas{SiteID: "147258369", Quotas: Quotas{Resources: []Resource{
		{Type: "cores", Unit: "core", Quota: upstream.Some(100), Used: upstream.Some(12)},
		{Type: "Cores", Quota: upstream.Some(2147483647), Used: upstream.Some(0)},
		{Type: "Memory", Unit: "MB", Quota: upstream.Some(409600), Used: upstream.Some(1024)},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if auth := f.lastHeader().Get("Authorization"); !strings.Contains(auth, "SignedHeaders=") ||
		strings.Contains(auth, "content-type") || !strings.Contains(auth, "x-project-id") {
		t.Errorf("Authorization = %q", auth)
	}
}

func TestWorkspaceQuotasOptionalQuery(t *testing.T) {
	f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/quotas/detail", body: `{"resources":[]}`}
	c := f.start("workspace", "", permanentCreds)
	got, err := c.WorkspaceQuotas(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.SiteID != "" || len(got.Resources) != 0 || len(got.Skipped) != 0 {
		t.Errorf("got %+v", got)
	}
}

// Awkward values prove that the signed query and path are the ones sent.
func TestSignatureCoversWireEncoding(t *testing.T) {
	const project = "proj/1 é"
	site, az := "a b+c&d=e/f", "一 (&=?!#%.*)"
	f := &fakeCloud{
		t: t, creds: permanentCreds, project: project,
		wantPath:  "/prefix/v2/proj%2F1%20%C3%A9/quotas/detail",
		wantQuery: url.Values{"site_id": {site}, "az_code": {az}},
		body:      `{"resources":[]}`,
	}
	c := f.start("workspace", "/prefix/", permanentCreds)
	if _, err := c.WorkspaceQuotas(context.Background(), site, az); err != nil {
		t.Fatal(err)
	}
}

func TestCTSQuotas(t *testing.T) {
	f := &fakeCloud{
		t: t, creds: permanentCreds, wantPath: "/v3/" + testProject + "/quotas",
		header: map[string]string{"X-Request-Id": "req-1"},
		body:   `{"resources":[{"quota":1,"used":1,"type":"system_tracker"},{"quota":100,"used":9,"type":"data_tracker"}]}`,
	}
	c := f.start("cts", "", permanentCreds)
	got, err := c.CTSQuotas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &Quotas{Resources: []Resource{
		{Type: "system_tracker", Quota: upstream.Some(1), Used: upstream.Some(1)},
		{Type: "data_tracker", Quota: upstream.Some(100), Used: upstream.Some(9)},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestNullAndSkippedValues(t *testing.T) {
	f := &fakeCloud{
		t: t, creds: permanentCreds, wantPath: "/v3/" + testProject + "/quotas",
		body: `{"resources":[
			{"type":"system_tracker","quota":null},
			{"type":"cores","quota":-5,"used":3},
			{"type":"data_tracker","quota":"100","used":1.5},
			{"type":"","quota":1,"used":1},
			{"quota":1,"used":1}
		]}`,
	}
	c := f.start("cts", "", permanentCreds)
	got, err := c.CTSQuotas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantResources := []Resource{
		{Type: "system_tracker"},
		{Type: "cores", Used: upstream.Some(3)},
		{Type: "data_tracker"},
	}
	if !reflect.DeepEqual(got.Resources, wantResources) {
		t.Errorf("resources\n got %+v\nwant %+v", got.Resources, wantResources)
	}
	wantSkipped := []string{
		`resource "cores" quota: -5: negative value`,
		`resource "data_tracker" quota: want an integer, got a string "100"`,
		`resource "data_tracker" used: 1.5: not a non-negative integer`,
		`resources[3]: empty type; entry skipped`,
		`resources[4]: empty type; entry skipped`,
	}
	if !reflect.DeepEqual(got.Skipped, wantSkipped) {
		t.Errorf("skipped\n got %q\nwant %q", got.Skipped, wantSkipped)
	}
}

func TestGatewayRefusalIsAPIError(t *testing.T) {
	f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v3/" + testProject + "/quotas"}
	wrong := Credentials{AccessKey: permanentCreds.AccessKey, SecretKey: "wrong-secret-key"}
	c := f.start("cts", "", wrong)
	_, err := c.CTSQuotas(context.Background())
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v (%T), want *upstream.APIError", err, err)
	}
	if apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != CodeAuthFailed || apiErr.RequestID != "abc" ||
		apiErr.Service != "cts" || apiErr.Operation != "quotas" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if !strings.Contains(apiErr.Message, "verify aksk signature fail") {
		t.Errorf("message = %q", apiErr.Message)
	}
}

func TestRequestIDFromHeader(t *testing.T) {
	f := &fakeCloud{
		t: t, creds: permanentCreds, wantPath: "/v2/" + testProject + "/quotas/detail",
		status: http.StatusForbidden, header: map[string]string{"X-Request-Id": "hdr-42", "Content-Type": "application/json"},
		body: `{"error_code":"WKS.00211102","error_msg":"no permission","encoded_authorization_message":"enc"}`,
	}
	c := f.start("workspace", "", permanentCreds)
	_, err := c.WorkspaceQuotas(context.Background(), "", "")
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *upstream.APIError", err)
	}
	if apiErr.RequestID != "hdr-42" || apiErr.Code != "WKS.00211102" || apiErr.EncodedAuthorizationMessage != "enc" ||
		apiErr.Operation != "quotas_detail" {
		t.Errorf("APIError = %+v", apiErr)
	}
}

func TestMalformedBodyIsDecodeError(t *testing.T) {
	bodies := []string{
		``, `not json`, `null`, `[]`, `"resources"`, `{}`, `{"resources":null}`, `{"resources":{}}`,
		`{"resources":"x"}`, `{"resources":[1]}`, `{"resources":[null]}`, `{"resources":[[]]}`,
		`{"resources":[{"type":"a"}]`, `{"resources":[]} trailing`,
	}
	for _, body := range bodies {
		t.Run(body, func(t *testing.T) {
			f := &fakeCloud{
				t: t, creds: permanentCreds, wantPath: "/v3/" + testProject + "/quotas",
				header: map[string]string{"X-Request-Id": "req-7"}, body: body,
			}
			c := f.start("cts", "", permanentCreds)
			got, err := c.CTSQuotas(context.Background())
			var decErr *upstream.DecodeError
			if !errors.As(err, &decErr) {
				t.Fatalf("got %+v, %v; want *upstream.DecodeError", got, err)
			}
			if decErr.RequestID != "req-7" || decErr.Service != "cts" || decErr.Operation != "quotas" {
				t.Errorf("DecodeError = %+v", decErr)
			}
		})
	}
}

func TestTemporaryCredentials(t *testing.T) {
	f := &fakeCloud{t: t, creds: temporaryCreds, wantPath: "/v3/" + testProject + "/quotas", body: `{"resources":[]}`}
	c := f.start("cts", "", temporaryCreds)
	if _, err := c.CTSQuotas(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := f.lastHeader()
	if got := h.Get(SecurityTokenHeader); got != temporaryCreds.SecurityToken {
		t.Errorf("X-Security-Token = %q", got)
	}
	if auth := h.Get("Authorization"); !strings.Contains(auth, "x-security-token") {
		t.Errorf("token not signed: %s", auth)
	}

	// The fake knows the token, so leaving it out must be refused.
	c = f.start("cts", "", Credentials{AccessKey: temporaryCreds.AccessKey, SecretKey: temporaryCreds.SecretKey})
	var apiErr *upstream.APIError
	if _, err := c.CTSQuotas(context.Background()); !errors.As(err, &apiErr) || apiErr.Code != CodeAuthFailed {
		t.Errorf("without token: err = %v, want APIGW.0301", err)
	}
}

func TestMissingCredentialsSendNothing(t *testing.T) {
	f := &fakeCloud{t: t, creds: permanentCreds, wantPath: "/v3/" + testProject + "/quotas"}
	c := f.start("cts", "", Credentials{AccessKey: "AK"})
	if _, err := c.CTSQuotas(context.Background()); !errors.Is(err, ErrMissingCredentials) {
		t.Errorf("err = %v, want ErrMissingCredentials", err)
	}
	if len(f.seen) != 0 {
		t.Errorf("%d requests sent", len(f.seen))
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	creds := temporaryCreds
	echo := creds.SecretKey + " " + creds.SecurityToken
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"error body echoes secrets", http.StatusBadRequest, `{"error_code":"CTS.0001","error_msg":"bad key ` + echo + `","error_detail":"` + echo + `"}`},
		{"answer echoes secrets", http.StatusOK, `{"resources":[{"type":"` + creds.SecretKey + `","quota":"` + creds.SecurityToken + `"},{"type":"x","used":"` + creds.SecretKey + `"}]}`},
		{"malformed answer echoes secrets", http.StatusOK, `{"resources":"` + echo + `"}`},
		{"non-JSON error echoes secrets", http.StatusInternalServerError, echo},
	}
	secrets := []string{creds.SecretKey, creds.SecurityToken}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCloud{t: t, creds: creds, wantPath: "/v3/" + testProject + "/quotas", status: tc.status, body: tc.body}
			c := f.start("cts", "", creds)
			got, err := c.CTSQuotas(context.Background())
			var texts []string
			if err != nil {
				texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
			}
			if got != nil {
				texts = append(texts, got.Skipped...)
				texts = append(texts, fmt.Sprintf("%+v", got.Resources))
			}
			for _, text := range texts {
				for _, s := range secrets {
					if strings.Contains(text, s) || strings.Contains(text, s[:len(s)/2]) {
						t.Errorf("secret in %q", text)
					}
				}
			}
		})
	}

	// A failed connection too: the URL, and anything else, stays out.
	srv := httptest.NewServer(http.NotFoundHandler())
	base, _ := url.Parse(srv.URL)
	srv.Close()
	c := NewClient(upstream.New(upstream.Options{}), "cts", base, testProject, creds, nil)
	_, err := c.CTSQuotas(context.Background())
	var tErr *upstream.TransportError
	if !errors.As(err, &tErr) {
		t.Fatalf("err = %v, want *upstream.TransportError", err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("secret in %q", err)
		}
	}
}
