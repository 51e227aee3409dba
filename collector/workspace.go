package collector

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// workspaceService reads Huawei Cloud Workspace quotas, per site.
var workspaceService = service{
	families: []*family{workspaceLimitDesc, workspaceUsedDesc},
	newPoll:  newWorkspacePoll,
}

var (
	workspaceLimitDesc = newFamily(
		prometheus.BuildFQName(namespace, "workspace", "quota_limit"),
		"Huawei Cloud Workspace quota of a resource at a site (quota), in the resource's unit. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "site_id", "resource", "unit"}, nil)
	workspaceUsedDesc = newFamily(
		prometheus.BuildFQName(namespace, "workspace", "quota_used"),
		"Huawei Cloud Workspace usage of a resource at a site (used), in the resource's unit. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "site_id", "resource", "unit"}, nil)
)

// workspaceAnswer is the quotas of every site of a target, with the notes
// of the site listing that found them, when this poll listed.
type workspaceAnswer struct {
	projectID string
	sites     []huawei.WorkspaceQuotas
	notes     []string
}

func newWorkspacePoll(e *Exporter, s pollSpec) pollFunc {
	project := e.newProjectClient(s)
	siteIDs, azCode := s.target.SiteIDs, s.target.AZCode
	var discovery *siteDiscovery
	if s.target.DiscoverSites {
		discovery = &siteDiscovery{
			interval: time.Duration(s.target.DiscoveryInterval),
			now:      e.now,
			logger:   log.With(e.logger, "target", s.target.Name, "service", s.target.Service),
		}
	}
	return func(ctx context.Context) (answer, error) {
		client, projectID, err := project(ctx)
		if err != nil {
			return nil, err
		}
		sites, notes := siteIDs, []string(nil)
		if discovery != nil {
			if sites, notes, err = discovery.sites(ctx, client, projectID); err != nil {
				return nil, err
			}
		}
		quotas, err := client.WorkspaceSites(ctx, sites, azCode)
		if err != nil {
			return nil, err
		}
		return workspaceAnswer{projectID: projectID, sites: quotas, notes: notes}, nil
	}
}

// siteDiscovery keeps a target's listed Workspace sites for the discovery
// interval. A poll at a time uses it (a target's polls never overlap), but
// it is locked anyway: it must not depend on that.
type siteDiscovery struct {
	interval time.Duration
	now      func() time.Time
	logger   log.Logger

	mu        sync.Mutex
	projectID string // whose sites ids are
	ids       []string
	listedAt  time.Time
}

// sites returns the project's sites, listed again once the interval has
// passed, with the notes of a fresh listing. A failed listing keeps the
// last good list (and says so in a warning), trying again at the next
// poll; with no list to keep, or a project that lists no site, it is the
// target's error.
func (d *siteDiscovery) sites(ctx context.Context, client *huawei.Client, projectID string) ([]string, []string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	have := d.ids != nil && d.projectID == projectID
	if have && d.now().Sub(d.listedAt) < d.interval {
		return d.ids, nil, nil
	}
	list, err := client.WorkspaceSiteList(ctx)
	if err == nil && len(list.IDs) == 0 {
		err = fmt.Errorf("the project %s lists no usable Workspace site (GET /v2/{project_id}/sites); set site_ids on the target instead of discover_sites", upstream.Quote(projectID))
		if len(list.Skipped) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.Join(list.Skipped, "; "))
		}
	}
	if err != nil {
		if !have || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("listing the Workspace sites: %w", err)
		}
		level.Warn(d.logger).Log("msg", "Listing the Workspace sites failed; using the last good list",
			"sites", len(d.ids), "listed_at", d.listedAt.UTC().Format(time.RFC3339), "err", err)
		return d.ids, nil, nil
	}
	d.projectID, d.ids, d.listedAt = projectID, list.IDs, d.now()
	return d.ids, list.Skipped, nil
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
	all := append([]string(nil), a.notes...)
	for _, s := range a.sites {
		all = append(all, s.Skipped...)
	}
	return all
}
