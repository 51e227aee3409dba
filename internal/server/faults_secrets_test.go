package server

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Secret hygiene: upstream echoes the secrets back, and every target
// fails at once at debug level; no secret may show anywhere.
// demoSecrets are the secrets of the demo configuration
// (internal/demo/demo.go). Every SMH access token the simulated cloud
// issues starts with "acctk", so that prefix stands for all of them.
var demoSecrets = []string{
	"demo-library-secret-prod",
	"demo-library-secret-backup",
	"demo-secret-key-0000000000000001",
	"demo-temp-secret-key-00000000001",
	"demo-security-token",
	"acctk",
}

func assertNoDemoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range demoSecrets {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(i-200, 0), min(i+200, len(text))
			t.Errorf("%s contains the secret %q: …%s…", where, s, text[lo:hi])
		}
	}
}

// ownSecret is the secret of a target's credential that its requests do
// not carry but the cloud knows.
var ownSecret = map[string]string{
	"media-prod":    "demo-library-secret-prod",
	"media-backup":  "demo-library-secret-backup",
	"desktops-prod": "demo-secret-key-0000000000000001",
	"desktops-dev":  "demo-temp-secret-key-00000000001",
	"audit-prod":    "demo-secret-key-0000000000000001",
	"audit-dev":     "demo-temp-secret-key-00000000001",
}

// echoSecrets answers an error whose message repeats every secret the
// request carried (query, token header) and its credential's secret.
func echoSecrets(c *caseRun, w http.ResponseWriter, r *http.Request) {
	id := w.Header().Get("X-Request-Id")
	echo := fmt.Sprintf("bad request %s; token=%s; security=%s; key %s",
		r.URL.RawQuery, r.URL.Query().Get("access_token"), r.Header.Get("X-Security-Token"), ownSecret[c.target.name])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	if c.svc == "smh" {
		fmt.Fprintf(w, `{"code":"ParamInvalid","message":%q,"requestId":%q}`, echo, id)
	} else {
		fmt.Fprintf(w, `{"error_code":"APIGW.0201","error_msg":%q,"request_id":%q}`, echo, id)
	}
}

// The status page, error responses and a debug-level log while every
// target fails at once (each with a different fault) carry no secret.
func TestNoSecretWithEveryTargetFailingAtDebugLevel(t *testing.T) {
	env := newEnv(t, envOptions{})
	env.scrapeAllUp(t)
	env.cloud.RevokeTokens()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	env.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/api/v1/token" && r.URL.Query().Get("library_id") == "smhdemoprod":
			redirect(&caseRun{svc: "smh", release: release}, w, r)
		case r.URL.Path == "/api/v1/token":
			echoSecrets(&caseRun{svc: "smh", target: demoTargets[1]}, w, r)
		case strings.HasPrefix(r.URL.Path, "/v2/0a1b2c3d4e5f/"):
			errorAnswer(401, "documented body", "", false)(&caseRun{svc: "workspace"}, w, r)
		case strings.HasPrefix(r.URL.Path, "/v2/9f8e7d6c5b4a/"):
			echoSecrets(&caseRun{svc: "workspace", target: demoTargets[3]}, w, r)
		case strings.HasPrefix(r.URL.Path, "/v3/0a1b2c3d4e5f/"):
			resetMidBody(&caseRun{svc: "cts"}, w, r)
		default:
			return false // audit-dev is served from its cache anyway
		}
		return true
	})
	_, metrics := env.get(t, "/metrics", scrapeTimeoutHeader, "2")
	series := parseSeries(metrics)
	for _, dt := range demoTargets {
		want := 0.0
		if dt.name == "audit-dev" {
			want = 1
		}
		if series[upKey(dt)] != want {
			t.Errorf("%s: up %v, want %v", dt.name, series[upKey(dt)], want)
		}
	}
	texts := map[string]string{"/metrics": metrics}
	for _, dt := range demoTargets {
		_, texts["/probe "+dt.name] = env.get(t, "/probe?target="+dt.name, scrapeTimeoutHeader, "2")
	}
	_, texts["/"] = env.get(t, "/")
	_, texts["unknown target"] = env.get(t, "/probe?target=unknown")
	for where, text := range texts {
		assertNoDemoSecret(t, where, text)
	}
	logs := env.logs.String()
	assertNoDemoSecret(t, "the log", logs)
	// An echoed query shows up scrubbed; any other access_token= or
	// library_secret= would be a request URL.
	scrubbed := regexp.MustCompile(`(access_token|library_secret)=(<secret>|&lt;secret&gt;)`)
	for where, text := range map[string]string{"the log": logs, "the status page": texts["/"]} {
		text = scrubbed.ReplaceAllString(text, "")
		for _, unwanted := range []string{"access_token=", "library_secret="} {
			if strings.Contains(text, unwanted) {
				t.Errorf("a request URL with %s reached %s", unwanted, where)
			}
		}
	}
	// Sanity: the log did get the failures, at debug level nothing extra.
	if n := strings.Count(logs, `msg="Target poll failed"`); n < 5 {
		t.Errorf("only %d failures logged:\n%s", n, logs)
	}
}
