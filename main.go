// Command cloudquota_exporter is a Prometheus exporter for the quotas of
// Tencent Cloud Smart Media Hosting, Huawei Cloud Workspace and Huawei Cloud
// Trace Service: every scrape polls the clouds' quota APIs and turns the
// answers into labeled gauges.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/buildinfo"
	"github.com/cloudquota/cloudquota_exporter/internal/demo"
	"github.com/cloudquota/cloudquota_exporter/internal/logging"
	"github.com/cloudquota/cloudquota_exporter/internal/server"
)

const exporterName = "cloudquota_exporter"

// versionFile is the repository's VERSION file: the version of builds that
// -ldflags did not stamp (go build, go install, go run).
//
//go:embed VERSION
var versionFile string

func main() {
	buildinfo.Fill(versionFile)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the command line's settings.
type flags struct {
	configFile, metricsPath, logLevel, logFormat string
	configCheck, expandEnv, demo                 bool
	maxRequests, concurrency                     int
	timeoutOffset, demoDrift, autoReload         time.Duration
	toolkit                                      *web.FlagConfig
}

func parseFlags(args []string, stdout io.Writer) (*flags, error) {
	app := kingpin.New(exporterName, "Prometheus exporter for Tencent Cloud SMH, Huawei Cloud Workspace and Huawei Cloud Trace Service quotas.")
	f := &flags{}
	app.Flag("config.file", "Path of the configuration file.").Default("cloudquota.yml").StringVar(&f.configFile)
	app.Flag("config.check", "Validate the configuration file, print what is wrong, and exit.").BoolVar(&f.configCheck)
	app.Flag("config.expand-environment-variables", "Replace ${VAR} in the configuration file with the environment variable VAR.").BoolVar(&f.expandEnv)
	app.Flag("config.auto-reload-interval", "Re-read the configuration file and every secret file it names at this interval, and reload when any changed (picks up rotated Kubernetes Secrets). 0 turns it off.").Default("0s").DurationVar(&f.autoReload)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.metricsPath)
	app.Flag("web.max-requests", "Maximum number of /metrics and /probe requests served at once; more get 503. 0 means no limit.").Default("40").IntVar(&f.maxRequests)
	app.Flag("scrape.timeout-offset", "Subtracted from Prometheus's scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) so that the answer arrives in time.").Default("500ms").DurationVar(&f.timeoutOffset)
	app.Flag("scrape.concurrency", "Maximum number of upstream API requests in flight at once, across all targets and scrapes.").Default("8").IntVar(&f.concurrency)
	app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").EnumVar(&f.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").EnumVar(&f.logFormat, "logfmt", "json")
	app.Flag("demo", "Run against built-in simulated clouds on loopback with a built-in configuration; needs no cloud account.").BoolVar(&f.demo)
	app.Flag("demo.drift-period", "Period of the demo's slow usage drift.").Default("1h").DurationVar(&f.demoDrift)
	f.toolkit = kingpinflag.AddFlags(app, ":9784")
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	if _, err := app.Parse(args); err != nil {
		return nil, err
	}
	return f, nil
}

// run is the whole command, with its output streams given so that tests
// can read them; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", exporterName, err)
		return 2
	}
	if f.configCheck {
		return checkConfig(f.configFile, f.expandEnv, stdout, stderr)
	}
	if f.concurrency < 1 {
		fmt.Fprintf(stderr, "%s: --scrape.concurrency must be at least 1\n", exporterName)
		return 2
	}
	logger, slogger, err := logging.New(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "invalid logging flags: %v\n", err)
		return 1
	}
	level.Info(logger).Log("msg", "Starting "+exporterName, "version", version.Info())
	level.Info(logger).Log("msg", "Build context", "build_context", version.BuildContext())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	load := func() (*config.Config, error) { return config.Load(f.configFile, f.expandEnv) }
	configFile := f.configFile
	if f.demo {
		clouds, err := demo.Start(f.demoDrift)
		if err != nil {
			return fatal(logger, "Cannot start the simulated clouds", err)
		}
		defer clouds.Close()
		level.Info(logger).Log("msg", "Demo mode: polling simulated clouds on loopback; --config.file is ignored", "clouds", clouds.URL)
		load, configFile = clouds.Config, ""
	}

	srv, err := server.New(server.Options{
		Name:          exporterName,
		Load:          load,
		ConfigFile:    configFile,
		Logger:        logger,
		MetricsPath:   f.metricsPath,
		TimeoutOffset: f.timeoutOffset,
		MaxRequests:   f.maxRequests,
		Concurrency:   f.concurrency,
		LogRequests:   f.logLevel == "debug",
		UserAgent:     exporterName + "/" + version.Version,
	})
	if err != nil {
		return fatal(logger, "Cannot register the exporter's metrics", err)
	}
	targets, err := srv.Load()
	if err != nil {
		return fatal(logger, "Cannot load the configuration", err)
	}
	level.Info(logger).Log("msg", "Loaded configuration", "targets", targets)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go srv.ReloadOn(ctx, hup)
	go srv.AutoReload(ctx, f.autoReload)
	return serve(ctx, srv, f.toolkit, logger, slogger)
}

// shutdownGrace bounds a shutdown: scrapes in flight are answered with what
// they have at once, so this is only for slow readers.
const shutdownGrace = 1500 * time.Millisecond

// serve answers HTTP until ctx ends (SIGTERM or SIGINT), then shuts down.
func serve(ctx context.Context, srv *server.Server, toolkit *web.FlagConfig, logger log.Logger, slogger *slog.Logger) int {
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ErrorLog:          server.ErrorLog(logger),
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
	go func() { serveErr <- web.ListenAndServe(httpServer, toolkit, slogger) }()

	select {
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fatal(logger, "HTTP server failed", err)
		}
	case <-ctx.Done():
		level.Info(logger).Log("msg", "Shutting down")
		srv.Stop()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := httpServer.Shutdown(shutdownCtx); err != nil {
			level.Warn(logger).Log("msg", "Shutdown did not finish cleanly", "err", err)
		}
	}
	return 0
}

// checkConfig implements --config.check.
func checkConfig(path string, expandEnv bool, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path, expandEnv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if data, err := os.ReadFile(path); err == nil && !expandEnv {
		if names := config.EnvReferences(data); len(names) > 0 {
			fmt.Fprintf(stderr, "warning: config file %q refers to ${%s}, but --config.expand-environment-variables is not set, so it is taken literally\n",
				path, strings.Join(names, "}, ${"))
		}
	}
	fmt.Fprintf(stdout, "config file %q is valid: %d credentials, %d targets\n", path, len(cfg.Credentials), len(cfg.Targets))
	return 0
}

// fatal logs an error and returns the process exit status for it.
func fatal(logger log.Logger, msg string, err error) int {
	level.Error(logger).Log("msg", msg, "err", err)
	return 1
}
