package huawei

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var (
	permanentCreds = Credentials{AccessKey: "PERMANENTAK", SecretKey: "permanent-secret-key"}
	temporaryCreds = Credentials{AccessKey: "TEMPORARYAK", SecretKey: "temporary-secret-key", SecurityToken: "temporary-token"}
)

func lookupCreds(ak string) (Credentials, bool) {
	for _, c := range []Credentials{permanentCreds, temporaryCreds} {
		if c.AccessKey == ak {
			return c, true
		}
	}
	return Credentials{}, false
}

// signedRequest builds a request as a server would see it after Sign.
func signedRequest(t *testing.T, method, target string, body []byte, creds Credentials, now time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Project-Id", "project")
	r.Header.Set("Content-Type", "application/json")
	if err := Sign(method, r.URL, r.Header, body, creds, now); err != nil {
		t.Fatal(err)
	}
	return r
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var verr *VerifyError
	if !errors.As(err, &verr) {
		t.Fatalf("Verify = %v, want a *VerifyError %s", err, code)
	}
	if verr.Code != code {
		t.Errorf("code = %s (%s), want %s", verr.Code, verr.Msg, code)
	}
	if verr.HTTPStatus() != http.StatusUnauthorized {
		t.Errorf("HTTPStatus = %d", verr.HTTPStatus())
	}
}

func TestVerifyAcceptsSignedRequests(t *testing.T) {
	now := time.Now()
	target := "https://workspace.example.com/v2/p%2Fq/quotas/detail?site_id=a+b&az_code=cn%2Fx&multi=2&multi=1"
	body := []byte(`{"x":1}`)
	for _, creds := range []Credentials{permanentCreds, temporaryCreds} {
		r := signedRequest(t, http.MethodPost, target, body, creds, now)
		if err := Verify(r, body, lookupCreds, now.Add(time.Minute), 0); err != nil {
			t.Errorf("%s: %v", creds.AccessKey, err)
		}
	}
}

func TestVerifyChecksSignedHost(t *testing.T) {
	now := time.Now()
	r, _ := http.NewRequest(http.MethodGet, "https://cts.example.com/v3/p/quotas", nil)
	r.Header.Set("Host", "ignored.example.com")
	if err := Sign(http.MethodGet, r.URL, r.Header, nil, permanentCreds, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "SignedHeaders=host;x-sdk-date,") {
		t.Fatalf("host not signed: %s", r.Header.Get("Authorization"))
	}
	r.Header.Del("Host") // a server keeps it in r.Host only
	if err := Verify(r, nil, lookupCreds, now, 0); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	r.Host = "other.example.com"
	wantCode(t, Verify(r, nil, lookupCreds, now, 0), CodeAuthFailed)
}

func TestVerifyRejects(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const target = "https://cts.example.com/v3/project/quotas?limit=1"
	tests := []struct {
		name   string
		creds  Credentials
		signAt time.Time
		tamper func(r *http.Request)
		body   []byte // the body the server saw, when not the signed one
		code   string
	}{
		{name: "tampered query", creds: permanentCreds, tamper: func(r *http.Request) { r.URL.RawQuery = "limit=2" }, code: CodeAuthFailed},
		{name: "extra query parameter", creds: permanentCreds, tamper: func(r *http.Request) { r.URL.RawQuery += "&x=" }, code: CodeAuthFailed},
		{name: "tampered path", creds: permanentCreds, tamper: func(r *http.Request) { r.URL.Path = "/v3/other/quotas" }, code: CodeAuthFailed},
		{name: "tampered method", creds: permanentCreds, tamper: func(r *http.Request) { r.Method = http.MethodDelete }, code: CodeAuthFailed},
		{name: "tampered signed header", creds: permanentCreds, tamper: func(r *http.Request) { r.Header.Set("X-Project-Id", "other") }, code: CodeAuthFailed},
		{name: "tampered body", creds: permanentCreds, body: []byte("{}"), code: CodeAuthFailed},
		{name: "wrong secret key", creds: Credentials{AccessKey: permanentCreds.AccessKey, SecretKey: "guess"}, code: CodeAuthFailed},
		{name: "unknown access key", creds: Credentials{AccessKey: "NOBODY", SecretKey: "x"}, code: CodeAuthFailed},
		{name: "no Authorization", creds: permanentCreds, tamper: func(r *http.Request) { r.Header.Del("Authorization") }, code: CodeAuthFailed},
		{name: "other algorithm", creds: permanentCreds, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SDK-HMAC-SHA256", "V11-HMAC-SHA256", 1))
		}, code: CodeAuthFailed},
		{name: "date not signed", creds: permanentCreds, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-sdk-date", "", 1))
		}, code: CodeAuthFailed},
		{name: "signed header missing", creds: permanentCreds, tamper: func(r *http.Request) { r.Header.Del("X-Project-Id") }, code: CodeAuthFailed},
		{name: "date too old", creds: permanentCreds, signAt: now.Add(-16 * time.Minute), code: CodeBadDate},
		{name: "date in the future", creds: permanentCreds, signAt: now.Add(16 * time.Minute), code: CodeBadDate},
		{name: "date missing", creds: permanentCreds, tamper: func(r *http.Request) { r.Header.Del(DateHeader) }, code: CodeBadDate},
		{name: "date malformed", creds: permanentCreds, tamper: func(r *http.Request) { r.Header.Set(DateHeader, "2026-05-01T12:00:00Z") }, code: CodeBadDate},
		{name: "wrong security token", creds: Credentials{AccessKey: temporaryCreds.AccessKey, SecretKey: temporaryCreds.SecretKey, SecurityToken: "stolen"}, code: CodeAuthFailed},
		{name: "security token missing", creds: Credentials{AccessKey: temporaryCreds.AccessKey, SecretKey: temporaryCreds.SecretKey}, code: CodeAuthFailed},
		{name: "token with permanent credentials", creds: Credentials{AccessKey: permanentCreds.AccessKey, SecretKey: permanentCreds.SecretKey, SecurityToken: "t"}, code: CodeAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signAt := tt.signAt
			if signAt.IsZero() {
				signAt = now
			}
			signedBody := []byte(`{"a":1}`)
			r := signedRequest(t, http.MethodGet, target, signedBody, tt.creds, signAt)
			if tt.tamper != nil {
				tt.tamper(r)
			}
			body := signedBody
			if tt.body != nil {
				body = tt.body
			}
			err := Verify(r, body, lookupCreds, now, 15*time.Minute)
			wantCode(t, err, tt.code)
			for _, secret := range []string{permanentCreds.SecretKey, temporaryCreds.SecretKey, temporaryCreds.SecurityToken} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestVerifyWrongSignatureMessage(t *testing.T) {
	now := time.Now()
	r := signedRequest(t, http.MethodGet, "https://cts.example.com/v3/p/quotas", nil,
		Credentials{AccessKey: permanentCreds.AccessKey, SecretKey: "wrong"}, now)
	err := Verify(r, nil, lookupCreds, now, 0)
	want := "APIGW.0301: Incorrect IAM authentication information: verify aksk signature fail"
	if err == nil || err.Error() != want {
		t.Errorf("Verify = %v, want %s", err, want)
	}
}
