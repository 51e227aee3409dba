package huawei

import (
	"context"
	"fmt"
	"net/url"
)

// WorkspaceQuotas returns the tenant quota details of one Workspace site
// (GET /v2/{project_id}/quotas/detail). siteID and azCode are optional
// and sent only when not empty.
func (c *Client) WorkspaceQuotas(ctx context.Context, siteID, azCode string) (*WorkspaceQuotas, error) {
	const operation = "quotas_detail"
	query := url.Values{}
	if siteID != "" {
		query.Set("site_id", siteID)
	}
	if azCode != "" {
		query.Set("az_code", azCode)
	}
	resp, err := c.get(ctx, operation, "/v2/"+url.PathEscape(c.projectID)+"/quotas/detail", query)
	if err != nil {
		return nil, err
	}
	fields, quotas, err := decodeQuotaAnswer(c.scrubBody(resp.Body))
	if err != nil {
		return nil, c.decodeError(operation, resp, err)
	}
	out := &WorkspaceQuotas{Quotas: quotas}
	if out.SiteID, err = stringField(fields, "site_id"); err != nil {
		out.Skipped = append(out.Skipped, fmt.Sprintf("site_id: %v", err))
	}
	c.scrubNotes(out.Skipped)
	return out, nil
}
