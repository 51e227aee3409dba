package server

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// exporterCollectors holds the exporter-wide collectors (build info, reload
// state, request counters, Go and process). It is the prometheus.Registerer
// that the packages registering them get, and every /metrics request puts
// them into one fresh registry after that scrape's targets: merging two
// registries with prometheus.Gatherers would also work (it gathers in
// order), but would check, hash and sort every sample twice.
type exporterCollectors struct {
	mu         sync.Mutex
	collectors []prometheus.Collector
}

// Register implements prometheus.Registerer: a collector that conflicts with
// those already registered is refused here, not on every later scrape.
func (m *exporterCollectors) Register(c prometheus.Collector) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := newScrapeRegistry(append(append([]prometheus.Collector(nil), m.collectors...), c)); err != nil {
		return err
	}
	m.collectors = append(m.collectors, c)
	return nil
}

// MustRegister implements prometheus.Registerer.
func (m *exporterCollectors) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := m.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister implements prometheus.Registerer.
func (m *exporterCollectors) Unregister(c prometheus.Collector) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, have := range m.collectors {
		if have == c {
			m.collectors = append(m.collectors[:i], m.collectors[i+1:]...)
			return true
		}
	}
	return false
}

// registry returns a new registry with the scrape's collectors and the
// exporter-wide ones, collected in that order: a registry collects its
// collectors concurrently, and the request counters and go_goroutines
// should tell the state after this scrape's polls, not half-way through.
func (m *exporterCollectors) registry(scrape ...prometheus.Collector) (*prometheus.Registry, error) {
	m.mu.Lock()
	all := append(scrape, m.collectors...)
	m.mu.Unlock()
	return newScrapeRegistry(all)
}

// newScrapeRegistry registers the collectors, run one after the other, in
// a new registry.
func newScrapeRegistry(collectors []prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(inOrder(collectors)); err != nil {
		return nil, err
	}
	return reg, nil
}

// inOrder is one collector that runs its collectors one after the other.
type inOrder []prometheus.Collector

// Describe sends every collector's descriptors.
func (o inOrder) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range o {
		c.Describe(ch)
	}
}

// Collect runs the collectors in order.
func (o inOrder) Collect(ch chan<- prometheus.Metric) {
	for _, c := range o {
		c.Collect(ch)
	}
}
