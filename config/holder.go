package config

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Holder keeps the current configuration and replaces it on Reload, so that
// SIGHUP and POST /-/reload can swap it while scrapes read it. A scrape
// should call Config once and use that *Config throughout, so it sees one
// consistent file even if a reload happens meanwhile.
type Holder struct {
	load func() (*Config, error)
	now  func() time.Time // replaced in tests

	// reloadMu serializes reloads so the gauges always describe the
	// attempt whose result is in current.
	reloadMu sync.Mutex
	current  atomic.Pointer[Config]

	success   prometheus.Gauge
	timestamp prometheus.Gauge
}

// NewHolder returns a Holder that gets each configuration from load
// (typically a closure over Load with the flag values) and registers the
// reload gauges with reg, if reg is not nil. It does not load; call Reload
// for the first configuration.
func NewHolder(load func() (*Config, error), reg prometheus.Registerer) *Holder {
	h := &Holder{
		load: load,
		now:  time.Now,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cloudquota_exporter_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cloudquota_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	if reg != nil {
		reg.MustRegister(h.success, h.timestamp)
	}
	return h
}

// Reload loads the configuration. On success it replaces the current one
// as a whole; on failure the current one stays in use. Either way the
// reload gauges record the outcome. It returns the load error.
func (h *Holder) Reload() error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	c, err := h.load()
	if err != nil {
		h.success.Set(0)
		return err
	}
	if c == nil {
		// A nil config would make every later Config call look unloaded.
		c = &Config{Global: Global{Timeout: Duration(DefaultTimeout)}}
	}
	h.current.Store(c)
	h.success.Set(1)
	h.timestamp.Set(float64(h.now().UnixNano()) / 1e9)
	return nil
}

// Config returns the current configuration, or nil before the first
// successful Reload. The caller must not modify it.
func (h *Holder) Config() *Config {
	return h.current.Load()
}
