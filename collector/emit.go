package collector

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// targetLabels are the identifying labels a target adds to its quota
// series besides its name.
type targetLabels struct {
	libraryID string // smh
	projectID string // workspace, cts
}

// emitData sends the quota gauges of one answer. A value upstream left null
// gets no sample. A label set upstream repeats is sent once, because a
// duplicate would make the whole scrape fail.
func emitData(ch chan<- prometheus.Metric, name string, l targetLabels, d *targetData) {
	seen := map[string]bool{}
	first := func(parts ...string) bool {
		key := ""
		for _, p := range parts {
			key += p + "\xff"
		}
		if seen[key] {
			return false
		}
		seen[key] = true
		return true
	}
	switch {
	case d.smh != nil:
		for _, s := range d.smh.Spaces {
			if !first(s.SpaceID) {
				continue
			}
			gauge(ch, smhCapacityDesc, s.Capacity, name, l.libraryID, s.SpaceID)
			gauge(ch, smhAvailableDesc, s.Available, name, l.libraryID, s.SpaceID)
			gauge(ch, smhUsedDesc, s.Used, name, l.libraryID, s.SpaceID)
		}
	case d.cts != nil:
		for _, r := range d.cts.Resources {
			if !first(r.Type) {
				continue
			}
			gauge(ch, ctsLimitDesc, r.Quota, name, l.projectID, r.Type)
			gauge(ch, ctsUsedDesc, r.Used, name, l.projectID, r.Type)
		}
	default:
		for _, site := range d.workspace {
			emitWorkspaceSite(ch, name, l.projectID, site, first)
		}
	}
}

func emitWorkspaceSite(ch chan<- prometheus.Metric, name, projectID string, site workspaceSite, first func(...string) bool) {
	for _, r := range site.quotas.Resources {
		if !first(site.siteID, r.Type, r.Unit) {
			continue
		}
		gauge(ch, workspaceLimitDesc, r.Quota, name, projectID, site.siteID, r.Type, r.Unit)
		gauge(ch, workspaceUsedDesc, r.Used, name, projectID, site.siteID, r.Type, r.Unit)
	}
}

func gauge(ch chan<- prometheus.Metric, desc *prometheus.Desc, a upstream.Amount, labelValues ...string) {
	if !a.Valid {
		return
	}
	for i, v := range labelValues {
		// Label values come from upstream; invalid UTF-8 would make the
		// metric unexportable, so it is mended rather than dropped.
		if !utf8.ValidString(v) {
			labelValues[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(a.Value), labelValues...)
}
