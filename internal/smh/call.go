package smh

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// decoder reads a 2xx answer's body. Every string it decodes must go
// through r, and its errors must describe the shape of what was wrong,
// never a value.
type decoder[T any] func(body []byte, r *upstream.Redactor) (T, error)

// call sends GET {base}/{segments...}?access_token=&user_id=&{query} with a
// valid access token and decodes the answer, so that every SMH route shares
// the token handling, the redaction and the request counting (operation op
// labels it).
func call[T any](ctx context.Context, c *Client, op string, query url.Values, decode decoder[T], segments ...string) (T, error) {
	var out T
	err := c.withToken(ctx, func(token string) error {
		var err error
		out, err = send(ctx, c, op, token, query, decode, segments...)
		return err
	})
	return out, err
}

// withToken runs req with a valid access token. SMH rejects a token that
// has expired or been deleted with 403 InvalidAccessToken; a fresh token is
// then fetched and req made once more.
func (c *Client) withToken(ctx context.Context, req func(token string) error) error {
	token, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	err = req(token)
	if !isInvalidAccessToken(err) {
		return err
	}
	c.dropToken(token)
	if token, err = c.accessToken(ctx); err != nil {
		return err
	}
	// A token refused right after it was made means the credential is not
	// usable: the gate backs off rather than minting tokens every scrape.
	err = c.gate.Do(ctx, func(context.Context) error { return req(token) }, isInvalidAccessToken)
	if isInvalidAccessToken(err) {
		c.dropToken(token)
	}
	return err
}

// send makes one request with token.
func send[T any](ctx context.Context, c *Client, op, token string, query url.Values, decode decoder[T], segments ...string) (T, error) {
	var zero T
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("access_token", token)
	if c.creds.UserID != "" {
		q.Set("user_id", c.creds.UserID)
	}
	secrets := c.secrets(token)
	redactor := upstream.NewRedactor(secrets...)
	resp, err := c.http.Do(ctx, upstream.Request{
		Service:   service,
		Operation: op,
		Method:    http.MethodGet,
		URL:       c.endpoint(q, segments...),
		Secrets:   secrets,
	})
	if err != nil {
		return zero, err
	}
	out, err := decode(resp.Body, redactor)
	if err != nil {
		return zero, &upstream.DecodeError{Service: service, Operation: op, RequestID: resp.RequestID, Err: redactor.Error(err)}
	}
	return out, nil
}

func isInvalidAccessToken(err error) bool {
	return isAPIError(err, http.StatusForbidden, "InvalidAccessToken")
}

// isAPIError tells whether err is SMH's answer with status and code.
func isAPIError(err error, status int, code string) bool {
	var apiErr *upstream.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == status && apiErr.Code == code
}
