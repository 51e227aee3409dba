package huawei

import (
	"context"
	"net/url"
)

// CTSQuotas returns the Cloud Trace Service tracker quotas of the project
// (GET /v3/{project_id}/quotas).
func (c *Client) CTSQuotas(ctx context.Context) (*Quotas, error) {
	const operation = "quotas"
	resp, err := c.get(ctx, operation, "/v3/"+url.PathEscape(c.projectID)+"/quotas", nil)
	if err != nil {
		return nil, err
	}
	_, quotas, err := decodeQuotaAnswer(c.scrubBody(resp.Body))
	if err != nil {
		return nil, c.decodeError(operation, resp, err)
	}
	c.scrubNotes(quotas.Skipped)
	return &quotas, nil
}
