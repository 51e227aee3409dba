// Package server is the exporter's HTTP face: /metrics, /probe, /sd, the
// health and reload endpoints and the status page, with the exporter-wide
// metrics and the scrape deadline. New wires the whole exporter (upstream
// client, collector, configuration holder) the same way for the command
// and for every test.
package server

import (
	"context"
	"fmt"
	stdlog "log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/cloudquota/cloudquota_exporter/collector"
	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Options are the settings of a Server, from the command line.
type Options struct {
	// Name is the program's name, for the landing page, the build info
	// metric and the upstream User-Agent.
	Name string
	// Load reads the configuration, at start-up and at every reload.
	Load func() (*config.Config, error)
	// ConfigFile is the file Load reads, watched by AutoReload; empty when
	// the configuration is built in (--demo).
	ConfigFile string
	Logger     log.Logger
	// MetricsPath is where /metrics is served (--web.telemetry-path).
	MetricsPath string
	// TimeoutOffset is subtracted from Prometheus's scrape timeout.
	TimeoutOffset time.Duration
	// MaxRequests bounds the /metrics and /probe requests served at once;
	// 0 means no bound.
	MaxRequests int
	// Concurrency bounds the upstream requests in flight at once.
	Concurrency int
	// LogRequests logs every upstream request at debug level
	// (--log.level=debug).
	LogRequests bool
	// UserAgent is sent upstream.
	UserAgent string
	// Transport replaces the upstream client's own; nil in production.
	Transport http.RoundTripper
}

// Server is the wired exporter: the collector behind the HTTP handlers and
// the configuration it reloads.
type Server struct {
	opts     Options
	logger   log.Logger
	exporter *collector.Exporter
	// metrics holds the exporter-wide collectors, on /metrics only.
	metrics *prometheus.Registry
	holder  *config.Holder
	// reloadMu serialises reloads from SIGHUP and POST /-/reload.
	reloadMu sync.Mutex
	// slots bounds /metrics and /probe requests served at once; refused
	// counts the requests turned away for want of one.
	slots   chan struct{}
	refused *prometheus.CounterVec
	// stopping ends when Stop is called: scrapes in flight are answered
	// with what they have.
	stopping context.Context
	stop     context.CancelFunc
	// errorLog is the logger's error level for the standard library's
	// *log.Logger users (promhttp, net/http).
	errorLog *stdlog.Logger
	handler  http.Handler
}

// New wires an exporter from opts. It loads no configuration: call Load.
func New(opts Options) (*Server, error) {
	if opts.MetricsPath == "" {
		opts.MetricsPath = "/metrics"
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	s := &Server{opts: opts, logger: opts.Logger, metrics: prometheus.NewRegistry()}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(opts.Name),
	} {
		if err := s.metrics.Register(c); err != nil {
			return nil, fmt.Errorf("cannot register the exporter's metrics: %w", err)
		}
	}
	client := upstream.New(upstream.Options{
		MaxConcurrent: opts.Concurrency,
		Observer:      collector.NewRequestCounter(s.metrics),
		Transport:     opts.Transport,
		UserAgent:     opts.UserAgent,
	})
	s.exporter = collector.New(client, log.With(opts.Logger, "component", "collector"))
	s.exporter.LogRequests(opts.LogRequests)
	s.holder = config.NewHolder(opts.Load, s.metrics)
	if opts.MaxRequests > 0 {
		s.slots = make(chan struct{}, opts.MaxRequests)
	}
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloudquota_exporter_requests_refused_total",
		Help: "Requests to /metrics or /probe answered 503 because --web.max-requests were already being served.",
	}, []string{"handler"})
	if err := s.metrics.Register(s.refused); err != nil {
		return nil, fmt.Errorf("cannot register the exporter's metrics: %w", err)
	}
	s.stopping, s.stop = context.WithCancel(context.Background())
	s.errorLog = ErrorLog(opts.Logger)
	s.handler = s.routes()
	return s, nil
}

// Handler serves every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Load reads the configuration and makes it the one scrapes use, and
// returns how many targets it has. A configuration that does not load
// leaves the running one in place.
func (s *Server) Load() (targets int, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := s.holder.Reload(); err != nil {
		return 0, err
	}
	cfg := s.holder.Config()
	s.exporter.Apply(cfg)
	return len(cfg.Targets), nil
}

// Reload is Load for a running exporter: it logs the result.
func (s *Server) Reload() error {
	_, err := s.Load()
	if err != nil {
		level.Error(s.logger).Log("msg", "Configuration reload failed; keeping the previous configuration", "err", err)
	} else {
		level.Info(s.logger).Log("msg", "Configuration reloaded")
	}
	return err
}

// ReloadOn reloads at every signal (SIGHUP in production) until ctx ends.
func (s *Server) ReloadOn(ctx context.Context, signals <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
			s.Reload() //nolint:errcheck // logged
		}
	}
}

// Stop ends every scrape in flight as its deadline would: the targets that
// have answered are served, the others are down, and their polls are
// cancelled. Scrapes that start later end at once. Call it on shutdown,
// before http.Server.Shutdown waits for the handlers.
func (s *Server) Stop() { s.stop() }

// ErrorLog is logger's error level as a standard library *log.Logger, for
// net/http's and promhttp's own messages (a TLS handshake error, say), so
// that they are structured and filtered like every other line.
func ErrorLog(logger log.Logger) *stdlog.Logger {
	return stdlog.New(lineLogger{level.Error(logger)}, "", 0)
}

// lineLogger logs each line written to it as one message. (go-kit's
// StdlibAdapter would take "http: TLS handshake error from 127.0.0.1:3456"
// for a file:line caller and keep only the rest as the message.)
type lineLogger struct{ logger log.Logger }

func (l lineLogger) Write(p []byte) (int, error) {
	l.logger.Log("msg", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// AutoReload re-reads the configuration file and every secret file it
// names at each interval, and reloads when any content changed, until ctx
// ends: the way a rotated Kubernetes Secret is picked up without a signal.
// A change is reloaded once two readings an interval apart agree, so that
// a file caught half written (by a shell redirect, say) is not loaded. A
// change that does not load is tried again at every interval and logged
// again only when its error changes.
func (s *Server) AutoReload(ctx context.Context, interval time.Duration) {
	if s.opts.ConfigFile == "" || interval <= 0 {
		return
	}
	last := config.ContentDigest(s.opts.ConfigFile, s.holder.Config())
	pending := last
	// failed is the error of a reload that failed, "" when the running
	// configuration is the file's: a failed one is tried again at every
	// interval (the secret file it names may appear later), and its error
	// logged again only when it changes.
	failed := ""
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		now := config.ContentDigest(s.opts.ConfigFile, s.holder.Config())
		if failed == "" {
			if now == last {
				continue
			}
			if now != pending {
				pending = now // still changing, or just changed: read it again
				continue
			}
			level.Info(s.logger).Log("msg", "Configuration files changed; reloading", "file", s.opts.ConfigFile)
		}
		files := s.holder.Config().Files()
		switch _, err := s.Load(); {
		case err == nil:
			level.Info(s.logger).Log("msg", "Configuration reloaded")
			failed = ""
		case err.Error() != failed:
			level.Error(s.logger).Log("msg", "Configuration reload failed; keeping the previous configuration", "err", err)
			failed = err.Error()
		}
		// The files as they were before the reload read them: a change
		// made while it ran is then seen at the next interval (a digest
		// taken after the reload would take it for what was loaded). Only
		// a configuration that names other files needs a digest of its own.
		last = now
		if !slices.Equal(files, s.holder.Config().Files()) {
			last = config.ContentDigest(s.opts.ConfigFile, s.holder.Config())
		}
		pending = last
	}
}

// Exporter is the collector the handlers serve, for tests that look at its
// state directly.
func (s *Server) Exporter() *collector.Exporter { return s.exporter }
