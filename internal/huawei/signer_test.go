package huawei

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The published vectors of huaweicloud-sdk-go-v3 core/auth/signer.
var vectorCreds = Credentials{AccessKey: "AccessKey", SecretKey: "SecretKey"}

func vectorHeader() http.Header {
	h := http.Header{}
	h.Set(DateHeader, "20060102T150405Z")
	h["TEST_UNDERSCORE"] = []string{"excluded"}
	return h
}

func TestSignPublishedVectors(t *testing.T) {
	tests := []struct {
		name, method, url, contentType, body, signedHeaders, signature string
	}{
		{
			name: "GET without body", method: http.MethodGet,
			url:           "https://example.huaweicloud.com/path?limit=1",
			signedHeaders: "x-sdk-date",
			signature:     "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
		},
		{
			name: "POST with JSON body", method: http.MethodPost,
			url:           "https://example.huaweicloud.com/path?key=value",
			contentType:   "application/json",
			body:          `{"Name":"test","Id":1}` + "\n",
			signedHeaders: "x-sdk-date",
			signature:     "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			h := vectorHeader()
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			// A different now proves the preset X-Sdk-Date wins.
			if err := Sign(tt.method, u, h, []byte(tt.body), vectorCreds, time.Now()); err != nil {
				t.Fatal(err)
			}
			want := "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=" + tt.signedHeaders + ", Signature=" + tt.signature
			if got := h.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
			if got := h.Get(DateHeader); got != "20060102T150405Z" {
				t.Errorf("X-Sdk-Date = %q", got)
			}
		})
	}
}

func TestCanonicalRequestOfFirstVector(t *testing.T) {
	headers := map[string][]string{"x-sdk-date": {"20060102T150405Z"}}
	got := canonicalRequest("GET", "/path", url.Values{"limit": {"1"}}, headers, []string{"x-sdk-date"}, hashHex(nil))
	want := "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if got != want {
		t.Errorf("canonical request\n got %q\nwant %q", got, want)
	}
}

func TestCanonicalQueryString(t *testing.T) {
	q := url.Values{
		"test":   {"一 (&=?!#%.*)"},
		"path":   {"/tmp/123"},
		"multi":  {"3", "1", "2"},
		"limit":  {"1"},
		"enable": {"true"},
	}
	want := "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
	if got := canonicalQueryString(q); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := canonicalQueryString(url.Values{"empty": {""}}); got != "empty=" {
		t.Errorf("empty value: got %q, want %q", got, "empty=")
	}
	if got := canonicalQueryString(nil); got != "" {
		t.Errorf("no query: got %q", got)
	}
}

func TestCanonicalURI(t *testing.T) {
	tests := map[string]string{
		"":                    "/",
		"/":                   "/",
		"/v3/abc/quotas":      "/v3/abc/quotas/",
		"/v3/abc/quotas/":     "/v3/abc/quotas/",
		"/a%20b/c%2Fd":        "/a%20b/c%2Fd/",
		"/%41b":               "/Ab/", // the same path however it was escaped
		"/a:b@c":              "/a%3Ab%40c/",
		"/v2/%E4%B8%80/x;y=z": "/v2/%E4%B8%80/x%3By%3Dz/",
	}
	for in, want := range tests {
		if got := canonicalURI(in); got != want {
			t.Errorf("canonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSignSetsDateAndToken(t *testing.T) {
	u, _ := url.Parse("https://cts.example.com/v3/p/quotas")
	h := http.Header{}
	h.Set("X-Project-Id", "p")
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "stale")
	creds := Credentials{AccessKey: "AK", SecretKey: "SK", SecurityToken: "TOKEN"}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CST", 8*3600))
	if err := Sign(http.MethodGet, u, h, nil, creds, now); err != nil {
		t.Fatal(err)
	}
	if got := h.Get(DateHeader); got != "20260303T210607Z" {
		t.Errorf("X-Sdk-Date = %q, want the UTC time", got)
	}
	if got := h.Get(SecurityTokenHeader); got != "TOKEN" {
		t.Errorf("X-Security-Token = %q", got)
	}
	if got := h.Get("Authorization"); !strings.Contains(got, "SignedHeaders=x-project-id;x-sdk-date;x-security-token,") {
		t.Errorf("Authorization = %q, want the project id, date and token signed", got)
	}
}

func TestSignRefusesIncompleteCredentials(t *testing.T) {
	u, _ := url.Parse("https://example.com/")
	for _, creds := range []Credentials{{AccessKey: "AK"}, {SecretKey: "SK"}} {
		if err := Sign(http.MethodGet, u, http.Header{}, nil, creds, time.Now()); !errors.Is(err, ErrMissingCredentials) {
			t.Errorf("Sign(%v) = %v, want ErrMissingCredentials", creds, err)
		}
	}
	h := http.Header{}
	h.Set(DateHeader, "yesterday")
	if err := Sign(http.MethodGet, u, h, nil, vectorCreds, time.Now()); err == nil {
		t.Error("Sign accepted a malformed preset X-Sdk-Date")
	}
}

func TestCredentialsStringHidesSecrets(t *testing.T) {
	c := Credentials{AccessKey: "AK", SecretKey: "the-secret", SecurityToken: "the-token"}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "the-secret") || strings.Contains(s, "the-token") || !strings.Contains(s, "AK") {
			t.Errorf("credentials printed as %q", s)
		}
	}
}

// Sign finds a preset X-Sdk-Date by lower-casing header names, as it merges
// headers for signing: a key with "ſ" (which Unicode folds to "s") is not
// the date header, and the request is signed with the current time.
func TestSignDateHeaderIsFoundByLowerCaseNotFolding(t *testing.T) {
	u, _ := url.Parse("https://svc.example.com/v2/p/quotas")
	h := http.Header{"X-\u017fdk-Date": {"20200101T000000Z"}}
	now := time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC)
	if err := Sign(http.MethodGet, u, h, nil, Credentials{AccessKey: "AK", SecretKey: "SK"}, now); err != nil {
		t.Fatal(err)
	}
	if got := h.Get(DateHeader); got != "20260210T080000Z" {
		t.Errorf("X-Sdk-Date = %q, want the signing time", got)
	}
}
