package huawei

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Client calls one Huawei Cloud service endpoint for one project with one
// set of credentials. It is safe for concurrent use.
type Client struct {
	http      *upstream.Client
	service   string
	baseURL   url.URL
	projectID string
	creds     CredentialSource // gives the keys for each request
	gate      *upstream.Gate
	now       func() time.Time // replaced in tests
}

// NewClient returns a Client for the service ("workspace" or "cts", used to
// label requests and errors) at baseURL, e.g.
// https://workspace.ap-southeast-1.myhuaweicloud.com. A path in baseURL is
// kept as a prefix of the API paths. httpClient and baseURL must not be nil.
// gate, shared by every client of the same credentials, backs them off
// after an authentication failure; nil means no back-off.
func NewClient(httpClient *upstream.Client, service string, baseURL *url.URL, projectID string, creds Credentials, gate *upstream.Gate) *Client {
	return NewClientWithSource(httpClient, service, baseURL, projectID, StaticCredentials(creds), gate)
}

// NewClientWithSource is NewClient with keys that source gives for each
// request. When source is a Refresher, a request that the gateway refuses
// with 401 is sent once more with refreshed keys.
func NewClientWithSource(httpClient *upstream.Client, service string, baseURL *url.URL, projectID string, source CredentialSource, gate *upstream.Gate) *Client {
	return &Client{
		http:      httpClient,
		service:   service,
		baseURL:   *baseURL,
		projectID: projectID,
		creds:     source,
		gate:      gate,
		now:       time.Now,
	}
}

// get sends a signed GET for apiPath, which must already be escaped.
func (c *Client) get(ctx context.Context, operation, apiPath string, query url.Values) (*upstream.Response, error) {
	u := url.URL{Scheme: c.baseURL.Scheme, Host: c.baseURL.Host}
	escaped := strings.TrimSuffix(c.baseURL.EscapedPath(), "/") + apiPath
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, fmt.Errorf("%s %s: invalid endpoint path: %w", c.service, operation, err)
	}
	u.Path, u.RawPath = path, escaped
	u.RawQuery = EncodeQuery(query)

	header := http.Header{}
	if c.projectID != "" {
		// IAM calls name no project: the project is what they look up.
		header.Set(ProjectIDHeader, c.projectID)
	}
	// The SDK sends it even on GETs; it is never signed.
	header.Set("Content-Type", "application/json")
	// Fetched outside the gate: a metadata service that fails says
	// nothing about the key, and must not count against it.
	creds, err := c.creds.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.service, operation, err)
	}
	var resp *upstream.Response
	err = c.gate.Do(ctx, func(ctx context.Context) error {
		var err error
		resp, err = c.send(ctx, operation, &u, header, creds)
		refresher, ok := c.creds.(Refresher)
		if !ok || !isUnauthorized(err) {
			return err
		}
		// Inside the same gate call, so that the gate counts one failure
		// only if the fresh keys fail too.
		fresh, rerr := refresher.Refresh(ctx, creds)
		if rerr != nil {
			return fmt.Errorf("%w; then %w", err, rerr)
		}
		if fresh == creds {
			return err
		}
		resp, err = c.send(ctx, operation, &u, header, fresh)
		return err
	}, IsAuthFailure)
	return resp, err
}

// send signs and sends one attempt. It signs at the last moment: a
// request that waited for its turn in the gate must not carry a stale
// X-Sdk-Date. The signature covers u itself, the very URL upstream.Client
// sends, so the signed query encoding is the one on the wire.
func (c *Client) send(ctx context.Context, operation string, u *url.URL, header http.Header, creds Credentials) (*upstream.Response, error) {
	header.Del(DateHeader)
	if err := Sign(http.MethodGet, u, header, nil, creds, c.now()); err != nil {
		return nil, fmt.Errorf("%s %s: signing request: %w", c.service, operation, err)
	}
	return c.http.Do(ctx, upstream.Request{
		Service:   c.service,
		Operation: operation,
		Method:    http.MethodGet,
		URL:       u,
		Header:    header,
		Secrets:   c.secrets(),
	})
}

// isUnauthorized is the gateway's refusal of the keys themselves, which
// fresh keys may cure.
func isUnauthorized(err error) bool {
	var apiErr *upstream.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnauthorized
}

// IsAuthFailure tells whether err is the API gateway refusing the
// credentials themselves (a wrong key or signature, a skewed clock), which
// counts towards the gateway's lock of the access key. A refused
// permission (APIGW.0302, a service's 403) does not.
func IsAuthFailure(err error) bool {
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Code {
	case "APIGW.0301", "APIGW.0303", "APIG.0301", "APIG.0303":
		return true
	}
	return apiErr.StatusCode == http.StatusUnauthorized
}

func (c *Client) secrets() []string { return c.creds.Secrets() }

// redactor knows the credentials in every form a cloud could echo them.
func (c *Client) redactor() *upstream.Redactor { return upstream.NewRedactor(c.secrets()...) }

// scrubBody replaces any credential a cloud echoes in an answer, in any
// form, before it is decoded: every string whose decoded value holds one
// is written anew without it, so that no Resource field, site id or note
// made from the answer carries it (see upstream.Redactor.JSON).
func (c *Client) scrubBody(body []byte) []byte { return c.redactor().JSON(body) }

// scrubNotes sanitises and redacts notes once written, since quoting a
// value could spell a credential.
func (c *Client) scrubNotes(notes []string) { c.redactor().Notes(notes) }

func (c *Client) decodeError(operation string, resp *upstream.Response, err error) error {
	return &upstream.DecodeError{Service: c.service, Operation: operation, RequestID: resp.RequestID, Err: c.redactor().Error(err)}
}

// String names the client without its secret key or token: fmt prints
// unexported fields by reflection, bypassing Credentials.String.
func (c *Client) String() string {
	return fmt.Sprintf("huawei.Client{service: %s, endpoint: %s, project: %s, credentials: %v}",
		c.service, c.baseURL.Redacted(), c.projectID, c.creds)
}
