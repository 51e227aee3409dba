package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// SiteList is the Workspace sites of a project. Skipped describes, one line
// each, the entries left out because they had no usable site id.
type SiteList struct {
	IDs     []string
	Skipped []string
}

// WorkspaceSiteList lists the project's Workspace sites
// (GET /v2/{project_id}/sites, IAM action workspace:sites:get), in the
// order upstream sends them. The API has no paging; a total_count that
// differs from the entries sent is noted, since it may mean a cut list.
func (c *Client) WorkspaceSiteList(ctx context.Context) (*SiteList, error) {
	const operation = "sites"
	resp, err := c.get(ctx, operation, "/v2/"+url.PathEscape(c.projectID)+"/sites", nil)
	if err != nil {
		return nil, err
	}
	list, err := decodeSiteList(c.scrubBody(resp.Body))
	if err != nil {
		return nil, c.decodeError(operation, resp, err)
	}
	c.scrubNotes(list.Skipped)
	return list, nil
}

// decodeSiteList reads {"site_infos": [{"site_id", ...}], "total_count"}.
// A broken overall shape is an error; an entry without a usable or with a
// repeated site id is skipped with a note.
func decodeSiteList(body []byte) (*SiteList, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	raw, ok := fields["site_infos"]
	if !ok {
		return nil, errors.New(`body has no "site_infos" field`)
	}
	if kind := upstream.JSONKind(raw); kind != "an array" {
		return nil, fmt.Errorf(`"site_infos" is %s, want an array`, kind)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf(`"site_infos": %w`, err)
	}
	list := &SiteList{IDs: make([]string, 0, len(elems))}
	seen := make(map[string]bool, len(elems))
	for i, elem := range elems {
		obj, err := decodeObject(elem)
		if err != nil {
			return nil, fmt.Errorf("site_infos[%d]: %w", i, err)
		}
		id, err := siteIDField(obj, "site_id")
		switch {
		case err != nil:
			list.Skipped = append(list.Skipped, fmt.Sprintf("site_infos[%d] site_id: %v; site skipped", i, err))
		case id == "":
			list.Skipped = append(list.Skipped, fmt.Sprintf("site_infos[%d]: no site_id; site skipped", i))
		case seen[id]:
			list.Skipped = append(list.Skipped, fmt.Sprintf("site %s: listed more than once; asked for once", upstream.Quote(id)))
		default:
			seen[id] = true
			list.IDs = append(list.IDs, id)
		}
	}
	if total, err := upstream.ParseInteger(fields["total_count"]); err != nil {
		list.Skipped = append(list.Skipped, fmt.Sprintf("total_count: %v", err))
	} else if total.Valid && total.Value != uint64(len(elems)) {
		list.Skipped = append(list.Skipped, fmt.Sprintf("total_count is %d but %d sites were sent; only those are asked for", total.Value, len(elems)))
	}
	return list, nil
}
