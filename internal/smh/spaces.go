package smh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

const (
	// listLimit is the page size asked for, SMH's largest, so that a
	// library of any usual size is listed in one request.
	listLimit = 1000
	// maxListPages bounds one listing: 100 000 spaces at the full page
	// size. A listing that goes on past it is taken for a server that
	// pages in circles.
	maxListPages = 100
	// listRetry bounds how often a failed listing is tried again while
	// the last good list stands in for it, so that a server that refuses
	// is not asked, and its refusal not logged, on every scrape.
	listRetry = time.Minute
)

// ErrEndlessListing is wrapped by the error of a listing that does not
// end: SMH sent a marker again, or more than 100 pages.
var ErrEndlessListing = errors.New("the space listing does not end")

// listGrantHint says what a refused listing needs.
const listGrantHint = "listing every space needs a token with grant admin or space_admin; set grant: admin on the credential, or list space_ids"

// SpaceList is the tenant spaces of a library, as SMH listed them.
type SpaceList struct {
	IDs []string
	// ListedAt is when the listing that found IDs began.
	ListedAt time.Time
	// Stale is why the latest listing failed; IDs are then the last good
	// listing's. It is set on the call that made the failed listing only,
	// so that each failure is reported once.
	Stale error
	// Skipped notes the listed entries that cannot be asked for; set on
	// the call that made the listing only.
	Skipped []string
}

// spaceList is the last good listing, and when a listing since failed.
type spaceList struct {
	ids      []string
	at       time.Time
	failedAt time.Time
}

// Spaces returns every tenant space of the library, listed anew when the
// last good listing is older than maxAge. Clients are shared by the targets
// of one credential and endpoint, and so is the listing: concurrent callers
// wait for one listing, and a caller with a shorter maxAge refreshes it for
// all. When a listing fails, the last good one is returned with Stale set,
// and the listing is tried again after maxAge or a minute, whichever is
// shorter; with no good listing yet, the call fails.
//
// Listing every space needs a token with grant admin or space_admin.
func (c *Client) Spaces(ctx context.Context, maxAge time.Duration) (*SpaceList, error) {
	// Another target of the library may be listing: wait for its list.
	unpark := upstream.Park(ctx)
	select {
	case c.listing <- struct{}{}:
		unpark()
	case <-ctx.Done():
		unpark()
		return nil, ctx.Err()
	}
	defer func() { <-c.listing }()

	start := c.now()
	last := c.spaces
	if last != nil {
		retried := !last.failedAt.IsZero() && start.Sub(last.failedAt) < min(maxAge, listRetry)
		if start.Sub(last.at) < maxAge || retried {
			return &SpaceList{IDs: slices.Clone(last.ids), ListedAt: last.at}, nil
		}
	}
	ids, skipped, err := c.listSpaces(ctx)
	switch {
	case err == nil:
		c.spaces = &spaceList{ids: ids, at: start}
		c.forgetMissing(start)
		return &SpaceList{IDs: slices.Clone(ids), ListedAt: start, Skipped: skipped}, nil
	case last == nil:
		return nil, err
	case ctx.Err() == nil:
		// A listing the caller gave up on says nothing about SMH, and
		// must not hold back the next one.
		last.failedAt = c.now()
	}
	return &SpaceList{IDs: slices.Clone(last.ids), ListedAt: last.at, Stale: err}, nil
}

// listSpaces pages through the listing. SMH's documents disagree on which
// field holds the next page's marker (the page table says nextMarker, the
// SDKs' models have only marker, the example sends both), so nextMarker is
// taken when present and marker otherwise. A marker equal to the one sent
// ends the listing when it came as marker, which servers may echo; as
// nextMarker, or equal to an earlier page's, it would page forever.
func (c *Client) listSpaces(ctx context.Context) (ids, skipped []string, err error) {
	seen := map[string]bool{}
	sent := map[string]bool{}
	marker := ""
	for page := 1; ; page++ {
		if page > maxListPages {
			return nil, nil, fmt.Errorf("smh space_list: %w: more pages after %d (%d spaces so far); list space_ids instead", ErrEndlessListing, maxListPages, len(ids))
		}
		q := url.Values{"limit": {strconv.Itoa(listLimit)}}
		if marker != "" {
			q.Set("marker", marker)
		}
		p, err := call(ctx, c, "space_list", q, decodeSpaceList, "api", "v1", "space", url.PathEscape(c.creds.LibraryID), "list")
		if err != nil {
			if isPermissionRefusal(err) {
				err = fmt.Errorf("%w; %s", err, listGrantHint)
			}
			return nil, nil, err
		}
		for _, id := range p.ids {
			// Pages of a listing that changes under it may overlap; a
			// space asked for twice would only be answered twice.
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		skipped = append(skipped, p.skipped...)
		next, explicit := p.next()
		switch {
		case next == "", next == marker && !explicit:
			return ids, skipped, nil
		case next == marker, sent[next]:
			return nil, nil, fmt.Errorf("smh space_list: %w: page %d sent the marker of an earlier page as the next one (%d spaces so far); list space_ids instead", ErrEndlessListing, page, len(ids))
		}
		sent[marker] = true
		marker = next
	}
}

// isPermissionRefusal tells whether SMH refused the token what it asked
// for: 403 NoPermission, or a 403 from something on the way that names no
// code.
func isPermissionRefusal(err error) bool {
	var apiErr *upstream.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden && (apiErr.Code == "NoPermission" || apiErr.Code == "")
}

// listPage is one page of the listing.
type listPage struct {
	ids     []string
	skipped []string
	// marker and nextMarker are nil when not sent or null.
	marker, nextMarker *string
}

// next is the marker of the next page, and whether it came as nextMarker.
func (p *listPage) next() (marker string, explicit bool) {
	if p.nextMarker != nil {
		return *p.nextMarker, true
	}
	if p.marker != nil {
		return *p.marker, false
	}
	return "", false
}

type listAnswer struct {
	List       json.RawMessage `json:"list"`
	Marker     json.RawMessage `json:"marker"`
	NextMarker json.RawMessage `json:"nextMarker"`
}

type listedSpace struct {
	SpaceID *string `json:"spaceId"`
}

// decodeSpaceList reads one page of the listing. Space ids are redacted as
// decoded, as in decodeUsage; a listed id that cannot be asked for (with a
// comma) is noted and left out. Errors describe the shape of what was
// wrong, never a value.
func decodeSpaceList(body []byte, r *upstream.Redactor) (*listPage, error) {
	body = r.JSON(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("want a JSON object with a list of spaces, got an empty body")
	}
	if kind := upstream.JSONKind(body); kind != "an object" {
		return nil, fmt.Errorf("want a JSON object with a list of spaces, got %s", kind)
	}
	var a listAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	p := &listPage{}
	var err error
	if p.marker, err = decodeMarker("marker", a.Marker); err != nil {
		return nil, err
	}
	if p.nextMarker, err = decodeMarker("nextMarker", a.NextMarker); err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	switch kind := upstream.JSONKind(a.List); kind {
	case "null":
	case "an array":
		if err := json.Unmarshal(a.List, &elems); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
	case "empty":
		return nil, errors.New("no list")
	default:
		return nil, fmt.Errorf("list: want an array, got %s", kind)
	}
	for i, raw := range elems {
		if kind := upstream.JSONKind(raw); kind != "an object" {
			return nil, fmt.Errorf("list element %d: want an object, got %s", i, kind)
		}
		var s listedSpace
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("list element %d: %w", i, err)
		}
		if s.SpaceID == nil || *s.SpaceID == "" {
			return nil, fmt.Errorf("list element %d: no spaceId", i)
		}
		id := r.Value(*s.SpaceID)
		if strings.Contains(id, ",") {
			p.skipped = append(p.skipped, r.Text(fmt.Sprintf("listed space %q: an id with a comma cannot be asked for", id)))
			continue
		}
		p.ids = append(p.ids, id)
	}
	return p, nil
}

// decodeMarker reads a marker: nil when absent or null; a string, or a
// number as written, since the documents type it loosely.
func decodeMarker(name string, raw json.RawMessage) (*string, error) {
	switch kind := upstream.JSONKind(raw); kind {
	case "empty", "null":
		return nil, nil
	case "a string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &s, nil
	case "a number":
		s := string(bytes.TrimSpace(raw))
		return &s, nil
	default:
		return nil, fmt.Errorf("%s: want a string, got %s", name, kind)
	}
}
