package huawei

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// fakeIAM is a loopback IAM that checks the signature as the gateway does
// and answers each path with its canned answer.
type fakeIAM struct {
	t       *testing.T
	creds   Credentials
	answers map[string]iamAnswer // by path

	mu   sync.Mutex
	seen []*http.Request
}

type iamAnswer struct {
	status int
	body   string
	trace  string
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.Clone(context.Background()))
	f.mu.Unlock()
	lookup := func(ak string) (Credentials, bool) { return f.creds, ak == f.creds.AccessKey }
	if err := Verify(r, nil, lookup, time.Now(), 0); err != nil {
		var verr *VerifyError
		errors.As(err, &verr)
		w.WriteHeader(verr.HTTPStatus())
		fmt.Fprintf(w, `{"error_msg":%q,"error_code":%q}`, verr.Msg, verr.Code)
		return
	}
	if _, ok := r.Header[ProjectIDHeader]; ok {
		f.t.Errorf("%s carries X-Project-Id %q", r.URL.Path, r.Header.Get(ProjectIDHeader))
	}
	a, ok := f.answers[r.URL.Path]
	if !ok {
		f.t.Errorf("unexpected request %s", r.URL)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if a.trace != "" {
		w.Header().Set(IAMTraceHeader, a.trace)
	}
	if a.status != 0 {
		w.WriteHeader(a.status)
	}
	fmt.Fprint(w, a.body)
}

func (f *fakeIAM) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.seen...)
}

// start serves f and returns an IAM client derived from a workspace
// client, as the collector builds it, with gate.
func (f *fakeIAM) start(creds Credentials, gate *upstream.Gate) *Client {
	f.t.Helper()
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	iamURL, _ := url.Parse(srv.URL)
	service, _ := url.Parse("https://workspace.cn-north-4.example.com")
	return NewClient(upstream.New(upstream.Options{}), "workspace", service, "", creds, gate).IAM(iamURL)
}

func projectList(entries ...string) string {
	return `{"projects":[` + strings.Join(entries, ",") + `],"links":{"self":"x"}}`
}

const (
	projNorth4    = `{"id":"p-north-4","name":"cn-north-4","enabled":true,"domain_id":"d","is_domain":false}`
	projNorth4Sub = `{"id":"p-north-4-sub","name":"cn-north-4_sub","enabled":true}`
	projEast3     = `{"id":"p-east-3","name":"cn-east-3"}`
)

func TestFindProject(t *testing.T) {
	f := &fakeIAM{t: t, creds: permanentCreds, answers: map[string]iamAnswer{
		"/v3/projects": {body: projectList(projNorth4), trace: "trace-1"},
	}}
	c := f.start(permanentCreds, nil)
	id, err := c.FindProject(context.Background(), "cn-north-4")
	if err != nil || id != "p-north-4" {
		t.Fatalf("FindProject = %q, %v", id, err)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].URL.RawQuery != "name=cn-north-4" {
		t.Fatalf("requests %v", reqs)
	}
	if auth := reqs[0].Header.Get("Authorization"); strings.Contains(auth, "x-project-id") {
		t.Errorf("Authorization signs a project: %s", auth)
	}
}

func TestFindProjectFallsBackOn403(t *testing.T) {
	f := &fakeIAM{t: t, creds: permanentCreds, answers: map[string]iamAnswer{
		"/v3/projects":      {status: http.StatusForbidden, body: `{"error":{"code":403,"message":"You are not authorized to perform the requested action: identity:list_projects.","title":"Forbidden"}}`},
		"/v3/auth/projects": {body: projectList(projEast3, projNorth4Sub, projNorth4)},
	}}
	c := f.start(permanentCreds, nil)
	id, err := c.FindProject(context.Background(), "cn-north-4")
	if err != nil || id != "p-north-4" {
		t.Fatalf("FindProject = %q, %v", id, err)
	}
	if reqs := f.requests(); len(reqs) != 2 || reqs[1].URL.Path != "/v3/auth/projects" || reqs[1].URL.RawQuery != "" {
		t.Fatalf("requests %v", reqs)
	}
}

func TestFindProjectRefusals(t *testing.T) {
	forbidden := iamAnswer{status: http.StatusForbidden, body: `{"error_code":"IAM.0003","error_msg":"Policy doesn't allow iam:projects:list"}`}
	tests := []struct {
		name    string
		answers map[string]iamAnswer
		want    string
	}{
		{"no match", map[string]iamAnswer{"/v3/projects": {body: projectList(), trace: "t-0"}},
			`iam: no project named "cn-north-4" in the account (X-IAM-Trace-Id "t-0"): set project_id on the target, or a region the account has a project in`},
		{"no match after 403", map[string]iamAnswer{"/v3/projects": forbidden, "/v3/auth/projects": {body: projectList(projEast3, projNorth4Sub), trace: "t-a"}},
			`iam: no project named "cn-north-4" among the projects the credential may access (GET /v3/projects was refused with HTTP 403 IAM.0003, so GET /v3/auth/projects was used) (X-IAM-Trace-Id "t-a"): set project_id on the target, or a region the account has a project in`},
		{"two matches", map[string]iamAnswer{"/v3/projects": {body: projectList(projNorth4, `{"id":"p-other","name":"cn-north-4"}`), trace: "t-2"}},
			`iam: 2 projects named "cn-north-4": ids "p-north-4", "p-other" (X-IAM-Trace-Id "t-2"): set project_id on the target to one of them`},
		{"disabled", map[string]iamAnswer{"/v3/projects": {body: projectList(`{"id":"p-off","name":"cn-north-4","enabled":false}`), trace: "t-d"}},
			`iam: the project named "cn-north-4" (id "p-off") is disabled (X-IAM-Trace-Id "t-d"): enable it, or set project_id on the target to an enabled project`},
		{"fallback refused too", map[string]iamAnswer{"/v3/projects": forbidden, "/v3/auth/projects": {status: http.StatusInternalServerError, body: `{"error_code":"IAM.0001","error_msg":"boom"}`, trace: "t-5"}},
			`iam: looking up the project named "cn-north-4" (GET /v3/projects was refused with HTTP 403 IAM.0003, so GET /v3/auth/projects was used) (X-IAM-Trace-Id "t-5"): iam auth_projects: HTTP 500 IAM.0001: boom`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{t: t, creds: permanentCreds, answers: tt.answers}
			id, err := f.start(permanentCreds, nil).FindProject(context.Background(), "cn-north-4")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("FindProject = %q, %v\nwant error %s", id, err, tt.want)
			}
		})
	}
}

func TestFindProjectBadAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"not an object":    `[]`,
		"no projects":      `{"links":{}}`,
		"projects null":    `{"projects":null}`,
		"entry not obj":    `{"projects":[1]}`,
		"match without id": `{"projects":[{"name":"cn-north-4"}]}`,
		"id a number":      `{"projects":[{"name":"cn-north-4","id":7}]}`,
		"enabled a string": `{"projects":[{"name":"cn-north-4","id":"p","enabled":"yes"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeIAM{t: t, creds: permanentCreds, answers: map[string]iamAnswer{"/v3/projects": {body: body}}}
			_, err := f.start(permanentCreds, nil).FindProject(context.Background(), "cn-north-4")
			var decErr *upstream.DecodeError
			if !errors.As(err, &decErr) || decErr.Service != IAMService || decErr.Operation != "projects" {
				t.Fatalf("err = %v, want an iam projects DecodeError", err)
			}
		})
	}
	// Entries that are not the project asked for may be odd: they are
	// none of its business.
	f := &fakeIAM{t: t, creds: permanentCreds, answers: map[string]iamAnswer{"/v3/projects": {body: projectList(`{"name":5}`, `{"name":"x","enabled":"?"}`, projNorth4)}}}
	if id, err := f.start(permanentCreds, nil).FindProject(context.Background(), "cn-north-4"); err != nil || id != "p-north-4" {
		t.Fatalf("FindProject = %q, %v", id, err)
	}
}

// An IAM refusal of the key backs the credential off in the gate it shares
// with the data requests; a refused permission (the 403 that leads to the
// fallback) does not.
func TestFindProjectUsesTheGate(t *testing.T) {
	clock := testutil.NewClock()
	gate := upstream.NewGate(clock.Now)
	f := &fakeIAM{t: t, creds: permanentCreds, answers: map[string]iamAnswer{
		"/v3/projects":      {status: http.StatusForbidden, body: `{"error_code":"IAM.0003","error_msg":"no"}`},
		"/v3/auth/projects": {body: projectList(projNorth4)},
	}}
	if _, err := f.start(permanentCreds, gate).FindProject(context.Background(), "cn-north-4"); err != nil {
		t.Fatal(err)
	}
	if gate.Backoff() != 0 {
		t.Fatalf("a 403 backs the key off for %s", gate.Backoff())
	}

	wrong := Credentials{AccessKey: permanentCreds.AccessKey, SecretKey: "not-the-secret-key-0123456789"}
	c := f.start(wrong, gate)
	var apiErr *upstream.APIError
	if _, err := c.FindProject(context.Background(), "cn-north-4"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want the gateway's 401", err)
	}
	if gate.Backoff() == 0 {
		t.Fatal("an IAM signature refusal did not back the key off")
	}
	before := len(f.requests())
	var backoff *upstream.BackoffError
	if _, err := c.FindProject(context.Background(), "cn-north-4"); !errors.As(err, &backoff) {
		t.Fatalf("err = %v, want a BackoffError", err)
	}
	if after := len(f.requests()); after != before {
		t.Errorf("%d requests sent while backing off", after-before)
	}
}

func TestFindProjectHidesSecrets(t *testing.T) {
	creds := temporaryCreds
	echo := creds.SecretKey + " " + creds.SecurityToken
	secrets := []string{creds.SecretKey, creds.SecurityToken}
	for name, answers := range map[string]map[string]iamAnswer{
		"refusal":   {"/v3/projects": {status: http.StatusBadRequest, body: `{"error_code":"IAM.1","error_msg":"` + echo + `"}`, trace: creds.SecretKey}},
		"fallback":  {"/v3/projects": {status: http.StatusForbidden, body: `{"error_msg":"` + echo + `"}`}, "/v3/auth/projects": {body: projectList(), trace: url.QueryEscape(creds.SecurityToken)}},
		"ambiguous": {"/v3/projects": {body: projectList(`{"id":"`+creds.SecretKey+`","name":"cn-north-4"}`, `{"id":"x`+creds.SecurityToken+`","name":"cn-north-4"}`)}},
		"disabled":  {"/v3/projects": {body: projectList(`{"id":"` + creds.SecurityToken + `","name":"cn-north-4","enabled":false}`), trace: echo}},
		"bad body":  {"/v3/projects": {body: `{"projects":"` + echo + `"}`}},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeIAM{t: t, creds: creds, answers: answers}
			_, err := f.start(creds, nil).FindProject(context.Background(), "cn-north-4")
			if err == nil {
				t.Fatal("no error")
			}
			testutil.CheckNoSecret(t, "error", err.Error(), fmt.Sprint(answers), secrets)
		})
	}
}
