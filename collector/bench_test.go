package collector

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/common/expfmt"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/smh"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// benchExporter has n targets per service whose polls answer at once from
// memory with resources quotas each, so that a benchmark measures the
// exporter's own work per scrape: fan-out, metric building, gathering and
// encoding, without the network.
func benchExporter(n, resources int) *Exporter {
	e := New(nil, log.NewNopLogger())
	add := func(name, service string, data answer) {
		t := &target{name: name, service: service, timeout: time.Minute, now: time.Now, logger: log.NewNopLogger(),
			poll: func(context.Context) (answer, error) { return data, nil }}
		e.targets = append(e.targets, t)
		e.byName[name] = t
	}
	quotas := huawei.Quotas{}
	usage := &smh.Usage{}
	for r := range resources {
		quotas.Resources = append(quotas.Resources, huawei.Resource{Type: fmt.Sprintf("resource_%d", r), Unit: "count", Quota: upstream.Some(100), Used: upstream.Some(uint64(r))})
		usage.Spaces = append(usage.Spaces, smh.SpaceUsage{SpaceID: fmt.Sprintf("space%d", r), Capacity: upstream.Some(1 << 40), Available: upstream.Some(1 << 39), Used: upstream.Some(1 << 39)})
	}
	for i := range n {
		add(fmt.Sprintf("smh-%d", i), "smh", smhAnswer{libraryID: "lib", usage: usage})
		add(fmt.Sprintf("workspace-%d", i), "workspace", workspaceAnswer{projectID: "proj", sites: []huawei.WorkspaceQuotas{{SiteID: "site", Quotas: quotas}}})
		add(fmt.Sprintf("cts-%d", i), "cts", ctsAnswer{projectID: "proj", quotas: &quotas})
	}
	return e
}

// BenchmarkScrape is the exporter's own cost of one /metrics scrape of the
// targets (3 × n) with 10 quotas each, gathered and encoded as text.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1, 33, 333} {
		e := benchExporter(n, 10)
		b.Run(fmt.Sprintf("targets=%d", 3*n), func(b *testing.B) {
			b.ReportAllocs()
			series := 0
			for b.Loop() {
				families, err := e.Scrape(context.Background()).Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				series = 0
				for _, f := range families {
					series += len(f.GetMetric())
					if err := enc.Encode(f); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(series), "series")
		})
	}
}
