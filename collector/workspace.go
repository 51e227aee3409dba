package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
)

// workspaceService reads Huawei Cloud Workspace quotas, per site.
var workspaceService = service{
	descs:   []*prometheus.Desc{workspaceLimitDesc, workspaceUsedDesc},
	newPoll: newWorkspacePoll,
}

var (
	workspaceLimitDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "workspace", "quota_limit"),
		"Huawei Cloud Workspace quota of a resource at a site (quota), in the resource's unit. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "site_id", "resource", "unit"}, nil)
	workspaceUsedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "workspace", "quota_used"),
		"Huawei Cloud Workspace usage of a resource at a site (used), in the resource's unit. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "site_id", "resource", "unit"}, nil)
)

// workspaceAnswer is the quotas of every site of a target.
type workspaceAnswer struct {
	projectID string
	sites     []huawei.WorkspaceQuotas
}

func newWorkspacePoll(e *Exporter, s pollSpec) pollFunc {
	client := newHuaweiClient(e, s)
	siteIDs, azCode, projectID := s.target.SiteIDs, s.target.AZCode, s.target.ProjectID
	return func(ctx context.Context) (answer, error) {
		sites, err := client.WorkspaceSites(ctx, siteIDs, azCode)
		if err != nil {
			return nil, err
		}
		return workspaceAnswer{projectID: projectID, sites: sites}, nil
	}
}

func (a workspaceAnswer) collect(ch chan<- prometheus.Metric, target string) {
	seen := labelSets{}
	for _, site := range a.sites {
		for _, r := range site.Resources {
			if !seen.first(site.SiteID, r.Type, r.Unit) {
				continue
			}
			gauge(ch, workspaceLimitDesc, r.Quota, target, a.projectID, site.SiteID, r.Type, r.Unit)
			gauge(ch, workspaceUsedDesc, r.Used, target, a.projectID, site.SiteID, r.Type, r.Unit)
		}
	}
}

func (a workspaceAnswer) skipped() []string {
	var all []string
	for _, s := range a.sites {
		all = append(all, s.Skipped...)
	}
	return all
}
