package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// Huawei credentials from the ECS/CCE metadata service (source: metadata),
// against the simulated metadata service and gateway, through the
// exporter's HTTP face.

// metaProject is a project of the demo cloud (internal/demo).
const metaProject = "0a1b2c3d4e5f"

// metaYAML has two targets on the metadata credential hw-meta (endpoint
// good), one on hw-meta-other (endpoint other, "" to leave it out) and
// one on static keys, all against the cloud at cloudURL.
func metaYAML(cloudURL, good, other string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global:
  timeout: 5s
credentials:
  - name: hw-meta
    type: huaweicloud
    source: metadata
    metadata_endpoint: %s
  - name: hw-static
    type: huaweicloud
    access_key: DEMOACCESSKEY0000001
    secret_key: demo-secret-key-0000000000000001
`, good)
	if other != "" {
		fmt.Fprintf(&b, `  - name: hw-meta-other
    type: huaweicloud
    source: metadata
    metadata_endpoint: %s
`, other)
	}
	target := func(name, service, credential string) {
		fmt.Fprintf(&b, "  - name: %s\n    service: %s\n    credentials: %s\n    project_id: %s\n    endpoint: %s\n", name, service, credential, metaProject, cloudURL)
	}
	b.WriteString("targets:\n")
	target("meta-desktops", "workspace", "hw-meta")
	target("meta-audit", "cts", "hw-meta")
	target("static-audit", "cts", "hw-static")
	if other != "" {
		target("other-audit", "cts", "hw-meta-other")
	}
	return b.String()
}

// metaTargets are the services of metaYAML's targets.
var metaTargets = map[string]string{"meta-desktops": "workspace", "meta-audit": "cts", "static-audit": "cts", "other-audit": "cts"}

func metaUp(target string) string {
	return fmt.Sprintf(`cloudquota_up{service=%q,target=%q}`, metaTargets[target], target)
}

func metaExpiry(credential string) string {
	return fmt.Sprintf(`cloudquota_credential_expiry_timestamp_seconds{credential=%q}`, credential)
}

func metaRequests(operation, code string) string {
	return fmt.Sprintf(`cloudquota_api_requests_total{code=%q,operation=%q,service="metadata"}`, code, operation)
}

// startMetadata runs a metadata service for env's cloud; set adjusts it
// before it starts.
func startMetadata(t *testing.T, e *env, set func(m *simcloud.Metadata)) *simcloud.Metadata {
	t.Helper()
	m := &simcloud.Metadata{Cloud: e.cloud.Cloud}
	if set != nil {
		set(m)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// metaScrape scrapes /metrics and requires the targets named up (true) or
// down (false).
func metaScrape(t *testing.T, e *env, want map[string]bool) (map[string]float64, string) {
	t.Helper()
	code, body := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	if code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", code, body)
	}
	series := parseSeries(body)
	for target, up := range want {
		v, ok := series[metaUp(target)]
		if !ok || (v == 1) != up {
			t.Fatalf("target %s: %s = %v (present %v), want up=%v\nlogs:\n%s", target, metaUp(target), v, ok, up, e.logs.String())
		}
	}
	return series, body
}

// issuedSecrets are every secret the metadata services handed out.
func issuedSecrets(services ...*simcloud.Metadata) []string {
	var out []string
	for _, m := range services {
		for _, k := range m.Issued() {
			out = append(out, k.SecretKey, k.SecurityToken)
		}
		for _, r := range m.Requests() {
			if r.Token != "" {
				out = append(out, r.Token)
			}
		}
	}
	return out
}

// checkNoSecretAnywhere looks for the secrets in the logs, /metrics, each
// target's /probe and the status page.
func checkNoSecretAnywhere(t *testing.T, e *env, secrets []string) {
	t.Helper()
	_, metrics := e.get(t, "/metrics", scrapeTimeoutHeader, "10")
	_, status := e.get(t, "/")
	outputs := map[string]string{"/metrics": metrics, "the status page": status}
	for target := range metaTargets {
		if strings.Contains(e.yaml, "name: "+target+"\n") {
			_, outputs["/probe "+target] = e.get(t, "/probe?target="+target, scrapeTimeoutHeader, "10")
		}
	}
	outputs["the logs"] = e.logs.String()
	for where, out := range outputs {
		testutil.CheckNoSecret(t, where, out, "", secrets)
	}
}

func TestMetadataTargetsUpSharingOneFetch(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Held back so that both targets ask while the fetch is under way.
	meta := startMetadata(t, e, func(m *simcloud.Metadata) { m.Delay = 300 * time.Millisecond })
	e.apply(t, metaYAML(e.cloud.URL, meta.URL, ""))

	series, _ := metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true, "static-audit": true})
	counts := meta.Counts()
	if counts[simcloud.OpMetadataToken] != 1 || counts[simcloud.OpMetadataSecurityKey] != 1 {
		t.Fatalf("two targets of one credential: metadata requests %v, want one token and one securitykey", counts)
	}
	for _, r := range meta.Requests() {
		if r.Op == simcloud.OpMetadataSecurityKey && r.Token == "" {
			t.Error("securitykey was asked without the session token")
		}
	}
	issued := meta.Issued()
	if got, want := series[metaExpiry("hw-meta")], float64(issued[0].Expires.Unix()); got != want {
		t.Errorf("%s = %v, want %v", metaExpiry("hw-meta"), got, want)
	}
	if _, ok := series[metaExpiry("hw-static")]; ok {
		t.Error("static keys have an expiry gauge")
	}
	if series[metaRequests("token", "200")] != 1 || series[metaRequests("securitykey", "200")] != 1 {
		t.Errorf("metadata requests not counted as service metadata:\n%v", series)
	}

	// Later scrapes and a reload that keeps the credential reuse the keys.
	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	if code, body := e.get(t, "/probe?target=meta-audit", scrapeTimeoutHeader, "10"); code != http.StatusOK || parseSeries(body)[metaUp("meta-audit")] != 1 {
		t.Fatalf("probe: HTTP %d\n%s", code, body)
	}
	e.apply(t, strings.Replace(metaYAML(e.cloud.URL, meta.URL, ""), "timeout: 5s", "timeout: 6s", 1))
	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	if n := meta.Counts()[simcloud.OpMetadataSecurityKey]; n != 1 {
		t.Errorf("securitykey asked %d times over scrapes and a reload, want once", n)
	}
	for _, st := range e.srv.exporter.Status() {
		want, expiry := "metadata", issued[0].Expires
		if st.Name == "static-audit" {
			want, expiry = "static", time.Time{}
		}
		if st.CredentialSource != want || !st.CredentialExpiry.Equal(expiry) {
			t.Errorf("status of %s: credential source %q expiring %v, want %q and %v", st.Name, st.CredentialSource, st.CredentialExpiry, want, expiry)
		}
	}
	if _, page := e.get(t, "/"); !strings.Contains(page, "<td>metadata (expire "+issued[0].Expires.UTC().Format("2006-01-02 15:04:05 MST")+")</td>") {
		t.Errorf("the status page does not show the metadata source and its expiry")
	}
	checkNoSecretAnywhere(t, e, issuedSecrets(meta))

	// A reload that changes the credential gets keys from its new source.
	moved := startMetadata(t, e, nil)
	e.apply(t, metaYAML(e.cloud.URL, moved.URL, ""))
	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	if n, m := meta.Counts()[simcloud.OpMetadataSecurityKey], moved.Counts()[simcloud.OpMetadataSecurityKey]; n != 1 || m != 1 {
		t.Errorf("after moving the credential to another endpoint: %d fetches from the old one and %d from the new, want 1 and 1", n, m)
	}
}

func TestMetadataWithoutTokenRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	meta := startMetadata(t, e, func(m *simcloud.Metadata) { m.NoTokenRoute = true })
	e.apply(t, metaYAML(e.cloud.URL, meta.URL, ""))

	series, _ := metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	for _, r := range meta.Requests() {
		if r.Op == simcloud.OpMetadataSecurityKey && r.Token != "" {
			t.Error("securitykey carried a token that the service never gave")
		}
	}
	if series[metaRequests("token", "404")] != 1 {
		t.Errorf("the token route's 404 is not counted")
	}
}

func TestMetadataRefreshBeforeExpiry(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Keys are due for refresh 40 minutes before they expire, that is
	// about two seconds after they are handed out.
	meta := startMetadata(t, e, func(m *simcloud.Metadata) { m.Lifetime = huawei.MetadataRefreshBefore + 2*time.Second })
	e.apply(t, metaYAML(e.cloud.URL, meta.URL, ""))

	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	first := meta.Issued()[0]
	time.Sleep(time.Until(first.Expires.Add(-huawei.MetadataRefreshBefore)) + 50*time.Millisecond)
	series, _ := metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	issued := meta.Issued()
	if len(issued) != 2 {
		t.Fatalf("keys handed out %d times, want 2 (a refresh before expiry)", len(issued))
	}
	if got, want := series[metaExpiry("hw-meta")], float64(issued[1].Expires.Unix()); got != want {
		t.Errorf("after the refresh %s = %v, want the new keys' %v", metaExpiry("hw-meta"), got, want)
	}
	// The old keys still work; the new ones must be those in use.
	e.cloud.Update(func(c *simcloud.Cloud) { delete(c.Keys, first.AccessKey) })
	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	if n := len(meta.Issued()); n != 2 {
		t.Errorf("keys handed out %d times, want 2: the targets still sign with the first keys", n)
	}
}

func TestMetadataRefreshAfterUnauthorized(t *testing.T) {
	e := newEnv(t, envOptions{})
	meta := startMetadata(t, e, nil)
	e.apply(t, metaYAML(e.cloud.URL, meta.URL, ""))
	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	failuresBefore := e.cloud.Counts()[simcloud.OpHuaweiAuthFailure]

	// The gateway refuses the keys (revoked, or expired early): each
	// target's request gets a 401, the keys are fetched again once for
	// both, and each request is sent again with the new keys.
	meta.Revoke()
	metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true, "static-audit": true})
	if n := meta.Counts()[simcloud.OpMetadataSecurityKey]; n != 2 {
		t.Errorf("securitykey asked %d times, want 2: once at first, once after the 401s", n)
	}
	if n := e.cloud.Counts()[simcloud.OpHuaweiAuthFailure] - failuresBefore; n != 2 {
		t.Errorf("the gateway refused %d requests, want 2 (one per target, before the refresh)", n)
	}
	series, _ := metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true})
	if series[`cloudquota_credential_backoff_seconds{credential="hw-meta"}`] != 0 {
		t.Error("a 401 cured by fresh keys put the credential in back-off")
	}
}

func TestMetadataShortLivedKeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	meta := startMetadata(t, e, func(m *simcloud.Metadata) { m.Lifetime = 3 * time.Second })
	e.apply(t, metaYAML(e.cloud.URL, meta.URL, ""))
	// Keys with less than 40 minutes left from the start are not fetched
	// again on every request, but used until they expire (or halfway, at
	// least 10 s after they came).
	metaScrape(t, e, map[string]bool{"meta-audit": true})
	metaScrape(t, e, map[string]bool{"meta-audit": true})
	if n := len(meta.Issued()); n != 1 {
		t.Fatalf("keys with 3 s left fetched %d times in two quick scrapes, want once", n)
	}
	time.Sleep(time.Until(meta.Issued()[0].Expires) + 50*time.Millisecond)
	metaScrape(t, e, map[string]bool{"meta-audit": true, "meta-desktops": true})
	if n := len(meta.Issued()); n != 2 {
		t.Fatalf("keys fetched %d times, want 2: once more after they expired", n)
	}
}

// metaBadSecret and metaBadToken are the keys of the broken answers.
const (
	metaBadSecret = "bad-answer-secret-0123456789abcdef"
	metaBadToken  = "bad-answer-token-0123456789abcdefghij"
)

func TestMetadataBadAnswers(t *testing.T) {
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		set  func(m *simcloud.Metadata)
		want string // in the target's log line
	}{
		{"no expires_at", func(m *simcloud.Metadata) { m.OmitExpiresAt = true }, "credential has no expires_at"},
		{"expired", func(m *simcloud.Metadata) { m.Expired = true }, "is already past"},
		{"no agency", func(m *simcloud.Metadata) { m.NoAgency = true }, "HTTP 401: Please configure Cloud Service Agency first (the server has no agency"},
		{"no secret", func(m *simcloud.Metadata) {
			m.Answer = `{"credential":{"access":"AKBAD","securitytoken":"` + metaBadToken + `","expires_at":"` + future + `"}}`
		}, "credential has no secret"},
		{"no access", func(m *simcloud.Metadata) {
			m.Answer = `{"credential":{"secret":"` + metaBadSecret + `","securitytoken":"` + metaBadToken + `","expires_at":"` + future + `"}}`
		}, "credential has no access"},
		{"not JSON", func(m *simcloud.Metadata) {
			m.Answer = `<html>secret ` + metaBadSecret + ` token ` + metaBadToken + `</html>`
		}, "want a JSON object"},
		{"truncated", func(m *simcloud.Metadata) {
			m.Answer = `{"credential":{"access":"AKBAD","secret":"` + metaBadSecret + `","securitytoken":"` + metaBadToken
		}, "body: invalid JSON: unexpected end of JSON input"},
		{"bad expires_at", func(m *simcloud.Metadata) {
			m.Answer = `{"credential":{"access":"AKBAD","secret":"` + metaBadSecret + `","securitytoken":"` + metaBadToken + `","expires_at":"` + metaBadSecret + `"}}`
		}, "is not an RFC 3339 time"},
		{"expires_at a number", func(m *simcloud.Metadata) {
			m.Answer = `{"credential":{"access":"AKBAD","secret":"` + metaBadSecret + `","securitytoken":"` + metaBadToken + `","expires_at":1700000000}}`
		}, "credential.expires_at is a number, want a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			good := startMetadata(t, e, nil)
			bad := startMetadata(t, e, tc.set)
			e.apply(t, metaYAML(e.cloud.URL, good.URL, bad.URL))
			offset := e.logs.Len()
			metaScrape(t, e, map[string]bool{"meta-desktops": true, "meta-audit": true, "static-audit": true, "other-audit": false})

			var lines []string
			for _, l := range e.logLinesFor(offset, "other-audit") {
				if strings.Contains(l, "Target poll failed") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) || !strings.Contains(lines[0], "metadata service "+bad.URL) {
				t.Errorf("want one log line for other-audit with %q naming the service %s, got:\n%s", tc.want, bad.URL, strings.Join(lines, "\n"))
			}
			_, status := e.get(t, "/")
			if !strings.Contains(status, "metadata service") {
				t.Errorf("the status page does not say why other-audit is down:\n%s", status)
			}
			checkNoSecretAnywhere(t, e, append(issuedSecrets(good, bad), metaBadSecret, metaBadToken))
		})
	}
}
