package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"time"

	kitlog "github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cloudquota/cloudquota_exporter/collector"
)

// scrapeTimeoutHeader is where Prometheus says how long it will wait.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// handlers serves the exporter's HTTP endpoints.
type handlers struct {
	exporter      *collector.Exporter
	exporterReg   *exporterMetrics // exporter-wide metrics, on /metrics only
	logger        kitlog.Logger
	timeoutOffset time.Duration
	// reload asks the reload loop to reload and waits for its result.
	reload func() error
	// slots bounds /metrics and /probe requests served at once.
	slots chan struct{}
}

func newHandlers(e *collector.Exporter, exporterReg *exporterMetrics, logger kitlog.Logger, timeoutOffset time.Duration, maxRequests int, reload func() error) *handlers {
	h := &handlers{exporter: e, exporterReg: exporterReg, logger: logger, timeoutOffset: timeoutOffset, reload: reload}
	if maxRequests > 0 {
		h.slots = make(chan struct{}, maxRequests)
	}
	return h
}

// register mounts every endpoint on mux; landing serves "/".
func (h *handlers) register(mux *http.ServeMux, metricsPath string, landing http.Handler) {
	mux.Handle(metricsPath, h.limit(http.HandlerFunc(h.metrics)))
	mux.Handle("/probe", h.limit(http.HandlerFunc(h.probe)))
	mux.HandleFunc("/sd", h.serviceDiscovery)
	mux.HandleFunc("/-/healthy", h.healthy)
	mux.HandleFunc("/-/ready", h.healthy)
	mux.HandleFunc("/-/reload", h.reloadConfig)
	if metricsPath != "/" && landing != nil {
		mux.Handle("/", landing)
	}
}

// metrics serves the exporter's own metrics and every target, polled now;
// with ?targets=none only the exporter's own, for setups that scrape the
// targets through /probe and must not poll them twice.
func (h *handlers) metrics(w http.ResponseWriter, r *http.Request) {
	switch v := r.URL.Query().Get("targets"); v {
	case "", "all":
	case "none":
		h.serveRegistry(w, r, h.exporterReg.registry)
		return
	default:
		http.Error(w, fmt.Sprintf("invalid targets parameter %q: use all (the default) or none", v), http.StatusBadRequest)
		return
	}
	ctx, cancel, err := h.scrapeContext(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer cancel()
	h.serveRegistry(w, r, func(extra ...prometheus.Collector) (*prometheus.Registry, error) {
		return h.exporterReg.registry(append(extra, h.exporter.Scrape(ctx))...)
	})
}

// serveRegistry serves the registry that build returns.
func (h *handlers) serveRegistry(w http.ResponseWriter, r *http.Request, build func(...prometheus.Collector) (*prometheus.Registry, error)) {
	reg, err := build()
	if err != nil {
		level.Error(h.logger).Log("msg", "Cannot register the exporter's metrics", "err", err)
		http.Error(w, "cannot register the exporter's metrics", http.StatusInternalServerError)
		return
	}
	h.serve(w, r, reg)
}

// probe serves one target: /probe?target=NAME.
func (h *handlers) probe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("target")
	if name == "" {
		http.Error(w, "missing target parameter: use /probe?target=NAME with the name of a configured target", http.StatusBadRequest)
		return
	}
	ctx, cancel, err := h.scrapeContext(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer cancel()
	c, ok := h.exporter.ScrapeTarget(ctx, name)
	if !ok {
		http.Error(w, fmt.Sprintf("unknown target %q: it is not in the configuration", name), http.StatusBadRequest)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h.serve(w, r, reg)
}

func (h *handlers) serve(w http.ResponseWriter, r *http.Request, g prometheus.Gatherer) {
	promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      log.New(kitlog.NewStdlibAdapter(level.Error(h.logger)), "", 0),
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// scrapeContext bounds a scrape by Prometheus's timeout minus the offset,
// so that the answer arrives before Prometheus gives up on it.
func (h *handlers) scrapeContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	v := r.Header.Get(scrapeTimeoutHeader)
	if v == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	seconds, err := strconv.ParseFloat(v, 64)
	if err != nil || seconds <= 0 || seconds > 1e6 {
		return nil, nil, fmt.Errorf("invalid %s header %q: want a positive number of seconds", scrapeTimeoutHeader, v)
	}
	timeout := time.Duration(seconds * float64(time.Second))
	if timeout > h.timeoutOffset {
		// An offset larger than the whole timeout would leave nothing;
		// then the full timeout is the better guess.
		timeout -= h.timeoutOffset
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	return ctx, cancel, nil
}

// limit answers 503 when --web.max-requests scrapes are already running.
func (h *handlers) limit(next http.Handler) http.Handler {
	if h.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case h.slots <- struct{}{}:
			defer func() { <-h.slots }()
			next.ServeHTTP(w, r)
		default:
			http.Error(w, "too many scrapes in flight (--web.max-requests)", http.StatusServiceUnavailable)
		}
	})
}

// sdGroup is one target group of Prometheus's HTTP service discovery.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// serviceDiscovery lists the configured targets for Prometheus's
// http_sd_configs, one group per target, so that Prometheus scrapes
// /probe?target=NAME for each and several replicas can share them out
// with hashmod relabeling.
func (h *handlers) serviceDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	status := h.exporter.Status()
	groups := make([]sdGroup, 0, len(status))
	for _, t := range status {
		groups = append(groups, sdGroup{
			Targets: []string{t.Name},
			Labels:  map[string]string{"__meta_cloudquota_target": t.Name, "__meta_cloudquota_service": t.Service},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(groups); err != nil {
		level.Debug(h.logger).Log("msg", "Cannot write the service discovery answer", "err", err)
	}
}

func (h *handlers) healthy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "OK")
}

func (h *handlers) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed: use POST to reload the configuration", http.StatusMethodNotAllowed)
		return
	}
	if err := h.reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload config, keeping the previous one: %v", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "configuration reloaded")
}
