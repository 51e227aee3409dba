// Package smh reads tenant-space capacity from Tencent Cloud Smart Media
// Hosting (SMH) through its business-level API: it obtains and caches an
// access token for a media library, lists the library's tenant spaces
// (GET /api/v1/space/{LibraryId}/list) and queries their usage
// (GET /api/v1/usage/{LibraryId}/{SpaceIds}) and the library's totals
// (GET /api/v1/usage/{LibraryId}). It knows nothing of Prometheus or
// logging; all HTTP goes through internal/upstream.
package smh

import (
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// service labels every request and error of this package.
const service = "smh"

// Credentials identify a media library and the token to ask for.
type Credentials struct {
	// LibraryID and LibrarySecret are the media library's id and secret
	// from the SMH console.
	LibraryID     string
	LibrarySecret string
	// Grant is the comma-separated permission list for the token; empty
	// asks for a read-only token.
	Grant string
	// UserID, when set, is sent as user_id on usage requests so that an
	// admin token acts as that user.
	UserID string
	// TokenPeriod is the token lifetime to ask for; 0 leaves it to SMH
	// (24 hours by default).
	TokenPeriod time.Duration
}

// Client talks to one SMH endpoint with one credential. It is safe for
// concurrent use; targets sharing a credential and endpoint should share a
// Client so that they share its access token.
type Client struct {
	http  *upstream.Client
	base  *url.URL
	creds Credentials
	gate  *upstream.Gate

	// now is the clock that token expiry is measured against; tests
	// replace it to expire tokens without sleeping.
	now func() time.Time

	mu       sync.Mutex
	token    *cachedToken // nil until the first fetch or after a rejection
	fetching *tokenFetch  // the token request in flight, if any
	// notes about token answers, for the next Usage to report once
	notes []string
	// missing holds the space ids SMH said it does not know, with when.
	missing map[string]time.Time

	// listing is held by the one caller listing the spaces, so that
	// targets sharing the client share one listing; it guards spaces,
	// the last good listing (nil until one succeeds).
	listing chan struct{}
	spaces  *spaceList
}

// NewClient returns a Client that sends its requests through http to the
// SMH API at baseURL (for example https://api.tencentsmh.cn, or a library's
// dedicated domain). gate, shared by every client of the same credentials,
// backs them off after an authentication failure; nil means no back-off.
func NewClient(http *upstream.Client, baseURL *url.URL, creds Credentials, gate *upstream.Gate) *Client {
	base := *baseURL
	return &Client{
		http:    http,
		base:    &base,
		creds:   creds,
		gate:    gate,
		now:     time.Now,
		listing: make(chan struct{}, 1),
	}
}

// endpoint returns the URL of base's path followed by segments, each
// escaped as one path segment, with query as its query string.
func (c *Client) endpoint(query url.Values, segments ...string) *url.URL {
	u := *c.base
	rawPath := strings.TrimSuffix(c.base.EscapedPath(), "/")
	for _, s := range segments {
		rawPath += "/" + s
	}
	// Setting Path from the unescaped form and RawPath from the escaped one
	// keeps escapes such as %2F intact when the URL is sent.
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		path = rawPath
	}
	u.Path, u.RawPath = path, rawPath
	u.RawQuery = query.Encode()
	u.Fragment, u.RawFragment = "", ""
	return &u
}

// secrets lists what must never leave this package, in any form: the
// library secret, the access token a request carries and the one cached,
// which may differ while a token is replaced.
func (c *Client) secrets(accessToken string) []string {
	s := []string{c.creds.LibrarySecret}
	if accessToken != "" {
		s = append(s, accessToken)
	}
	c.mu.Lock()
	if c.token != nil && c.token.value != accessToken {
		s = append(s, c.token.value)
	}
	c.mu.Unlock()
	return s
}
