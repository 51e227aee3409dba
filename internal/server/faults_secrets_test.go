package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
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

// Secrets with the characters that encoders treat differently: a slash, a
// quote, a plus, an equals sign, a space, HTML's <&> and non-ASCII (only
// where the secret never travels in a header).
const (
	formLibrarySecret = `LIB/Zm"Kq+4= ä<&>x9-lib`
	formSecretKey     = `SK/q"w+e= ü<&>r7tY8u9-sk`
	formTempSecretKey = `TSK/z"x+c= é<&>v5bN6m7-tsk`
	formSecurityToken = `TOK/a"b+c= <&>d-0123456789`
)

var formSecrets = []string{formLibrarySecret, formSecretKey, formTempSecretKey, formSecurityToken, "acctk"}

// withFormSecrets gives the demo cloud and configuration the form secrets
// instead of the demo's plain ones.
func withFormSecrets(t *testing.T, e *env) {
	t.Helper()
	e.cloud.Libraries["smhdemoprod"].Secret = formLibrarySecret
	e.cloud.Keys["DEMOACCESSKEY0000001"] = simcloud.Key{SecretKey: formSecretKey}
	e.cloud.Keys["DEMOTEMPACCESSKEY001"] = simcloud.Key{SecretKey: formTempSecretKey, SecurityToken: formSecurityToken}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	yaml := strings.NewReplacer(
		"library_secret: demo-library-secret-prod", "library_secret: "+quote(formLibrarySecret),
		"secret_key: demo-secret-key-0000000000000001", "secret_key: "+quote(formSecretKey),
		"secret_key: demo-temp-secret-key-00000000001", "secret_key: "+quote(formTempSecretKey),
		"security_token: demo-security-token", "security_token: "+quote(formSecurityToken),
	).Replace(e.yaml)
	e.apply(t, yaml)
}

// ownFormSecret is the secret a faulted target's answers echo: its library
// secret, or the secret key and token of its credential.
func ownFormSecret(svc string) string {
	switch svc {
	case "smh":
		return formLibrarySecret
	case "workspace":
		return formSecurityToken // desktops-dev, hw-dev-temporary
	}
	return formSecretKey // audit-prod, hw-prod
}

// echoPlacement is where an answer carries the echoed secret.
type echoPlacement struct {
	name string
	// jsonSafe placements put the text into a JSON string as it is, so
	// they take only forms that are valid there.
	jsonSafe bool
	respond  func(svc, text string, w http.ResponseWriter, r *http.Request)
}

var echoPlacements = []echoPlacement{
	{"error message", true, func(svc, text string, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		if svc == "smh" {
			fmt.Fprintf(w, `{"code":"ParamInvalid","message":"bad request library_secret=%s","requestId":"r1"}`, text)
		} else {
			fmt.Fprintf(w, `{"error_code":"APIGW.0201","error_msg":"bad request, key %s","request_id":"r1"}`, text)
		}
	}},
	{"text error page", false, func(_, text string, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream refused ?library_secret=%s&x=1", text)
	}},
	{"label value", true, func(svc, text string, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		first := `{"spaceId":"sp-` + text + `","capacity":"100","availableSpace":"50","size":"50"}`
		if svc == "smh" {
			io.WriteString(w, smhBody(first))
			return
		}
		io.WriteString(w, hwBody(svc, `{"type":"t-`+text+`","unit":"u-`+text+`","quota":4,"used":1}`))
	}},
}

// jsonSafe tells whether text can stand between a JSON string's quotes.
func jsonSafe(text string) bool {
	var s string
	return json.Unmarshal([]byte(`"`+text+`"`), &s) == nil
}

// Every form of a secret that upstream may echo (raw, JSON-escaped the
// ways encoders do, URL query- and path-escaped in either hex case), in an
// error message, an error page or a label value of a good answer, and
// split by a control character or across two error fields: none reaches
// the log, /metrics, /probe or the status page, at debug level.
func TestSecretFormsNeverShow(t *testing.T) {
	type echoCase struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
	}
	for _, svc := range []string{"smh", "workspace", "cts"} {
		secret := ownFormSecret(svc)
		var cases []echoCase
		for _, form := range testutil.SecretForms(secret) {
			for _, p := range echoPlacements {
				if p.jsonSafe && !jsonSafe(form.Text) {
					continue
				}
				cases = append(cases, echoCase{p.name + "/" + form.Name, func(w http.ResponseWriter, r *http.Request) { p.respond(svc, form.Text, w, r) }})
			}
		}
		for _, split := range []string{"\u0001", "\n", "\u0085", "\x7f"} {
			text, _ := json.Marshal(secret[:7] + split + secret[7:])
			for _, p := range echoPlacements {
				if p.jsonSafe {
					cases = append(cases, echoCase{p.name + fmt.Sprintf("/split by %q", split), func(w http.ResponseWriter, r *http.Request) {
						p.respond(svc, string(text[1:len(text)-1]), w, r)
					}})
				}
			}
		}
		if svc != "smh" {
			msg, _ := json.Marshal("key " + secret[:9])
			detail, _ := json.Marshal(secret[9:] + " refused")
			cases = append(cases, echoCase{"split across error_msg and error_detail", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error_code":"APIGW.0201","error_msg":%s,"error_detail":%s,"request_id":"r1"}`, msg, detail)
			}})
		}
		for _, ec := range cases {
			t.Run(svc+"/"+ec.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{})
				withFormSecrets(t, e)
				e.scrapeAllUp(t)
				e.cloud.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.HasPrefix(r.URL.Path, upstreamPrefix[svc]) {
						return false
					}
					ec.respond(w, r)
					return true
				})
				target := faultedTargets[svc].name
				texts := map[string]string{}
				_, texts["/metrics"] = e.get(t, "/metrics", scrapeTimeoutHeader, "10")
				_, texts["/probe"] = e.get(t, "/probe?target="+target, scrapeTimeoutHeader, "10")
				_, texts["/"] = e.get(t, "/")
				texts["the log"] = e.logs.String()
				for where, text := range texts {
					if leak := testutil.FindSecret(text, "", formSecrets); leak != "" {
						t.Errorf("%s %s:\n%s", where, leak, excerptAround(text, secret[:4]))
					}
				}
				// The echo did arrive, and was redacted rather than lost.
				// (Error pages that are not JSON are never quoted.)
				if !strings.HasPrefix(ec.name, "text error page") && !strings.Contains(texts["the log"]+texts["/metrics"], "<secret>") {
					t.Errorf("no <secret> anywhere: the echo never reached the exporter?\n%s", texts["the log"])
				}
			})
		}
	}
}

// excerptAround shows the lines of text that hold near, for a failure.
func excerptAround(text, near string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, near) || strings.Contains(line, "secret") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
