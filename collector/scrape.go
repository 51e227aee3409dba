package collector

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrape is the prometheus.Collector of one HTTP scrape: it polls its
// targets concurrently, each bounded by the scrape's context, and turns the
// answers into const metrics.
type scrape struct {
	ctx     context.Context
	targets []*target
	now     func() time.Time
	// story, when set, is told what the scrape did (/probe?debug=true).
	story *ProbeStory
}

var _ prometheus.Collector = (*scrape)(nil)

// Describe sends every descriptor the exporter can emit.
func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs() {
		ch <- d
	}
	ch <- credentialExpiryDesc
}

// Collect polls the targets and sends their metrics. A failing target
// yields cloudquota_up 0 and never stops the others.
func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := s.now()
			out := t.fetch(s.ctx)
			end := s.now()
			elapsed := end.Sub(start)
			t.recordScrape(out, end, elapsed)
			if s.story != nil {
				s.story.record(t, out, elapsed)
			}
			emitTarget(ch, t, out, elapsed)
		}()
	}
	wg.Wait()
	s.emitBackoff(ch)
}

// emitBackoff reports the back-off of each credential the scrape covered,
// and the expiry of its keys when known.
func (s *scrape) emitBackoff(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, t := range s.targets {
		credential, gate, info := t.backoffGate()
		if gate == nil || seen[credential] {
			continue
		}
		seen[credential] = true
		ch <- prometheus.MustNewConstMetric(credentialBackoffDesc, prometheus.GaugeValue, gate.Backoff().Seconds(), credential)
		emitCredentialExpiry(ch, credential, info)
	}
}

func emitTarget(ch chan<- prometheus.Metric, t *target, out outcome, elapsed time.Duration) {
	up := 0.0
	if out.err == nil {
		up = 1
		for _, m := range out.samples.metrics {
			ch <- m
		}
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, t.name, t.service)
	ch <- prometheus.MustNewConstMetric(collectDurationDesc, prometheus.GaugeValue, elapsed.Seconds(), t.name, t.service)
	if last := t.lastSuccessTime(); !last.IsZero() {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(last.UnixNano())/1e9, t.name, t.service)
	}
	if offset, ok := t.lastClockOffset(); ok {
		ch <- prometheus.MustNewConstMetric(clockOffsetDesc, prometheus.GaugeValue, offset.Seconds(), t.name, t.service)
	}
}
