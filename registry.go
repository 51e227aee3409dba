package main

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// exporterMetrics holds the exporter-wide collectors (build info, reload
// state, request counters, Go and process). It is a prometheus.Registerer
// for the packages that register them, and every /metrics request puts
// them in one fresh registry next to that scrape's targets: merging two
// registries with prometheus.Gatherers would check, hash and sort every
// sample twice.
type exporterMetrics struct {
	mu         sync.Mutex
	collectors []prometheus.Collector
}

// Register implements prometheus.Registerer; conflicts show in check.
func (m *exporterMetrics) Register(c prometheus.Collector) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.collectors = append(m.collectors, c)
	return nil
}

// MustRegister implements prometheus.Registerer.
func (m *exporterMetrics) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		m.Register(c) //nolint:errcheck // never fails
	}
}

// Unregister implements prometheus.Registerer.
func (m *exporterMetrics) Unregister(c prometheus.Collector) bool {
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
func (m *exporterMetrics) registry(scrape ...prometheus.Collector) (*prometheus.Registry, error) {
	m.mu.Lock()
	exporterWide := append([]prometheus.Collector(nil), m.collectors...)
	m.mu.Unlock()
	reg := prometheus.NewRegistry()
	if err := reg.Register(inOrder(append(scrape, exporterWide...))); err != nil {
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

// check reports a collector that conflicts with another, at start-up
// rather than on the first scrape.
func (m *exporterMetrics) check() error {
	_, err := m.registry()
	return err
}
