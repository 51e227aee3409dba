package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// ctsService reads Huawei Cloud Trace Service tracker quotas.
var ctsService = service{
	families: []*family{ctsLimitDesc, ctsUsedDesc},
	newPoll:  newCTSPoll,
}

var (
	ctsLimitDesc = newFamily(
		prometheus.BuildFQName(namespace, "cts", "quota_limit"),
		"Huawei Cloud Trace Service quota of a resource (quota). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "resource"}, nil)
	ctsUsedDesc = newFamily(
		prometheus.BuildFQName(namespace, "cts", "quota_used"),
		"Huawei Cloud Trace Service usage of a resource (used). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "resource"}, nil)
)

// ctsAnswer is the tracker quotas of a target's project.
type ctsAnswer struct {
	projectID string
	quotas    *huawei.Quotas
}

func newCTSPoll(e *Exporter, s pollSpec) pollFunc {
	project := e.newProjectClient(s)
	return func(ctx context.Context) (answer, error) {
		client, projectID, err := project(ctx)
		if err != nil {
			return nil, err
		}
		quotas, err := client.CTSQuotas(ctx)
		if err != nil {
			return nil, err
		}
		return ctsAnswer{projectID: projectID, quotas: quotas}, nil
	}
}

func (a ctsAnswer) samples(b *sampleBuilder) {
	for _, r := range a.quotas.Resources {
		l, ok := b.labels(func() string { return "resource " + upstream.Quote(r.Type) }, b.target, a.projectID, r.Type)
		if !ok {
			continue
		}
		b.gauge(ctsLimitDesc, r.Quota, l...)
		b.gauge(ctsUsedDesc, r.Used, l...)
	}
}

func (a ctsAnswer) skipped() []string { return a.quotas.Skipped }
