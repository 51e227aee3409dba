package simcloud

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// startMetadata serves a metadata service for c; set changes it first.
func startMetadata(t *testing.T, c *Cloud, set func(*Metadata)) *Metadata {
	t.Helper()
	m := &Metadata{Cloud: c}
	if set != nil {
		set(m)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// metadataAsk sends method path with the header pairs and returns the
// status and body.
func metadataAsk(t *testing.T, m *Metadata, method, path string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, m.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

type securityKeyAnswer struct {
	Credential struct {
		Access        string  `json:"access"`
		Secret        string  `json:"secret"`
		SecurityToken string  `json:"securitytoken"`
		ExpiresAt     *string `json:"expires_at"`
	} `json:"credential"`
}

// signedCTS asks the cloud's CTS route with keys signed on clock and
// returns the status.
func signedCTS(t *testing.T, c *Cloud, clock *testutil.Clock, keys huawei.Credentials) int {
	t.Helper()
	u, _ := url.Parse(c.URL + "/v3/p1/quotas")
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	if err := huawei.Sign(req.Method, req.URL, req.Header, nil, keys, clock.Now()); err != nil {
		t.Fatal(err)
	}
	code, _, _ := getJSON(t, req)
	return code
}

func TestMetadataHandsOutKeysThatExpireOnTheGateway(t *testing.T) {
	clock := testutil.NewClock()
	c := startCloud(t, clock)
	m := startMetadata(t, c, func(m *Metadata) { m.Lifetime = time.Hour; m.RequireToken = true })

	if code, _ := metadataAsk(t, m, http.MethodGet, huawei.MetadataSecurityKeyPath); code != http.StatusUnauthorized {
		t.Errorf("securitykey without the required token: HTTP %d", code)
	}
	if code, _ := metadataAsk(t, m, http.MethodGet, huawei.MetadataTokenPath); code != http.StatusMethodNotAllowed {
		t.Errorf("GET on the token route: HTTP %d, want 405", code)
	}
	if code, _ := metadataAsk(t, m, http.MethodPut, huawei.MetadataTokenPath); code != http.StatusBadRequest {
		t.Errorf("a token without a TTL: HTTP %d, want 400", code)
	}
	code, token := metadataAsk(t, m, http.MethodPut, huawei.MetadataTokenPath, huawei.MetadataTokenTTLHeader, "21600")
	if code != http.StatusOK || token == "" {
		t.Fatalf("token: HTTP %d %q", code, token)
	}
	code, body := metadataAsk(t, m, http.MethodGet, huawei.MetadataSecurityKeyPath, huawei.MetadataTokenHeader, token)
	var answer securityKeyAnswer
	if err := json.Unmarshal([]byte(body), &answer); code != http.StatusOK || err != nil || answer.Credential.ExpiresAt == nil {
		t.Fatalf("securitykey: HTTP %d %s", code, body)
	}
	if want := clock.Now().Add(time.Hour).Format("2006-01-02T15:04:05Z"); *answer.Credential.ExpiresAt != want {
		t.Errorf("expires_at %s, want %s", *answer.Credential.ExpiresAt, want)
	}
	keys := huawei.Credentials{AccessKey: answer.Credential.Access, SecretKey: answer.Credential.Secret, SecurityToken: answer.Credential.SecurityToken}
	if code := signedCTS(t, c, clock, keys); code != http.StatusOK {
		t.Fatalf("the gateway refused fresh keys: HTTP %d", code)
	}
	withoutToken := keys
	withoutToken.SecurityToken = ""
	if code := signedCTS(t, c, clock, withoutToken); code != http.StatusUnauthorized {
		t.Errorf("temporary keys without their token: HTTP %d, want 401", code)
	}

	clock.Advance(time.Hour)
	if !testutil.Eventually(2*time.Second, func() bool { return signedCTS(t, c, clock, keys) == http.StatusUnauthorized }) {
		t.Error("the gateway still accepts expired keys")
	}
	// The session token expires too.
	clock.Advance(6 * time.Hour)
	if code, _ := metadataAsk(t, m, http.MethodGet, huawei.MetadataSecurityKeyPath, huawei.MetadataTokenHeader, token); code != http.StatusUnauthorized {
		t.Errorf("an expired session token: HTTP %d, want 401", code)
	}
	if n := m.Counts()[OpMetadataSecurityKey]; n != 3 {
		t.Errorf("securitykey counted %d times, want 3", n)
	}
}

func TestMetadataKnobs(t *testing.T) {
	clock := testutil.NewClock()
	c := startCloud(t, clock)
	m := startMetadata(t, c, func(m *Metadata) { m.NoTokenRoute = true })
	if code, _ := metadataAsk(t, m, http.MethodPut, huawei.MetadataTokenPath, huawei.MetadataTokenTTLHeader, "21600"); code != http.StatusNotFound {
		t.Errorf("NoTokenRoute: HTTP %d, want 404", code)
	}
	get := func() securityKeyAnswer {
		t.Helper()
		code, body := metadataAsk(t, m, http.MethodGet, huawei.MetadataSecurityKeyPath)
		var a securityKeyAnswer
		if err := json.Unmarshal([]byte(body), &a); code != http.StatusOK || err != nil {
			t.Fatalf("securitykey: HTTP %d %s", code, body)
		}
		return a
	}
	if a := get(); a.Credential.Access == "" || a.Credential.ExpiresAt == nil {
		t.Errorf("without a token: %+v", a)
	}

	m.Update(func(m *Metadata) { m.OmitExpiresAt = true })
	if a := get(); a.Credential.ExpiresAt != nil {
		t.Error("OmitExpiresAt sent expires_at")
	}
	m.Update(func(m *Metadata) { m.OmitExpiresAt, m.Expired = false, true })
	a := get()
	if at, err := time.Parse(time.RFC3339, *a.Credential.ExpiresAt); err != nil || !at.Before(clock.Now()) {
		t.Errorf("Expired: expires_at %s", *a.Credential.ExpiresAt)
	}
	keys := huawei.Credentials{AccessKey: a.Credential.Access, SecretKey: a.Credential.Secret, SecurityToken: a.Credential.SecurityToken}
	if code := signedCTS(t, c, clock, keys); code != http.StatusUnauthorized {
		t.Errorf("the gateway accepts expired keys: HTTP %d", code)
	}

	m.Update(func(m *Metadata) { m.Expired, m.NoAgency = false, true })
	if code, body := metadataAsk(t, m, http.MethodGet, huawei.MetadataSecurityKeyPath); code != http.StatusUnauthorized || !strings.Contains(body, "Cloud Service Agency") {
		t.Errorf("NoAgency: HTTP %d %s", code, body)
	}
	if len(m.Issued()) != 2 {
		t.Errorf("%d keys issued, want 2 (expired ones are not)", len(m.Issued()))
	}
	m.Revoke()
	issued := m.Issued()[0]
	if code := signedCTS(t, c, clock, huawei.Credentials{AccessKey: issued.AccessKey, SecretKey: issued.SecretKey, SecurityToken: issued.SecurityToken}); code != http.StatusUnauthorized {
		t.Errorf("revoked keys: HTTP %d, want 401", code)
	}
}
