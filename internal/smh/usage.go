package smh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// maxSpacesPerRequest bounds the space ids in one usage request, keeping
// the URL short enough for any proxy on the way.
const maxSpacesPerRequest = 50

// ErrNoSpaceIDs is returned by Usage when asked for no spaces: the usage
// route without space ids is a different API with a different answer.
var ErrNoSpaceIDs = errors.New("smh usage: no space ids given")

// Usage is the answer to a usage query.
type Usage struct {
	// Spaces holds one entry per space in the answers, in the order of the
	// requested ids' batches and, within a batch, as SMH listed them.
	Spaces []SpaceUsage
	// Skipped describes values that were present but unusable; the space
	// is still in Spaces with that value not valid.
	Skipped []string
}

// SpaceUsage is the capacity of one tenant space, in bytes. An amount is
// not valid when SMH reported none, which for Capacity and Available means
// the space has no quota.
type SpaceUsage struct {
	SpaceID   string
	Capacity  upstream.Amount
	Available upstream.Amount
	Used      upstream.Amount
}

// Usage returns the capacity of the given tenant spaces. The ids are sent
// in batches of at most 50, concurrently; if any batch fails the whole call
// fails with that batch's error.
func (c *Client) Usage(ctx context.Context, spaceIDs []string) (*Usage, error) {
	if len(spaceIDs) == 0 {
		return nil, ErrNoSpaceIDs
	}
	for _, id := range spaceIDs {
		// A comma would silently turn one id into two, and an empty id
		// would make SMH see a list with a hole in it.
		if id == "" || strings.Contains(id, ",") {
			return nil, fmt.Errorf("smh usage: invalid space id %q", id)
		}
	}

	var batches [][]string
	for ids := spaceIDs; len(ids) > 0; {
		n := min(len(ids), maxSpacesPerRequest)
		batches = append(batches, ids[:n])
		ids = ids[n:]
	}
	// One failed batch fails the call; errgroup then cancels the others
	// and keeps the first error, not the cancellations it caused.
	results := make([]*Usage, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	for i, batch := range batches {
		g.Go(func() (err error) {
			results[i], err = c.usageWithRetry(gctx, batch)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	all := &Usage{}
	for _, u := range results {
		all.Spaces = append(all.Spaces, u.Spaces...)
		all.Skipped = append(all.Skipped, u.Skipped...)
	}
	noteMissing(all, spaceIDs)
	all.Skipped = append(all.Skipped, c.takeNotes()...)
	return all, nil
}

// noteMissing notes each requested space that the answer left out, so that
// its series do not vanish without a word (for example when the token's
// user may not see the space).
func noteMissing(u *Usage, requested []string) {
	answered := make(map[string]bool, len(u.Spaces))
	for _, s := range u.Spaces {
		answered[s.SpaceID] = true
	}
	for _, id := range requested {
		if !answered[id] {
			u.Skipped = append(u.Skipped, fmt.Sprintf("space %q: not in the answer", id))
		}
	}
}

// usageWithRetry queries one batch. SMH rejects a token that has expired
// or been deleted with 403 InvalidAccessToken; a fresh token is then
// fetched and the batch sent once more.
func (c *Client) usageWithRetry(ctx context.Context, spaceIDs []string) (*Usage, error) {
	token, err := c.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	u, err := c.usage(ctx, token, spaceIDs)
	if !isInvalidAccessToken(err) {
		return u, err
	}
	c.dropToken(token)
	if token, err = c.accessToken(ctx); err != nil {
		return nil, err
	}
	// A token refused right after it was made means the credential is not
	// usable: the gate backs off rather than minting tokens every scrape.
	err = c.gate.Do(ctx, func() error {
		u, err = c.usage(ctx, token, spaceIDs)
		return err
	}, isInvalidAccessToken)
	if isInvalidAccessToken(err) {
		c.dropToken(token)
	}
	return u, err
}

func isInvalidAccessToken(err error) bool {
	var apiErr *upstream.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden && apiErr.Code == "InvalidAccessToken"
}

// usage sends one usage request with the given token.
func (c *Client) usage(ctx context.Context, token string, spaceIDs []string) (*Usage, error) {
	escaped := make([]string, len(spaceIDs))
	for i, id := range spaceIDs {
		escaped[i] = url.PathEscape(id)
	}
	q := url.Values{}
	q.Set("access_token", token)
	if c.creds.UserID != "" {
		q.Set("user_id", c.creds.UserID)
	}
	secrets := c.secrets(token)
	redactor := upstream.NewRedactor(secrets...)
	resp, err := c.http.Do(ctx, upstream.Request{
		Service:   service,
		Operation: "usage",
		Method:    http.MethodGet,
		URL:       c.endpoint(q, "api", "v1", "usage", url.PathEscape(c.creds.LibraryID), strings.Join(escaped, ",")),
		Secrets:   secrets,
	})
	if err != nil {
		return nil, err
	}
	u, err := decodeUsage(resp.Body, redactor)
	if err != nil {
		return nil, &upstream.DecodeError{Service: service, Operation: "usage", RequestID: resp.RequestID, Err: redactor.Error(err)}
	}
	return u, nil
}

type spaceAnswer struct {
	SpaceID        *string         `json:"spaceId"`
	Capacity       json.RawMessage `json:"capacity"`
	AvailableSpace json.RawMessage `json:"availableSpace"`
	Size           json.RawMessage `json:"size"`
}

// decodeUsage reads a usage answer. Every string is redacted as decoded
// (r.JSON), so a space id, which becomes a label, holds no secret in any
// form, whatever escapes upstream used; notes are redacted once written,
// since quoting could spell one. Errors describe the shape of what was
// wrong, never a value.
func decodeUsage(body []byte, r *upstream.Redactor) (*Usage, error) {
	body = r.JSON(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("want a JSON array of spaces, got an empty body")
	}
	if kind := upstream.JSONKind(body); kind != "an array" {
		return nil, fmt.Errorf("want a JSON array of spaces, got %s", kind)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return nil, err
	}
	u := &Usage{Spaces: make([]SpaceUsage, 0, len(elems))}
	for i, raw := range elems {
		if kind := upstream.JSONKind(raw); kind != "an object" {
			return nil, fmt.Errorf("element %d: want an object, got %s", i, kind)
		}
		var a spaceAnswer
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		if a.SpaceID == nil || *a.SpaceID == "" {
			return nil, fmt.Errorf("element %d: no spaceId", i)
		}
		s := SpaceUsage{SpaceID: r.Value(*a.SpaceID)}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  *upstream.Amount
		}{
			{"capacity", a.Capacity, &s.Capacity},
			{"availableSpace", a.AvailableSpace, &s.Available},
			{"size", a.Size, &s.Used},
		} {
			v, err := upstream.ParseDecimalString(f.raw)
			if err != nil {
				u.Skipped = append(u.Skipped, r.Text(fmt.Sprintf("space %q %s: %v", s.SpaceID, f.name, err)))
				continue
			}
			*f.dst = v
		}
		u.Spaces = append(u.Spaces, s)
	}
	return u, nil
}
