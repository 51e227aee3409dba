// Command cloudquota_exporter is a Prometheus exporter for the quotas of
// Tencent Cloud Smart Media Hosting, Huawei Cloud Workspace and Huawei Cloud
// Trace Service: every scrape polls the clouds' quota APIs and turns the
// answers into labeled gauges.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/cloudquota/cloudquota_exporter/collector"
	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/demo"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

const exporterName = "cloudquota_exporter"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.New(exporterName, "Prometheus exporter for Tencent Cloud SMH, Huawei Cloud Workspace and Huawei Cloud Trace Service quotas.")
	var (
		configFile    = app.Flag("config.file", "Path of the configuration file.").Default("cloudquota.yml").String()
		configCheck   = app.Flag("config.check", "Validate the configuration file, print what is wrong, and exit.").Bool()
		expandEnv     = app.Flag("config.expand-environment-variables", "Replace ${VAR} in the configuration file with the environment variable VAR.").Bool()
		metricsPath   = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		maxRequests   = app.Flag("web.max-requests", "Maximum number of /metrics and /probe requests served at once; more get 503. 0 means no limit.").Default("40").Int()
		timeoutOffset = app.Flag("scrape.timeout-offset", "Subtracted from Prometheus's scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) so that the answer arrives in time.").Default("500ms").Duration()
		concurrency   = app.Flag("scrape.concurrency", "Maximum number of upstream API requests in flight at once, across all targets and scrapes.").Default("8").Int()
		logLevel      = app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").Enum("debug", "info", "warn", "error")
		logFormat     = app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").Enum("logfmt", "json")
		demoMode      = app.Flag("demo", "Run against built-in simulated clouds on loopback with a built-in configuration; needs no cloud account.").Bool()
		demoDrift     = app.Flag("demo.drift-period", "Period of the demo's slow usage drift.").Default("1h").Duration()
	)
	toolkitFlags := kingpinflag.AddFlags(app, ":9784")
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	app.UsageWriter(os.Stdout)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", exporterName, err)
		return 2
	}

	if *configCheck {
		return checkConfig(*configFile, *expandEnv)
	}
	if *concurrency < 1 {
		fmt.Fprintf(os.Stderr, "%s: --scrape.concurrency must be at least 1\n", exporterName)
		return 2
	}

	logger, slogger, err := newLogger(os.Stderr, *logLevel, *logFormat)
	if err != nil {
		return fatal(nil, "invalid logging flags", err)
	}
	level.Info(logger).Log("msg", "Starting "+exporterName, "version", version.Info())
	level.Info(logger).Log("msg", "Build context", "build_context", version.BuildContext())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	load := func() (*config.Config, error) { return config.Load(*configFile, *expandEnv) }
	if *demoMode {
		clouds, err := demo.Start(*demoDrift)
		if err != nil {
			return fatal(logger, "Cannot start the simulated clouds", err)
		}
		defer clouds.Close()
		level.Info(logger).Log("msg", "Demo mode: polling simulated clouds on loopback; --config.file is ignored", "clouds", clouds.URL)
		load = clouds.Config
	}

	exporterReg := &exporterMetrics{}
	exporterReg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(exporterName),
	)
	client := upstream.New(upstream.Options{
		MaxConcurrent: *concurrency,
		Observer:      collector.NewRequestCounter(exporterReg),
		UserAgent:     exporterName + "/" + version.Version,
	})
	exporter := collector.New(client, log.With(logger, "component", "collector"))
	holder := config.NewHolder(load, exporterReg)
	reload := func() error {
		if err := holder.Reload(); err != nil {
			return err
		}
		exporter.Apply(holder.Config())
		return nil
	}
	if err := exporterReg.check(); err != nil {
		return fatal(logger, "Cannot register the exporter's metrics", err)
	}
	if err := reload(); err != nil {
		return fatal(logger, "Cannot load the configuration", err)
	}
	level.Info(logger).Log("msg", "Loaded configuration", "targets", len(holder.Config().Targets))

	reloadRequests := make(chan chan error)
	go reloadLoop(ctx, logger, reload, reloadRequests)
	requestReload := func() error {
		result := make(chan error, 1)
		select {
		case reloadRequests <- result:
			return <-result
		case <-ctx.Done():
			return errors.New("shutting down")
		}
	}

	mux := http.NewServeMux()
	landing := newStatusPage(exporter, *metricsPath, logger)
	newHandlers(exporter, exporterReg, logger, *timeoutOffset, *maxRequests, requestReload).register(mux, *metricsPath, landing)

	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for the slowest scrape Prometheus allows (its
		// timeout is bounded by its interval), short enough that a stuck
		// reader does not hold a connection for ever.
		WriteTimeout:   5 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(server, toolkitFlags, slogger) }()

	select {
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fatal(logger, "HTTP server failed", err)
		}
	case <-ctx.Done():
		level.Info(logger).Log("msg", "Shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := server.Shutdown(shutdownCtx); err != nil {
			level.Warn(logger).Log("msg", "Shutdown did not finish cleanly", "err", err)
		}
	}
	return 0
}

// reloadLoop serialises reloads from SIGHUP and POST /-/reload.
func reloadLoop(ctx context.Context, logger log.Logger, reload func() error, requests <-chan chan error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		var result chan error
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case result = <-requests:
		}
		err := reload()
		if err != nil {
			level.Error(logger).Log("msg", "Configuration reload failed; keeping the previous configuration", "err", err)
		} else {
			level.Info(logger).Log("msg", "Configuration reloaded")
		}
		if result != nil {
			result <- err
		}
	}
}

// checkConfig implements --config.check.
func checkConfig(path string, expandEnv bool) int {
	cfg, err := config.Load(path, expandEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("config file %q is valid: %d credentials, %d targets\n", path, len(cfg.Credentials), len(cfg.Targets))
	return 0
}
