// Command load is a load-and-reload driver for cloudquota_exporter: it
// builds the exporter, runs it against the simulated clouds (in this
// process, on loopback), hammers /metrics and /probe with concurrent
// clients while the configuration file is swapped between two valid and two
// invalid contents and reloaded (POST /-/reload and SIGHUP), then checks
// that no scrape failed, every reload answered as expected, and goroutines
// and heap came back near their baseline.
//
//	go run ./bench/load -duration 30s -clients 50
//
// See bench/load/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
	"github.com/cloudquota/cloudquota_exporter/internal/demo"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	clients        int
	duration       time.Duration
	reloadInterval time.Duration
	sighupInterval time.Duration
	warmup         int
	settle         time.Duration
	goroutineSlack int
	repo           string
	keep           bool
	exporterFlags  stringList
}

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 50, "concurrent scrape clients")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "length of the load phase")
	flag.DurationVar(&o.reloadInterval, "reload-interval", 500*time.Millisecond, "time between two config swaps + POST /-/reload")
	flag.DurationVar(&o.sighupInterval, "sighup-interval", 3*time.Second, "time between two SIGHUPs during the load (Linux; 0 disables)")
	flag.IntVar(&o.warmup, "warmup", 3, "warm-up rounds before the baseline (each: one /metrics and one /probe per target)")
	flag.DurationVar(&o.settle, "settle", 20*time.Second, "how long to wait at most, after the load, for a GC of the exporter and for its goroutines to settle")
	flag.IntVar(&o.goroutineSlack, "goroutine-slack", 10, "goroutines allowed above the baseline after the load (net of connection goroutines where /proc tells them)")
	flag.StringVar(&o.repo, "repo", "", "repository `root` to build the exporter from (default: the directory of go env GOMOD)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, config files, exporter log)")
	flag.Var(&o.exporterFlags, "exporter-flag", "extra flag for the exporter, e.g. -exporter-flag=--web.max-requests=0 (repeatable)")
	flag.Parse()
	if o.clients < 1 || o.duration <= 0 || o.reloadInterval <= 0 {
		fmt.Fprintln(os.Stderr, "load: -clients, -duration and -reload-interval must be positive")
		os.Exit(2)
	}
	os.Exit(run(o))
}

// driver is one run: what it set up, then what each phase measured.
type driver struct {
	o          options
	dir        string
	cleanups   []func() // run in reverse order at the end
	cloud      *simcloud.Cloud
	v          *variants
	configPath string
	exp        *benchutil.Exporter

	// The baseline, after the warm-up.
	before       stats
	countsBefore map[string]int
	connsBefore  conns

	load   loadPhase
	settle settlePhase
	// The exit after SIGTERM.
	exitCode int
	stopErr  error
}

// loadPhase is what the load phase measured.
type loadPhase struct {
	results      []clientResult
	errs         *tally
	rs           *reloadStats
	sighups      int
	interrupted  bool
	exporterDied bool
	window       time.Duration // until the clients were told to stop
	drained      time.Duration // until the last request in flight ended
	countsAfter  map[string]int
	// transport is the clients' connection pool; the settle phase closes
	// its idle connections.
	transport *http.Transport
}

// settlePhase is what the settle phase read after the load.
type settlePhase struct {
	after         stats
	readings      []float64 // goroutines, every 500 ms after the GC cycles
	took          time.Duration
	err           error
	countsSettled map[string]int
	apiSettled    float64 // the exporter's cloudquota_api_requests_total then
	connsAfter    conns
	gcAfterLoad   bool
	nudges        int
}

func run(o options) int {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	d := &driver{o: o}
	defer d.cleanUp()
	if err := d.setUp(ctx); err != nil {
		return fail(err)
	}
	if err := d.warmUp(); err != nil {
		return fail(err)
	}
	d.runLoad(ctx)
	d.runSettle()
	step("stopping the exporter with SIGTERM")
	d.exitCode, d.stopErr = d.exp.Stop(15 * time.Second)
	d.report()
	return d.verdict()
}

func (d *driver) cleanUp() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
}

// setUp builds the exporter, starts the simulated clouds, writes the
// configuration files and starts the exporter on config A.
func (d *driver) setUp(ctx context.Context) error {
	root, err := benchutil.RepoRoot(d.o.repo)
	if err != nil {
		return err
	}
	if d.dir, err = os.MkdirTemp("", "cloudquota-load-"); err != nil {
		return err
	}
	if d.o.keep {
		fmt.Println("keeping", d.dir)
	} else {
		d.cleanups = append(d.cleanups, func() { os.RemoveAll(d.dir) })
	}
	step("building the exporter in " + root)
	bin, err := benchutil.BuildExporter(root, d.dir)
	if err != nil {
		return err
	}
	if err := d.startCloud(); err != nil {
		return err
	}
	return d.startExporter(ctx, bin)
}

// startCloud starts the demo's simulated clouds and writes the four
// configuration files for them, config A in place.
func (d *driver) startCloud() error {
	d.cloud = demo.NewCloud()
	if err := d.cloud.Start(); err != nil {
		return fmt.Errorf("starting the simulated clouds: %w", err)
	}
	d.cleanups = append(d.cleanups, func() { d.cloud.Close() })
	v, err := buildVariants(d.cloud.URL)
	if err != nil {
		return err
	}
	d.v = v
	for name, content := range map[string]string{
		"valid-a.yml": v.a.yaml, "valid-b.yml": v.b.yaml,
		"invalid-syntax.yml": v.badSyntax.yaml, "invalid-unknown-key.yml": v.badUnknown.yaml,
	} {
		if err := os.WriteFile(filepath.Join(d.dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	d.configPath = filepath.Join(d.dir, "cloudquota.yml")
	return writeAtomic(d.configPath, v.a.yaml)
}

// startExporter runs the exporter on a free port and waits until it is
// ready.
func (d *driver) startExporter(ctx context.Context, bin string) error {
	addr, err := benchutil.FreePort()
	if err != nil {
		return err
	}
	step(fmt.Sprintf("starting the exporter on %s against simulated clouds at %s", addr, d.cloud.URL))
	// The load is -clients scrapers that never pause; the exporter's
	// admission limit (--web.max-requests, default 40) would turn the
	// surplus away with 503, which is that limit working, not an error of
	// the scrape path under test. Unless the caller sets it, it is raised
	// to fit the clients.
	if !strings.Contains(d.o.exporterFlags.String(), "--web.max-requests") {
		d.o.exporterFlags = append(d.o.exporterFlags, fmt.Sprintf("--web.max-requests=%d", d.o.clients+10))
	}
	args := append([]string{"--config.file=" + d.configPath, "--log.level=warn"}, d.o.exporterFlags...)
	if d.exp, err = benchutil.Start(bin, addr, "", args...); err != nil {
		return err
	}
	d.cleanups = append(d.cleanups, func() {
		d.exp.Stop(15 * time.Second) //nolint:errcheck // only when the run ended early
		if d.o.keep {
			os.WriteFile(filepath.Join(d.dir, "exporter.log"), []byte(d.exp.Log()), 0o600)
		}
	})
	return d.exp.WaitReady(ctx, 15*time.Second)
}

// sockets counts the exporter's TCP connections now.
func (d *driver) sockets() conns {
	return tcpConns(d.exp.Pid, portOf(d.exp.Addr), portOf(d.cloud.URL))
}

// warmUp scrapes every endpoint a few times, then takes the baseline.
func (d *driver) warmUp() error {
	step(fmt.Sprintf("warm-up: %d rounds", d.o.warmup))
	warm := &http.Client{Timeout: 15 * time.Second}
	for range d.o.warmup {
		if kind, detail := scrapeOnce(warm, d.exp.Base+"/metrics", len(d.v.targets)); kind != "" {
			return fmt.Errorf("warm-up /metrics: %s: %s", kind, detail)
		}
		for _, t := range d.v.targets {
			if kind, detail := scrapeOnce(warm, d.exp.Base+"/probe?target="+t, -1); kind != "" {
				return fmt.Errorf("warm-up /probe?target=%s: %s: %s", t, kind, detail)
			}
		}
	}
	warm.CloseIdleConnections()
	time.Sleep(time.Second)
	var err error
	if d.before, err = readStats(d.exp); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	d.countsBefore = d.cloud.Counts()
	d.connsBefore = d.sockets()
	return nil
}

// runLoad runs the clients, the reloader and the SIGHUP sender for
// -duration, then leaves config A in place, as at the baseline.
func (d *driver) runLoad(ctx context.Context) {
	o, l := d.o, &d.load
	step(fmt.Sprintf("load: %d clients for %v, reload every %v, SIGHUP every %v", o.clients, o.duration, o.reloadInterval, o.sighupInterval))
	l.transport = &http.Transport{MaxIdleConns: 2 * o.clients, MaxIdleConnsPerHost: 2 * o.clients, IdleConnTimeout: 90 * time.Second}
	loadHTTP := &http.Client{Timeout: 15 * time.Second, Transport: l.transport}
	l.errs = newTally()
	stop := make(chan struct{})
	l.results = make([]clientResult, o.clients)
	var clients, helpers sync.WaitGroup
	loadStart := time.Now()
	for i := range o.clients {
		clients.Go(func() {
			l.results[i] = loadClient(loadHTTP, d.exp.Base, d.v.targets, len(d.v.targets), stop, l.errs)
		})
	}
	helpers.Go(func() { l.rs = reloader(d.exp.Base, d.configPath, d.v, o.reloadInterval, stop) })
	helpers.Go(func() { l.sighups = sighupper(d.exp, o.sighupInterval, stop) })
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
		l.interrupted = true
	case <-d.exp.Exited():
	}
	close(stop)
	l.window = time.Since(loadStart)
	clients.Wait()
	helpers.Wait()
	l.drained = time.Since(loadStart)
	l.exporterDied = d.exp.Alive() != nil

	if !l.exporterDied {
		l.rs.reload(d.exp.Base, d.configPath, d.v.a)
	}
	reloadClient.CloseIdleConnections()
	l.countsAfter = d.cloud.Counts()
}

// runSettle drops the load's keep-alive connections (each holds a server
// goroutine in the exporter), then reads /metrics until the exporter has
// completed two GC cycles since the first read after the load, and
// goroutines stop moving. Two: a cycle in progress at that read may have
// started during the load, and sync.Pool contents survive one cycle.
// Without load the exporter allocates little and may not collect for
// minutes, leaving the load's garbage in heap in-use; brisk reads (every
// 50 ms, one at a time: ordinary light scraping) lead to its GC cycles.
func (d *driver) runSettle() {
	d.load.transport.CloseIdleConnections()
	st := &d.settle
	start := time.Now()
	var gcBase uint64 // GC cycles at the first read after the load
	for !d.load.exporterDied && time.Since(start) < d.o.settle {
		if st.gcAfterLoad {
			time.Sleep(500 * time.Millisecond)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		s, err := readStats(d.exp)
		if st.err = err; err != nil {
			continue
		}
		if st.countsSettled == nil {
			st.countsSettled, st.apiSettled, gcBase = d.cloud.Counts(), s.apiRequests, s.gcCount
		}
		st.after, st.connsAfter = s, d.sockets()
		if !st.gcAfterLoad {
			st.nudges++
			if st.gcAfterLoad = s.gcCount >= gcBase+2; !st.gcAfterLoad {
				continue
			}
		}
		st.readings = append(st.readings, s.goroutines)
		n := len(st.readings)
		if n >= 3 && st.readings[n-1] == st.readings[n-2] && st.readings[n-2] == st.readings[n-3] {
			break
		}
	}
	st.took = time.Since(start)
}

// pool gathers the clients' latencies of successful requests, by endpoint
// and in all, and their finished requests by endpoint.
func (l *loadPhase) pool() (lat map[string][]time.Duration, done map[string]int) {
	lat, done = map[string][]time.Duration{}, map[string]int{}
	for _, r := range l.results {
		for ep, ds := range r.latencies {
			lat[ep] = append(lat[ep], ds...)
			lat["all"] = append(lat["all"], ds...)
		}
		for ep, n := range r.done {
			done[ep] += n
		}
	}
	return lat, done
}

// dataOps are the upstream requests that fetch quotas.
var dataOps = []string{simcloud.OpSMHUsage, simcloud.OpWorkspaceQuotas, simcloud.OpCTSQuotas}

// delta is how many more requests of op the cloud answered during the
// load than before it.
func (d *driver) delta(op string) int { return d.load.countsAfter[op] - d.countsBefore[op] }

// goroutines are the goroutines before and after the load, net of those
// that connections hold when /proc tells them (net).
func (d *driver) goroutines() (before, after float64, net bool) {
	before, after = d.before.goroutines, d.settle.after.goroutines
	if net = d.connsBefore.ok && d.settle.connsAfter.ok; net {
		before, after = d.connsBefore.netGoroutines(before), d.settle.connsAfter.netGoroutines(after)
	}
	return before, after, net
}

// report prints the table of figures, then the details by kind.
func (d *driver) report() {
	lat, done := d.load.pool()
	fmt.Println()
	fmt.Println("=== cloudquota_exporter load-and-reload report ===")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(k string, format string, a ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	d.reportLoad(row, lat, done)
	d.reportExporter(row)
	d.reportUpstream(row, len(lat[epMetrics]), len(lat[epProbe]))
	row("exporter exit after SIGTERM", "%s", exitDescription(d.exitCode, d.stopErr))
	w.Flush()
	d.reportDetails()
}

// rowFunc prints one row of the report's table.
type rowFunc func(k string, format string, a ...any)

// reportLoad prints the load, its scrapes and its reloads.
func (d *driver) reportLoad(row rowFunc, lat map[string][]time.Duration, done map[string]int) {
	o, l := d.o, &d.load
	okMetrics, okProbe := len(lat[epMetrics]), len(lat[epProbe])
	row("load duration", "%v (clients stopped at %v, in-flight requests drained by %v)", o.duration, l.window.Round(time.Millisecond), l.drained.Round(time.Millisecond))
	row("clients", "%d", o.clients)
	row("CPUs", "%d (GOMAXPROCS of the driver; the exporter, the simulated clouds and the clients share them)", runtime.GOMAXPROCS(0))
	if len(o.exporterFlags) > 0 {
		row("extra exporter flags", "%s", o.exporterFlags.String())
	}
	row("scrapes /metrics", "%d (%.0f/s), %d ok", done[epMetrics], float64(done[epMetrics])/l.drained.Seconds(), okMetrics)
	row("scrapes /probe", "%d (%.0f/s), %d ok", done[epProbe], float64(done[epProbe])/l.drained.Seconds(), okProbe)
	row("scrape errors", "%d", l.errs.total())
	p := func(ds []time.Duration, q float64) time.Duration {
		return benchutil.Percentile(ds, q).Round(10 * time.Microsecond)
	}
	for _, ep := range []string{epMetrics, epProbe, "all"} {
		row("latency "+ep+" p50 / p99 / max", "%v / %v / %v (successful requests)", p(lat[ep], 0.50), p(lat[ep], 0.99), p(lat[ep], 1))
	}
	rs := l.rs
	row("reloads ok (valid A/B)", "%d (config swap verified by /probe?target=%s: %d; check turned away by 503: %d)", rs.ok, extraTarget, rs.swapsVerified, rs.swapChecksTurnedAway)
	row("reloads failed as expected", "%d (invalid: HTTP 500)", rs.failedAsExpected)
	row("reloads unexpected", "%d", rs.unexpected.total())
	row("reload POST p50 / p99", "%v / %v", p(rs.latencies, 0.5), p(rs.latencies, 0.99))
	row("SIGHUPs sent", "%d", l.sighups)
}

// reportExporter prints the exporter's figures before and after the load.
func (d *driver) reportExporter(row rowFunc) {
	before, after, st := d.before, d.settle.after, &d.settle
	mib := benchutil.MiB
	row("targets up before / after", "%d/%d / %d/%d; last reload successful after: %.0f", before.targetsUp, before.targets, after.targetsUp, after.targets, after.reloadOK)
	gcNote := fmt.Sprintf("2 GC cycles of the exporter after the load, %d reads in", st.nudges)
	if !st.gcAfterLoad {
		gcNote = fmt.Sprintf("NOT 2 GC cycles of the exporter after the load within -settle %v: heap in-use may include the load's garbage", d.o.settle)
	}
	row("settle", "%v; %s; goroutines then, every 500 ms: %v", st.took.Round(100*time.Millisecond), gcNote, st.readings)
	row("goroutines before / after", "%.0f / %.0f", before.goroutines, after.goroutines)
	if gBefore, gAfter, net := d.goroutines(); net {
		row("  net of connections", "%.0f / %.0f (minus 2 per upstream keep-alive connection, 1 per inbound one; checked against -goroutine-slack)", gBefore, gAfter)
	}
	row("heap in-use before / after", "%s / %s (limit 2 x before + 4 MiB = %s)", mib(before.heapInuse), mib(after.heapInuse), mib(2*before.heapInuse+4<<20))
	row("GC goal before / after", "%s / %s (go_memstats_next_gc_bytes, ~2 x heap live at the last GC; min 4 MiB), last GC %s / %s before the reading",
		mib(before.nextGC), mib(after.nextGC), gcAge(before), gcAge(after))
	row("RSS before / after", "%s / %s", mib(before.rss), mib(after.rss))
	row("open fds before / after", "%.0f / %.0f", before.openFDs, after.openFDs)
	row("TCP conns before", "%s", d.connsBefore)
	row("TCP conns after", "%s", st.connsAfter)
}

// reportUpstream prints what the exporter asked of the simulated clouds.
func (d *driver) reportUpstream(row rowFunc, okMetrics, okProbe int) {
	data := 0
	for _, op := range dataOps {
		data += d.delta(op)
	}
	row("upstream data requests", "%d (smh usage %d, workspace %d, cts %d)", data, d.delta(simcloud.OpSMHUsage), d.delta(simcloud.OpWorkspaceQuotas), d.delta(simcloud.OpCTSQuotas))
	if scrapes := okMetrics + okProbe; scrapes > 0 {
		metricsEquivalent := float64(okMetrics) + float64(okProbe)/float64(len(d.v.targets))
		row("  per successful scrape", "%.3f", float64(data)/float64(scrapes))
		row("  per /metrics-equivalent", "%.3f (= data / (metrics + probes/%d); without poll sharing or cache: %d)", float64(data)/metricsEquivalent, len(d.v.targets), d.v.naiveRequests)
	}
	row("upstream token requests", "%d during the load, %d in all", d.delta(simcloud.OpSMHToken), d.load.countsAfter[simcloud.OpSMHToken])
	row("upstream auth failures", "%d", d.delta(simcloud.OpHuaweiAuthFailure))
	if settled := d.settle.countsSettled; settled != nil {
		cloudTotal := 0
		for _, op := range append(dataOps, simcloud.OpSMHToken) {
			cloudTotal += settled[op] - d.countsBefore[op]
		}
		row("cross-check", "exporter's cloudquota_api_requests_total +%.0f, simcloud +%d (baseline to first settle read)", d.settle.apiSettled-d.before.apiRequests, cloudTotal)
	}
}

// reportDetails prints the errors and reloads by kind and the exporter's
// log lines by level and message.
func (d *driver) reportDetails() {
	errs, rs, v := d.load.errs, d.load.rs, d.v
	if lines := errs.lines(); len(lines) > 0 {
		fmt.Println("\nscrape errors by kind:")
		fmt.Println(strings.Join(lines, "\n"))
		if errs.get(epMetrics+": HTTP 503")+errs.get(epProbe+": HTTP 503") > 0 {
			fmt.Printf("  HTTP 503 is the exporter's --web.max-requests limit (default 40) turning away\n"+
				"  scrapes beyond it; with -clients %d, rerun with -exporter-flag=--web.max-requests=0\n"+
				"  (or a limit above -clients + 1) to load the exporter without its admission limit.\n", d.o.clients)
		}
	}
	if lines := rs.unexpected.lines(); len(lines) > 0 {
		fmt.Println("\nunexpected reload results:")
		fmt.Println(strings.Join(lines, "\n"))
	}
	fmt.Println("\nreloads by file content:")
	for _, name := range []string{v.badSyntax.name, v.b.name, v.badUnknown.name, v.a.name} {
		fmt.Printf("%8d  %s\n", rs.byVariant[name], name)
	}
	fmt.Println("\nexporter log (--log.level=warn), lines by level and message:")
	if lines := logSummary(d.exp.Log()); len(lines) > 0 {
		fmt.Println(strings.Join(lines, "\n"))
	} else {
		fmt.Println("  (none)")
	}
}

// verdict prints PASS, or FAIL with each failure, and returns the exit
// status.
func (d *driver) verdict() int {
	failures := d.failures()
	fmt.Println()
	if len(failures) == 0 {
		fmt.Println("PASS")
		return 0
	}
	for _, f := range failures {
		fmt.Println("FAIL:", f)
	}
	return 1
}

// failures lists what went wrong: the run, the scrapes and reloads, and
// the exporter's state after the load.
func (d *driver) failures() []string {
	var failures []string
	l, st := &d.load, &d.settle
	if l.interrupted {
		failures = append(failures, "interrupted")
	}
	if l.exporterDied {
		failures = append(failures, fmt.Sprintf("the exporter died during the load: %v", d.exp.Alive()))
	}
	if n := l.errs.total(); n > 0 {
		failures = append(failures, fmt.Sprintf("%d scrape errors", n))
	}
	if n := l.rs.unexpected.total(); n > 0 {
		failures = append(failures, fmt.Sprintf("%d unexpected reload results", n))
	}
	if st.err != nil {
		failures = append(failures, fmt.Sprintf("reading the exporter's metrics after the load: %v", st.err))
	}
	if len(st.readings) > 0 {
		failures = append(failures, d.afterLoadFailures()...)
	} else if !l.exporterDied {
		failures = append(failures, "no reading of the exporter's metrics after the load")
	}
	if d.stopErr != nil || d.exitCode != 0 {
		failures = append(failures, "exporter exit after SIGTERM: "+exitDescription(d.exitCode, d.stopErr))
	}
	return failures
}

// afterLoadFailures checks goroutines, heap and targets after the load
// against the baseline.
func (d *driver) afterLoadFailures() []string {
	var failures []string
	before, after := d.before, d.settle.after
	if gBefore, gAfter, net := d.goroutines(); gAfter > gBefore+float64(d.o.goroutineSlack) {
		what := "goroutines"
		if net {
			what = "goroutines net of connections"
		}
		failures = append(failures, fmt.Sprintf("%s after the load %.0f > baseline %.0f + %d", what, gAfter, gBefore, d.o.goroutineSlack))
	}
	if limit := 2*before.heapInuse + 4<<20; after.heapInuse > limit {
		failures = append(failures, fmt.Sprintf("heap in-use after the load %s > 2 x baseline %s + 4 MiB", benchutil.MiB(after.heapInuse), benchutil.MiB(before.heapInuse)))
	}
	if n := len(d.v.targets); after.targets != n || after.targetsUp != after.targets || after.reloadOK != 1 {
		failures = append(failures, fmt.Sprintf("after the load: %d of %d targets up (want %d), last reload successful %.0f (want 1)", after.targetsUp, after.targets, n, after.reloadOK))
	}
	return failures
}

func step(msg string) { fmt.Fprintln(os.Stderr, "load:", msg) }

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "load:", err)
	return 1
}

func exitDescription(code int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("exit status %d", code)
}

// gcAge is how long before the reading of s the exporter's last GC ran.
func gcAge(s stats) string {
	if s.lastGC == 0 {
		return "never"
	}
	return s.at.Sub(time.Unix(0, int64(s.lastGC*1e9))).Round(100 * time.Millisecond).String()
}
