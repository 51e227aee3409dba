package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
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

func (a workspaceAnswer) samples(b *sampleBuilder) {
	for _, site := range a.sites {
		for _, r := range site.Resources {
			l, ok := b.labels(func() string {
				return fmt.Sprintf("site %s resource %s unit %s", upstream.Quote(site.SiteID), upstream.Quote(r.Type), upstream.Quote(r.Unit))
			}, b.target, a.projectID, site.SiteID, r.Type, r.Unit)
			if !ok {
				continue
			}
			b.gauge(workspaceLimitDesc, r.Quota, l...)
			b.gauge(workspaceUsedDesc, r.Used, l...)
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
