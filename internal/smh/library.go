package smh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// libraryGrantHint says what a refused library usage request needs.
const libraryGrantHint = "reading the library totals needs a token with grant admin; set grant: admin on the credential, or remove library_usage"

// LibraryUsage is a library's totals, in bytes. An amount is not valid
// when SMH did not send it or sent null: the official page shows only
// totalFileSize, older SDKs the other three as well.
type LibraryUsage struct {
	Used      upstream.Amount // totalFileSize
	Capacity  upstream.Amount // capacity
	Available upstream.Amount // availableSpace
	Allocated upstream.Amount // totalAllocatedSpaceQuota
	// Skipped describes values that were sent but are unusable.
	Skipped []string
}

// LibraryUsage returns the library's totals from
// GET /api/v1/usage/{LibraryId}, which needs a token with grant admin.
func (c *Client) LibraryUsage(ctx context.Context) (*LibraryUsage, error) {
	u, err := call(ctx, c, "library_usage", nil, decodeLibraryUsage, "api", "v1", "usage", url.PathEscape(c.creds.LibraryID))
	if err != nil {
		if isPermissionRefusal(err) {
			err = fmt.Errorf("%w; %s", err, libraryGrantHint)
		}
		return nil, err
	}
	u.Skipped = append(u.Skipped, c.takeNotes()...)
	return u, nil
}

type libraryAnswer struct {
	TotalFileSize            json.RawMessage `json:"totalFileSize"`
	Capacity                 json.RawMessage `json:"capacity"`
	AvailableSpace           json.RawMessage `json:"availableSpace"`
	TotalAllocatedSpaceQuota json.RawMessage `json:"totalAllocatedSpaceQuota"`
}

// decodeLibraryUsage reads the library totals, as decodeUsage reads a
// space's.
func decodeLibraryUsage(body []byte, r *upstream.Redactor) (*LibraryUsage, error) {
	body = r.JSON(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("want a JSON object of library totals, got an empty body")
	}
	if kind := upstream.JSONKind(body); kind != "an object" {
		return nil, fmt.Errorf("want a JSON object of library totals, got %s", kind)
	}
	var a libraryAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	u := &LibraryUsage{}
	u.Skipped = parseAmounts(r, "library", []amountField{
		{"totalFileSize", a.TotalFileSize, &u.Used},
		{"capacity", a.Capacity, &u.Capacity},
		{"availableSpace", a.AvailableSpace, &u.Available},
		{"totalAllocatedSpaceQuota", a.TotalAllocatedSpaceQuota, &u.Allocated},
	})
	return u, nil
}
