package smh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

func tokenClient(t *testing.T, answer string, period time.Duration) (*Client, *[]string) {
	t.Helper()
	var periods []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/token") {
			periods = append(periods, r.URL.Query().Get("period"))
			_, _ = w.Write([]byte(answer))
			return
		}
		_, _ = w.Write([]byte(`[{"spaceId":"s1","size":"1"}]`))
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	c := NewClient(upstream.New(upstream.Options{}), base, Credentials{LibraryID: "lib", LibrarySecret: "sec", TokenPeriod: period}, nil)
	return c, &periods
}

var tokenIssued = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// A token answer without expiresIn is good for the period asked for (or
// SMH's default of 24 hours), and says that it had none.
func TestTokenWithoutExpiresIn(t *testing.T) {
	for _, tc := range []struct {
		answer   string
		period   time.Duration
		lifetime time.Duration
	}{
		{`{"accessToken":"acctk1"}`, 2 * time.Hour, 2 * time.Hour},
		{`{"accessToken":"acctk1","expiresIn":null}`, 2 * time.Hour, 2 * time.Hour},
		{`{"accessToken":"acctk1"}`, 0, 24 * time.Hour},
	} {
		c, periods := tokenClient(t, tc.answer, tc.period)
		c.now = func() time.Time { return tokenIssued }
		tok, err := c.fetchToken(context.Background())
		if err != nil {
			t.Fatalf("%s (period %v): %v", tc.answer, tc.period, err)
		}
		if want := tokenIssued.Add(tc.lifetime - refreshMargin(tc.lifetime)); !tok.refreshAt.Equal(want) {
			t.Errorf("%s (period %v): refresh at %v, want %v", tc.answer, tc.period, tok.refreshAt, want)
		}
		if len(tok.notes) != 1 || !strings.Contains(tok.notes[0], "no expiresIn") || !strings.Contains(tok.notes[0], tc.lifetime.String()) {
			t.Errorf("%s: notes %q", tc.answer, tok.notes)
		}
		if tc.period > 0 && (len(*periods) != 1 || (*periods)[0] != "7200") {
			t.Errorf("period sent: %q", *periods)
		}
	}
}

// The note about a missing expiresIn comes with the next usage answer,
// once.
func TestTokenNoteReportedOnce(t *testing.T) {
	c, _ := tokenClient(t, `{"accessToken":"acctk1"}`, time.Hour)
	for i, want := range []int{1, 0} {
		u, err := c.Usage(context.Background(), []string{"s1"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, n := range u.Skipped {
			if strings.Contains(n, "expiresIn") {
				got++
			}
		}
		if got != want {
			t.Errorf("usage %d: %d notes about expiresIn, want %d: %q", i, got, want, u.Skipped)
		}
	}
}

func TestTokenExpiresInForms(t *testing.T) {
	for answer, want := range map[string]string{
		`{"accessToken":"acctk1","expiresIn":0}`:       "expiresIn is 0, want a positive number of seconds",
		`{"accessToken":"acctk1","expiresIn":-5}`:      "expiresIn is -5, want a positive number of seconds",
		`{"accessToken":"acctk1","expiresIn":1.5}`:     "expiresIn: 1.5: not a non-negative integer",
		`{"accessToken":"acctk1","expiresIn":"3600"}`:  `expiresIn: want an integer, got a string "3600"`,
		`{"accessToken":"acctk1","expiresIn":3600}`:    "",
		`{"accessToken":"acctk1","expiresIn":3600.0}`:  "",
		`{"accessToken":"acctk1","expiresIn":3.6e3}`:   "",
		`{"accessToken":"acctk1","expiresIn":1e30}`:    "expiresIn: 1e30: too large",
		`{"accessToken":"acctk1","expiresIn":1e18}`:    "",
		`{"accessToken":"acctk1","expiresIn":[3600]}`:  "expiresIn: want an integer, got an array",
		`{"accessToken":"acctk1","expiresIn":{"a":1}}`: "expiresIn: want an integer, got an object",
	} {
		c, _ := tokenClient(t, answer, 0)
		_, err := c.fetchToken(context.Background())
		if got := errString(err); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: error %q, want %q", answer, got, want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
