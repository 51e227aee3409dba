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

// registry returns a new registry with the exporter-wide collectors and
// extra.
func (m *exporterMetrics) registry(extra ...prometheus.Collector) (*prometheus.Registry, error) {
	m.mu.Lock()
	cs := append(append([]prometheus.Collector(nil), m.collectors...), extra...)
	m.mu.Unlock()
	reg := prometheus.NewRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// check reports a collector that conflicts with another, at start-up
// rather than on the first scrape.
func (m *exporterMetrics) check() error {
	_, err := m.registry()
	return err
}
