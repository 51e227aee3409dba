package smh

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// A library secret with the characters that escaping changes, and the
// access token the server hands out.
const (
	rdSecret = `LIB/Zm"Kq+4= é<&>`
	rdToken  = "acctkREDACT0123456789abcdefXYZ"
)

var rdSecrets = []string{rdSecret, rdToken}

// rdServer answers token requests with rdToken and usage requests with
// usage(r), on loopback.
func rdServer(t *testing.T, usage func(r *http.Request) (int, string)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/api/v1/token") {
			_, _ = w.Write([]byte(`{"accessToken":"` + rdToken + `","expiresIn":3600}`))
			return
		}
		status, body := usage(r)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	return NewClient(upstream.New(upstream.Options{}), base, Credentials{LibraryID: "lib", LibrarySecret: rdSecret}, nil)
}

func rdJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A space id that carries a secret or the token in any form, escaped the
// JSON way or not, never reaches a label or a note as the secret.
func TestUsageRedactsDecodedValues(t *testing.T) {
	for _, secret := range rdSecrets {
		for _, form := range testutil.SecretForms(secret) {
			// The form as the space id's value, written in the body by Go's
			// encoder and, for the raw form, by others (\u escapes, \/).
			bodies := []string{`[{"spaceId":` + rdJSON("sp-"+form.Text) + `,"capacity":` + rdJSON("x"+form.Text) + `,"size":"1"}]`}
			for _, other := range testutil.SecretForms(secret) {
				if strings.HasPrefix(other.Name, "json") {
					bodies = append(bodies, `[{"spaceId":"sp-`+other.Text+`","capacity":"x`+other.Text+`","size":"1"}]`)
				}
			}
			for _, body := range bodies {
				c := rdServer(t, func(*http.Request) (int, string) { return 200, body })
				u, err := c.Usage(context.Background(), []string{"s1"}, 0)
				if err != nil {
					t.Fatalf("%s form: %v", form.Name, err)
				}
				if len(u.Spaces) != 1 || !strings.Contains(u.Spaces[0].SpaceID, "<secret>") {
					t.Fatalf("%s form in %s: spaces %+v", form.Name, body, u.Spaces)
				}
				testutil.CheckNoSecret(t, form.Name+" form: space id", u.Spaces[0].SpaceID, body, rdSecrets)
				for _, note := range u.Skipped {
					testutil.CheckNoSecret(t, form.Name+" form: note", note, body, rdSecrets)
				}
			}
		}
	}
}

// An error that echoes the request, as a gateway's might, shows neither
// the token nor the library secret in any form.
func TestUsageErrorRedactsEchoedRequest(t *testing.T) {
	for _, secret := range rdSecrets {
		for _, form := range testutil.SecretForms(secret) {
			c := rdServer(t, func(r *http.Request) (int, string) {
				echo := r.URL.RawQuery + " library_id=lib&library_secret=" + form.Text
				return 502, `{"code":"BadGateway","message":` + rdJSON(echo) + `}`
			})
			_, err := c.Usage(context.Background(), []string{"s1"}, 0)
			var apiErr *upstream.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("%s form: %v", form.Name, err)
			}
			testutil.CheckNoSecret(t, form.Name+" form: error", err.Error(), "", rdSecrets)
		}
	}
}

// A secret split by a control character is found in a decoded value, and
// a space id with no secret is kept byte for byte.
func TestDecodeUsageSplitAndKept(t *testing.T) {
	r := upstream.NewRedactor(rdSecrets...)
	body := `[{"spaceId":"acctkREDACT0123\u0001456789abcdefXYZ","size":"1"},{"spaceId":"odd\u0001id","size":"1"}]`
	u, err := decodeUsage([]byte(body), r)
	if err != nil {
		t.Fatal(err)
	}
	if u.Spaces[0].SpaceID != "<secret>" || u.Spaces[1].SpaceID != "odd\x01id" {
		t.Errorf("space ids %q, %q", u.Spaces[0].SpaceID, u.Spaces[1].SpaceID)
	}
}
