package server

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// afterScrape gathers a scrape's samples, then the exporter-wide metrics
// (build info, reload state, request counters, Go and process), in that
// order: the request counters and go_goroutines should tell the state
// after the scrape's polls, not half-way through. The two never share a
// family name, so their families are merged, not re-checked, and sorted by
// name as one registry would sort them. (prometheus.Gatherers would hash
// and check every sample of the scrape a second time.)
type afterScrape struct {
	scrape       prometheus.Gatherer
	exporterWide prometheus.Gatherer
}

// Gather implements prometheus.Gatherer.
func (g afterScrape) Gather() ([]*dto.MetricFamily, error) {
	scraped, err := g.scrape.Gather()
	if err != nil {
		return nil, err
	}
	wide, err := g.exporterWide.Gather()
	all := append(scraped, wide...)
	slices.SortFunc(all, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return all, err
}
