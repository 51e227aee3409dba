package collector

import (
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// family is one gauge family the exporter writes. Its samples are built
// straight into the exposition's data model, once per answer, so that a
// scrape hands them to the encoder as they are: no const metric per
// sample, no copy of every sample per scrape, no re-checking of what the
// sample builder already guarantees (label names, no repeated label set).
type family struct {
	name, help string
	labels     []string // in the order label values are given
	// labelKey is the label names joined: families with the same one can
	// share label pairs.
	labelKey string
	// order lists the label positions sorted by label name, the order of
	// the label pairs in the exposition.
	order []int
	desc  *prometheus.Desc // for the prometheus.Collector path
}

// newFamily is prometheus.NewDesc for a gauge family written by Gather;
// constLabels must be nil (none of the exporter's families has any).
func newFamily(name, help string, labels []string, constLabels prometheus.Labels) *family {
	f := &family{name: name, help: help, labels: labels, labelKey: strings.Join(labels, ","), desc: prometheus.NewDesc(name, help, labels, constLabels)}
	f.order = make([]int, len(labels))
	for i := range labels {
		f.order[i] = i
	}
	sort.Slice(f.order, func(a, b int) bool { return labels[f.order[a]] < labels[f.order[b]] })
	return f
}

// sample is one built sample of a family.
type sample struct {
	family *family
	metric *dto.Metric
}

// metricParts are the parts of one built sample, allocated together.
type metricParts struct {
	metric dto.Metric
	gauge  dto.Gauge
	value  float64
}

// build makes p a gauge sample of value with the label pairs.
func (p *metricParts) build(value float64, pairs []*dto.LabelPair) *dto.Metric {
	p.value = value
	p.gauge.Value = &p.value
	p.metric.Label, p.metric.Gauge = pairs, &p.gauge
	return &p.metric
}

// sample builds one sample; labelValues are in the family's label order
// and valid UTF-8.
func (f *family) sample(value float64, labelValues ...string) sample {
	return sample{family: f, metric: new(metricParts).build(value, f.labelPairs(append([]string(nil), labelValues...), nil))}
}

// labelPairs are the label pairs of a sample with labelValues (in the
// family's label order), sorted by label name. They point into
// labelValues, which must not change afterwards, and may be shared by any
// samples of the families with the same label names: the encoder only
// reads them. So prev, the pairs of another sample of such a family (or
// nil), gives those of its pairs that have the same value: the target,
// project and site of one answer's samples are the same.
func (f *family) labelPairs(labelValues []string, prev []*dto.LabelPair) []*dto.LabelPair {
	ptrs := make([]*dto.LabelPair, len(f.labels))
	fresh := 0
	for i, pos := range f.order {
		if prev != nil && prev[i].GetValue() == labelValues[pos] {
			ptrs[i] = prev[i]
		} else {
			fresh++
		}
	}
	pairs := make([]dto.LabelPair, fresh)
	for i, pos := range f.order {
		if ptrs[i] == nil {
			p := &pairs[0]
			pairs = pairs[1:]
			p.Name, p.Value = &f.labels[pos], &labelValues[pos]
			ptrs[i] = p
		}
	}
	return ptrs
}

// Desc and Write make a sample a prometheus.Metric, for Collect.
type collectedSample sample

func (s collectedSample) Desc() *prometheus.Desc { return s.family.desc }

func (s collectedSample) Write(out *dto.Metric) error {
	out.Label, out.Gauge = s.metric.Label, s.metric.Gauge
	return nil
}

// families groups samples into metric families, sorted as client_golang's
// registry sorts them (families by name, samples by their label values),
// so that the exposition is byte for byte what a registry would write.
func families(samples []sample) []*dto.MetricFamily {
	counts := map[*family]int{}
	for _, s := range samples {
		counts[s.family]++
	}
	byName := make(map[*family]*dto.MetricFamily, len(counts))
	out := make([]*dto.MetricFamily, 0, len(counts))
	for _, s := range samples {
		mf := byName[s.family]
		if mf == nil {
			mf = &dto.MetricFamily{Name: &s.family.name, Help: &s.family.help, Type: dto.MetricType_GAUGE.Enum(),
				Metric: make([]*dto.Metric, 0, counts[s.family])}
			byName[s.family] = mf
			out = append(out, mf)
		}
		mf.Metric = append(mf.Metric, s.metric)
	}
	for _, mf := range out {
		slices.SortFunc(mf.Metric, compareLabels)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// compareLabels orders two samples of one family by their label values,
// label by label, as client_golang does.
func compareLabels(a, b *dto.Metric) int {
	for i, la := range a.Label {
		if c := strings.Compare(la.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}
