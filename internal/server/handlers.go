package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/cloudquota/cloudquota_exporter/collector"
)

// scrapeTimeoutHeader is where Prometheus says how long it will wait.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// routes mounts every endpoint; the status page serves "/".
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Only /metrics counts its requests in promhttp_metric_handler_*, as
	// node_exporter does; a probe's own health is its cloudquota_up.
	metrics := promhttp.InstrumentMetricHandler(s.metrics, http.HandlerFunc(s.metricsHandler))
	mux.Handle(s.opts.MetricsPath, readOnly(s.limit("metrics", metrics)))
	mux.Handle("/probe", readOnly(s.limit("probe", http.HandlerFunc(s.probe))))
	mux.Handle("/sd", readOnly(http.HandlerFunc(s.serviceDiscovery)))
	mux.Handle("/-/healthy", readOnly(http.HandlerFunc(s.healthy)))
	mux.Handle("/-/ready", readOnly(http.HandlerFunc(s.healthy)))
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
// scrape's samples or nil.
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request, scrape prometheus.Gatherer) {
	if scrape == nil {
		s.serve(w, r, s.metrics)
		return
	}
	s.serve(w, r, afterScrape{scrape: scrape, exporterWide: s.metrics})
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
	debug, err := debugParam(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var scrape *collector.Scrape
	var story *collector.ProbeStory
	var ok bool
	if debug {
		scrape, story, ok = s.exporter.DebugTarget(ctx, name)
	} else {
		scrape, ok = s.exporter.ScrapeTarget(ctx, name)
	}
	if !ok {
		http.Error(w, fmt.Sprintf("unknown target %q: it is not in the configuration", name), http.StatusBadRequest)
		return
	}
	if debug {
		serveDebug(w, scrape, story)
		return
	}
	s.serve(w, r, scrape)
}

// debugParam reads /probe's debug parameter, as blackbox_exporter's.
func debugParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("debug"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("invalid debug parameter %q: use true or false", v)
	}
}

// serveDebug writes the probe's story and then the metrics it gave, as
// text for a person to read.
func serveDebug(w http.ResponseWriter, g prometheus.Gatherer, story *collector.ProbeStory) {
	families, gatherErr := g.Gather()
	var metrics bytes.Buffer
	enc := expfmt.NewEncoder(&metrics, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			gatherErr = err
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, story.String())
	if gatherErr != nil {
		fmt.Fprintf(w, "Error gathering the metrics: %v\n", gatherErr)
	}
	fmt.Fprintf(w, "\nMetrics:\n%s", metrics.String())
}

// serve writes what g gathers in the format the scraper asks for:
// OpenMetrics when it prefers it (as Prometheus 3 does), else the classic
// text format.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, g prometheus.Gatherer) {
	promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          s.errorLog,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}).ServeHTTP(w, r)
}

// scrapeContext bounds a scrape by Prometheus's timeout minus the offset,
// so that the answer arrives before Prometheus gives up on it.
func (s *Server) scrapeContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	timeout := time.Duration(0)
	if v := r.Header.Get(scrapeTimeoutHeader); v != "" {
		seconds, err := strconv.ParseFloat(v, 64)
		// Written so that NaN fails too.
		if err != nil || !(seconds > 0 && seconds <= 1e6) {
			return nil, nil, fmt.Errorf("invalid %s header %q: want a positive number of seconds", scrapeTimeoutHeader, v)
		}
		timeout = time.Duration(seconds * float64(time.Second))
		if timeout > s.opts.TimeoutOffset {
			// An offset larger than the whole timeout would leave nothing;
			// then the full timeout is the better guess.
			timeout -= s.opts.TimeoutOffset
		}
	}
	// A shutdown ends the scrape like its deadline: the targets that have
	// answered are served, the others are down.
	ctx, cancel := context.WithCancel(r.Context())
	stopWatching := context.AfterFunc(s.stopping, cancel)
	if timeout > 0 {
		ctx, cancel = withTimeout(ctx, cancel, timeout)
	}
	return ctx, func() { stopWatching(); cancel() }, nil
}

// withTimeout bounds ctx by timeout; the returned cancel also calls
// parentCancel.
func withTimeout(ctx context.Context, parentCancel context.CancelFunc, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); parentCancel() }
}

// readOnly answers 405 to any method but GET and HEAD, before anything is
// polled: a CORS preflight or a stray POST must not cost API quota.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limit answers 503 when --web.max-requests scrapes are already running,
// and counts the refusal under the handler's name.
func (s *Server) limit(handler string, next http.Handler) http.Handler {
	if s.slots == nil {
		return next
	}
	refused := s.refused.WithLabelValues(handler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			next.ServeHTTP(w, r)
		default:
			refused.Inc()
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

func (s *Server) healthy(w http.ResponseWriter, _ *http.Request) {
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
