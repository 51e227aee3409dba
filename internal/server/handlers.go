package server

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
)

// scrapeTimeoutHeader is where Prometheus says how long it will wait.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// routes mounts every endpoint; the status page serves "/".
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(s.opts.MetricsPath, s.limit(http.HandlerFunc(s.metricsHandler)))
	mux.Handle("/probe", s.limit(http.HandlerFunc(s.probe)))
	mux.HandleFunc("/sd", s.serviceDiscovery)
	mux.HandleFunc("/-/healthy", s.healthy)
	mux.HandleFunc("/-/ready", s.healthy)
	mux.HandleFunc("/-/reload", s.reloadConfig)
	if s.opts.MetricsPath != "/" {
		mux.Handle("/", newStatusPage(s.exporter, s.opts.Name, s.opts.MetricsPath, s.logger))
	}
	return mux
}

// metrics serves the exporter's own metrics and every target, polled now;
// with ?targets=none only the exporter's own, for setups that scrape the
// targets through /probe and must not poll them twice.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	switch v := r.URL.Query().Get("targets"); v {
	case "", "all":
	case "none":
		s.serveRegistry(w, r, nil)
		return
	default:
		http.Error(w, fmt.Sprintf("invalid targets parameter %q: use all (the default) or none", v), http.StatusBadRequest)
		return
	}
	ctx, cancel, err := s.scrapeContext(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer cancel()
	s.serveRegistry(w, r, s.exporter.Scrape(ctx))
}

// serveRegistry serves the exporter-wide metrics after those of scrape, a
// scrape's collector or nil.
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request, scrape prometheus.Collector) {
	var scrapes []prometheus.Collector
	if scrape != nil {
		scrapes = append(scrapes, scrape)
	}
	reg, err := s.metrics.registry(scrapes...)
	if err != nil {
		level.Error(s.logger).Log("msg", "Cannot register the exporter's metrics", "err", err)
		http.Error(w, "cannot register the exporter's metrics", http.StatusInternalServerError)
		return
	}
	s.serve(w, r, reg)
}

// probe serves one target: /probe?target=NAME.
func (s *Server) probe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("target")
	if name == "" {
		http.Error(w, "missing target parameter: use /probe?target=NAME with the name of a configured target", http.StatusBadRequest)
		return
	}
	ctx, cancel, err := s.scrapeContext(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer cancel()
	c, ok := s.exporter.ScrapeTarget(ctx, name)
	if !ok {
		http.Error(w, fmt.Sprintf("unknown target %q: it is not in the configuration", name), http.StatusBadRequest)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	s.serve(w, r, reg)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, g prometheus.Gatherer) {
	promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      log.New(kitlog.NewStdlibAdapter(level.Error(s.logger)), "", 0),
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// scrapeContext bounds a scrape by Prometheus's timeout minus the offset,
// so that the answer arrives before Prometheus gives up on it.
func (s *Server) scrapeContext(r *http.Request) (context.Context, context.CancelFunc, error) {
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
	if timeout > s.opts.TimeoutOffset {
		// An offset larger than the whole timeout would leave nothing;
		// then the full timeout is the better guess.
		timeout -= s.opts.TimeoutOffset
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	return ctx, cancel, nil
}

// limit answers 503 when --web.max-requests scrapes are already running.
func (s *Server) limit(next http.Handler) http.Handler {
	if s.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
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
func (s *Server) serviceDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	status := s.exporter.Status()
	groups := make([]sdGroup, 0, len(status))
	for _, t := range status {
		groups = append(groups, sdGroup{
			Targets: []string{t.Name},
			Labels:  map[string]string{"__meta_cloudquota_target": t.Name, "__meta_cloudquota_service": t.Service},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(groups); err != nil {
		level.Debug(s.logger).Log("msg", "Cannot write the service discovery answer", "err", err)
	}
}

func (s *Server) healthy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "OK")
}

func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed: use POST to reload the configuration", http.StatusMethodNotAllowed)
		return
	}
	if err := s.Reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload config, keeping the previous one: %v", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "configuration reloaded")
}
