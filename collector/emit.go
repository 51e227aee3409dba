package collector

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// samples are the quota metrics of one answer, built once when the answer
// arrives and sent as they are by every scrape that serves it, from the
// cache too, with the notes on the values upstream sent that could not be
// used.
type samples struct {
	metrics []sample
	skipped []string
}

// sampleBuilder turns one answer into samples, skipping (with a note) what
// would break the exposition, and counts them against the target's
// sample_limit without building any beyond it.
type sampleBuilder struct {
	target  string
	limit   int // 0: none
	count   int
	samples samples
	seen    map[string]struct{}
	// The label pairs of the last sample, for the next one of the same
	// label set (the quota and the usage of one resource share theirs).
	lastKey    string
	lastValues []string
	lastPairs  []*dto.LabelPair
	// pending are the samples to build once the answer is read, all
	// parts in one allocation: as many as there are samples, since a
	// sample's parts live as long as any of them.
	pending []pendingSample
}

// pendingSample is a sample to build.
type pendingSample struct {
	family *family
	value  float64
	pairs  []*dto.LabelPair
}

// buildSamples makes the samples of one target's answer, or fails when they
// would be more than limit (0: no limit).
func buildSamples(target string, limit int, a answer) (samples, error) {
	pending := pendingPool.Get().(*[]pendingSample)
	defer func() {
		clear(*pending) // no label pairs kept alive by the pool
		*pending = (*pending)[:0]
		pendingPool.Put(pending)
	}()
	b := &sampleBuilder{target: target, limit: limit, seen: map[string]struct{}{}, pending: *pending}
	b.samples.skipped = append(b.samples.skipped, a.skipped()...)
	a.samples(b)
	*pending = b.pending
	if limit > 0 && b.count > limit {
		return samples{}, fmt.Errorf("the answer would give %d quota samples, more than the target's sample_limit of %d: raise sample_limit or split the target", b.count, limit)
	}
	parts := make([]metricParts, len(b.pending))
	b.samples.metrics = make([]sample, len(b.pending))
	for i, p := range b.pending {
		b.samples.metrics[i] = sample{family: p.family, metric: parts[i].build(p.value, p.pairs)}
	}
	return b.samples, nil
}

// pendingPool holds the builders' lists of samples to build, which are
// only needed while an answer is read.
var pendingPool = sync.Pool{New: func() any { return new([]pendingSample) }}

// labels returns the label values of one upstream element with invalid
// UTF-8 mended (it would make the metric unexportable), and false when an
// element of this answer already had them: a repeated label set would make
// the whole scrape fail, so only the first is kept and the repeat is noted
// as skipped with what, which names it.
func (b *sampleBuilder) labels(what func() string, values ...string) ([]string, bool) {
	for i, v := range values {
		if !utf8.ValidString(v) {
			values[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	key := strings.Join(values, "\xff")
	if _, dup := b.seen[key]; dup {
		b.samples.skipped = append(b.samples.skipped, what()+": sent more than once in the answer; only the first is kept")
		return nil, false
	}
	b.seen[key] = struct{}{}
	return values, true
}

// gauge adds one quota sample; a value upstream left null gets none.
// labelValues start with the target's name, and must not change
// afterwards: the sample's label pairs point into them.
func (b *sampleBuilder) gauge(f *family, a upstream.Amount, labelValues ...string) {
	if !a.Valid {
		return
	}
	b.count++
	if b.limit > 0 && b.count > b.limit {
		return // counted, not built: the target fails anyway
	}
	if b.lastPairs == nil || b.lastKey != f.labelKey || !slices.Equal(b.lastValues, labelValues) {
		var prev []*dto.LabelPair
		if b.lastKey == f.labelKey {
			prev = b.lastPairs
		}
		b.lastKey, b.lastValues, b.lastPairs = f.labelKey, labelValues, f.labelPairs(labelValues, prev)
	}
	b.pending = append(b.pending, pendingSample{family: f, value: float64(a.Value), pairs: b.lastPairs})
}
