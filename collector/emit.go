package collector

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// labelSets remembers the label sets an answer has sent. A label set
// upstream repeats is sent once, because a duplicate would make the whole
// scrape fail.
type labelSets map[string]struct{}

// first tells whether the label set made of parts is new, and remembers it.
func (s labelSets) first(parts ...string) bool {
	key := strings.Join(parts, "\xff")
	if _, seen := s[key]; seen {
		return false
	}
	s[key] = struct{}{}
	return true
}

// gauge sends one quota sample; a value upstream left null gets none.
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
