package collector

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Scrape is one HTTP scrape of some targets: it polls them concurrently,
// each bounded by the scrape's context, and gives their samples. It is a
// prometheus.Gatherer, which hands the samples built with each answer to
// the encoder as they are, and, for tests and anything else that wants a
// registry, a prometheus.Collector.
type Scrape struct {
	ctx     context.Context
	targets []*target
	now     func() time.Time
	// story, when set, is told what the scrape did (/probe?debug=true).
	story *ProbeStory
	// turns bounds the targets under way at once; 0: no bound.
	turns int
}

var (
	_ prometheus.Collector = (*Scrape)(nil)
	_ prometheus.Gatherer  = (*Scrape)(nil)
)

// Describe sends every descriptor the exporter can emit.
func (s *Scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range allFamilies() {
		ch <- f.desc
	}
}

// Collect polls the targets and sends their samples. A failing target
// yields cloudquota_up 0 and never stops the others.
func (s *Scrape) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s.run() {
		ch <- collectedSample(m)
	}
}

// Gather polls the targets and returns their samples as metric families,
// sorted as a registry sorts them.
func (s *Scrape) Gather() ([]*dto.MetricFamily, error) {
	return families(s.run()), nil
}

// run polls the targets and returns every sample of the scrape. At most
// s.turns targets are under way at once (0: all of them): a target waits
// for a request slot anyway, and one that has not started costs no
// goroutine, no stack for the garbage collector to scan and no poll state.
// A target gives its turn back when its poll ends, and when it waits long
// for what another is fetching (upstream.Park), so that nothing shared
// that hangs holds the rest of the scrape back. Once the scrape's context
// ends, the targets left start at once, and end at once.
func (s *Scrape) run() []sample {
	perTarget := make([]targetResult, len(s.targets))
	var turns chan struct{}
	if s.turns > 0 && s.turns < len(s.targets) {
		turns = make(chan struct{}, s.turns)
	}
	var wg sync.WaitGroup
	for i, t := range s.targets {
		release := func() {}
		if turns != nil {
			select {
			case turns <- struct{}{}:
				release = sync.OnceFunc(func() { <-turns })
			case <-s.ctx.Done():
			}
		}
		wg.Go(func() {
			defer release()
			perTarget[i] = s.scrapeTarget(t, release)
		})
	}
	wg.Wait()
	n := 0
	for _, r := range perTarget {
		n += len(r.quotas) + len(r.health)
	}
	all := make([]sample, 0, n+2*len(s.targets))
	for _, r := range perTarget {
		all = append(all, r.quotas...)
		all = append(all, r.health...)
	}
	s.credentialSamples(func(m sample) { all = append(all, m) })
	return all
}

// targetResult are the samples of one target in a scrape: those of its
// answer, when it is up, and its health samples.
type targetResult struct {
	quotas, health []sample
}

// scrapeTarget fetches one target's data, giving its turn back once the
// data is there or it only waits for it, and returns its samples.
func (s *Scrape) scrapeTarget(t *target, release func()) targetResult {
	start := s.now()
	out := t.fetch(s.ctx, release)
	end := s.now()
	elapsed := end.Sub(start)
	t.recordScrape(out, end, elapsed)
	if s.story != nil {
		s.story.record(t, out, elapsed)
	}
	return targetSamples(t, out, elapsed)
}

// credentialSamples gives the back-off of each credential the scrape
// covered, and the expiry of its keys when known.
func (s *Scrape) credentialSamples(emit func(sample)) {
	seen := map[string]bool{}
	for _, t := range s.targets {
		credential, gate, info := t.backoffGate()
		if gate == nil || seen[credential] {
			continue
		}
		seen[credential] = true
		emit(credentialBackoffDesc.sample(gate.Backoff().Seconds(), credential))
		emitCredentialExpiry(emit, credential, info)
	}
}

// targetSamples are a target's quota samples, when it is up, and its
// health samples.
func targetSamples(t *target, out outcome, elapsed time.Duration) targetResult {
	var r targetResult
	up := 0.0
	if out.err == nil {
		up = 1
		r.quotas = out.samples.metrics
	}
	h := t.health()
	// One allocation for the four health samples and one for their list.
	parts := new([4]metricParts)
	ms := make([]sample, 0, len(parts))
	ms = append(ms, h.sample(upDesc, &parts[0], up), h.sample(collectDurationDesc, &parts[1], elapsed.Seconds()))
	if !h.lastSuccess.IsZero() {
		ms = append(ms, h.sample(lastSuccessDesc, &parts[2], float64(h.lastSuccess.UnixNano())/1e9))
	}
	if h.clockOffsetKnown {
		ms = append(ms, h.sample(clockOffsetDesc, &parts[3], h.clockOffset.Seconds()))
	}
	r.health = ms
	return r
}
