package huawei

import (
	"context"
	"fmt"
	"net/url"

	"golang.org/x/sync/errgroup"
)

// WorkspaceSites returns the tenant quota details of every given Workspace
// site (GET /v2/{project_id}/quotas/detail, one request per site, at once),
// in the order given; with no sites, one request without site_id for the
// project's default site. azCode is optional. Each answer's SiteID is the
// site asked for, or the one upstream names when none was asked for. One
// failed site fails the whole call: a partial answer would read as a quota
// that vanished.
func (c *Client) WorkspaceSites(ctx context.Context, siteIDs []string, azCode string) ([]WorkspaceQuotas, error) {
	sites := siteIDs
	if len(sites) == 0 {
		sites = []string{""}
	}
	one := func(ctx context.Context, site string) (WorkspaceQuotas, error) {
		q, err := c.WorkspaceQuotas(ctx, site, azCode)
		if err != nil {
			return WorkspaceQuotas{}, err
		}
		if site != "" {
			q.SiteID = site
		}
		return *q, nil
	}
	results := make([]WorkspaceQuotas, len(sites))
	if len(sites) == 1 {
		// The usual case: no goroutine, no context to start for it.
		var err error
		results[0], err = one(ctx, sites[0])
		if err != nil {
			return nil, err
		}
		return results, nil
	}
	// errgroup cancels the other sites at the first failure and keeps
	// that error, not the cancellations it causes.
	g, gctx := errgroup.WithContext(ctx)
	for i, site := range sites {
		g.Go(func() (err error) {
			results[i], err = one(gctx, site)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return results, nil
}

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
	if out.SiteID, err = siteIDField(fields, "site_id"); err != nil {
		out.Skipped = append(out.Skipped, fmt.Sprintf("site_id: %v", err))
	}
	c.scrubNotes(out.Skipped)
	return out, nil
}
