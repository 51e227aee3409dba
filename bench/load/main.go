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
	"slices"
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

func run(o options) int {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	root, err := benchutil.RepoRoot(o.repo)
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "cloudquota-load-")
	if err != nil {
		return fail(err)
	}
	if o.keep {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	step("building the exporter in " + root)
	bin, err := benchutil.BuildExporter(root, dir)
	if err != nil {
		return fail(err)
	}

	cloud := demo.NewCloud()
	if err := cloud.Start(); err != nil {
		return fail(fmt.Errorf("starting the simulated clouds: %w", err))
	}
	defer cloud.Close()
	v, err := buildVariants(cloud.URL)
	if err != nil {
		return fail(err)
	}
	for name, content := range map[string]string{
		"valid-a.yml": v.a.yaml, "valid-b.yml": v.b.yaml,
		"invalid-syntax.yml": v.badSyntax.yaml, "invalid-unknown-key.yml": v.badUnknown.yaml,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return fail(err)
		}
	}
	configPath := filepath.Join(dir, "cloudquota.yml")
	if err := writeAtomic(configPath, v.a.yaml); err != nil {
		return fail(err)
	}

	addr, err := freePort()
	if err != nil {
		return fail(err)
	}
	step(fmt.Sprintf("starting the exporter on %s against simulated clouds at %s", addr, cloud.URL))
	// The load is -clients scrapers that never pause; the exporter's
	// admission limit (--web.max-requests, default 40) would turn the
	// surplus away with 503, which is that limit working, not an error of
	// the scrape path under test. Unless the caller sets it, it is raised
	// to fit the clients.
	if !strings.Contains(o.exporterFlags.String(), "--web.max-requests") {
		o.exporterFlags = append(o.exporterFlags, fmt.Sprintf("--web.max-requests=%d", o.clients+10))
	}
	p, err := startExporter(bin, configPath, addr, o.exporterFlags)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if o.keep {
			os.WriteFile(filepath.Join(dir, "exporter.log"), []byte(p.log.String()), 0o600)
		}
	}()
	if err := p.waitReady(15 * time.Second); err != nil {
		return fail(err)
	}

	// Warm-up, then the baseline.
	step(fmt.Sprintf("warm-up: %d rounds", o.warmup))
	warm := &http.Client{Timeout: 15 * time.Second}
	for range o.warmup {
		if kind, detail := scrapeOnce(warm, p.base+"/metrics", len(v.targets)); kind != "" {
			return fail(fmt.Errorf("warm-up /metrics: %s: %s", kind, detail))
		}
		for _, t := range v.targets {
			if kind, detail := scrapeOnce(warm, p.base+"/probe?target="+t, -1); kind != "" {
				return fail(fmt.Errorf("warm-up /probe?target=%s: %s: %s", t, kind, detail))
			}
		}
	}
	warm.CloseIdleConnections()
	time.Sleep(time.Second)
	before, err := p.readStats()
	if err != nil {
		return fail(fmt.Errorf("baseline: %w", err))
	}
	countsBefore := cloud.Counts()
	sockets := func() conns { return tcpConns(p.cmd.Process.Pid, portOf(addr), portOf(cloud.URL)) }
	connsBefore := sockets()

	// Load.
	step(fmt.Sprintf("load: %d clients for %v, reload every %v, SIGHUP every %v", o.clients, o.duration, o.reloadInterval, o.sighupInterval))
	transport := &http.Transport{MaxIdleConns: 2 * o.clients, MaxIdleConnsPerHost: 2 * o.clients, IdleConnTimeout: 90 * time.Second}
	loadHTTP := &http.Client{Timeout: 15 * time.Second, Transport: transport}
	errs := newTally()
	stop := make(chan struct{})
	results := make([]clientResult, o.clients)
	var clients, helpers sync.WaitGroup
	loadStart := time.Now()
	for i := range o.clients {
		clients.Go(func() {
			results[i] = loadClient(loadHTTP, p.base, v.targets, len(v.targets), stop, errs)
		})
	}
	var rs *reloadStats
	var sighups int
	helpers.Go(func() { rs = reloader(p.base, configPath, v, o.reloadInterval, stop) })
	helpers.Go(func() { sighups = sighupper(p, o.sighupInterval, stop) })
	interrupted := false
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
		interrupted = true
	case <-p.exited:
	}
	close(stop)
	loadWindow := time.Since(loadStart)
	clients.Wait()
	helpers.Wait()
	drained := time.Since(loadStart)
	exporterDied := !p.running()

	// Leave config A in place, as at the baseline.
	if !exporterDied {
		rs.reload(p.base, configPath, v.a)
	}
	reloadClient.CloseIdleConnections()
	countsAfter := cloud.Counts()

	// Settle: drop the load's keep-alive connections (each holds a server
	// goroutine in the exporter), then read /metrics until the exporter has
	// completed two GC cycles since the first read after the load, and
	// goroutines stop moving. Two: a cycle in progress at that read may have
	// started during the load, and sync.Pool contents survive one cycle.
	// Without load the exporter allocates little and may not collect for
	// minutes, leaving the load's garbage in heap in-use; brisk reads (every
	// 50 ms, one at a time: ordinary light scraping) lead to its GC cycles.
	transport.CloseIdleConnections()
	var after stats
	var settleReadings []float64 // goroutines, every 500 ms after that GC
	settleStart := time.Now()
	var settleErr error
	var countsSettled map[string]int
	var apiSettled float64 // the exporter's cloudquota_api_requests_total then
	var connsAfter conns
	gcAfterLoad, nudges := false, 0
	var gcBase uint64 // GC cycles at the first read after the load
	for !exporterDied && time.Since(settleStart) < o.settle {
		if gcAfterLoad {
			time.Sleep(500 * time.Millisecond)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		s, err := p.readStats()
		if err != nil {
			settleErr = err
			continue
		}
		settleErr = nil
		if countsSettled == nil {
			countsSettled = cloud.Counts()
			apiSettled = s.apiRequests
			gcBase = s.gcCount
		}
		after = s
		connsAfter = sockets()
		if !gcAfterLoad {
			nudges++
			if gcAfterLoad = s.gcCount >= gcBase+2; !gcAfterLoad {
				continue
			}
		}
		settleReadings = append(settleReadings, s.goroutines)
		n := len(settleReadings)
		if n >= 3 && settleReadings[n-1] == settleReadings[n-2] && settleReadings[n-2] == settleReadings[n-3] {
			break
		}
	}
	settled := time.Since(settleStart)

	step("stopping the exporter with SIGTERM")
	exitCode, stopErr := p.stop(15 * time.Second)

	// Report.
	var lat = map[string][]time.Duration{}
	done := map[string]int{}
	for _, r := range results {
		for ep, l := range r.latencies {
			lat[ep] = append(lat[ep], l...)
			lat["all"] = append(lat["all"], l...)
		}
		for ep, n := range r.done {
			done[ep] += n
		}
	}
	for _, l := range lat {
		slices.Sort(l)
	}
	slices.Sort(rs.latencies)
	okMetrics, okProbe := len(lat[epMetrics]), len(lat[epProbe])
	scrapes := okMetrics + okProbe

	dataOps := []string{simcloud.OpSMHUsage, simcloud.OpWorkspaceQuotas, simcloud.OpCTSQuotas}
	delta := func(op string) int { return countsAfter[op] - countsBefore[op] }
	data := 0
	for _, op := range dataOps {
		data += delta(op)
	}
	metricsEquivalent := float64(okMetrics) + float64(okProbe)/float64(len(v.targets))

	fmt.Println()
	fmt.Println("=== cloudquota_exporter load-and-reload report ===")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(k string, format string, a ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("load duration", "%v (clients stopped at %v, in-flight requests drained by %v)", o.duration, loadWindow.Round(time.Millisecond), drained.Round(time.Millisecond))
	row("clients", "%d", o.clients)
	row("CPUs", "%d (GOMAXPROCS of the driver; the exporter, the simulated clouds and the clients share them)", runtime.GOMAXPROCS(0))
	if len(o.exporterFlags) > 0 {
		row("extra exporter flags", "%s", o.exporterFlags.String())
	}
	row("scrapes /metrics", "%d (%.0f/s), %d ok", done[epMetrics], float64(done[epMetrics])/drained.Seconds(), okMetrics)
	row("scrapes /probe", "%d (%.0f/s), %d ok", done[epProbe], float64(done[epProbe])/drained.Seconds(), okProbe)
	row("scrape errors", "%d", errs.total())
	for _, ep := range []string{epMetrics, epProbe, "all"} {
		row("latency "+ep+" p50 / p99 / max", "%v / %v / %v (successful requests)",
			percentile(lat[ep], 0.50).Round(10*time.Microsecond), percentile(lat[ep], 0.99).Round(10*time.Microsecond), percentile(lat[ep], 1).Round(10*time.Microsecond))
	}
	row("reloads ok (valid A/B)", "%d (config swap verified by /probe?target=%s: %d; check turned away by 503: %d)", rs.ok, extraTarget, rs.swapsVerified, rs.swapChecksTurnedAway)
	row("reloads failed as expected", "%d (invalid: HTTP 500)", rs.failedAsExpected)
	row("reloads unexpected", "%d", rs.unexpected.total())
	row("reload POST p50 / p99", "%v / %v", percentile(rs.latencies, 0.5).Round(10*time.Microsecond), percentile(rs.latencies, 0.99).Round(10*time.Microsecond))
	row("SIGHUPs sent", "%d", sighups)
	row("targets up before / after", "%d/%d / %d/%d; last reload successful after: %.0f", before.targetsUp, before.targets, after.targetsUp, after.targets, after.reloadOK)
	gcNote := fmt.Sprintf("2 GC cycles of the exporter after the load, %d reads in", nudges)
	if !gcAfterLoad {
		gcNote = fmt.Sprintf("NOT 2 GC cycles of the exporter after the load within -settle %v: heap in-use may include the load's garbage", o.settle)
	}
	row("settle", "%v; %s; goroutines then, every 500 ms: %v", settled.Round(100*time.Millisecond), gcNote, settleReadings)
	row("goroutines before / after", "%.0f / %.0f", before.goroutines, after.goroutines)
	gBefore, gAfter, gNet := before.goroutines, after.goroutines, connsBefore.ok && connsAfter.ok
	if gNet {
		gBefore, gAfter = connsBefore.netGoroutines(before.goroutines), connsAfter.netGoroutines(after.goroutines)
		row("  net of connections", "%.0f / %.0f (minus 2 per upstream keep-alive connection, 1 per inbound one; checked against -goroutine-slack)", gBefore, gAfter)
	}
	row("heap in-use before / after", "%s / %s (limit 2 x before + 4 MiB = %s)", mib(before.heapInuse), mib(after.heapInuse), mib(2*before.heapInuse+4<<20))
	row("GC goal before / after", "%s / %s (go_memstats_next_gc_bytes, ~2 x heap live at the last GC; min 4 MiB), last GC %s / %s before the reading",
		mib(before.nextGC), mib(after.nextGC), gcAge(before), gcAge(after))
	row("RSS before / after", "%s / %s", mib(before.rss), mib(after.rss))
	row("open fds before / after", "%.0f / %.0f", before.openFDs, after.openFDs)
	row("TCP conns before", "%s", connsBefore)
	row("TCP conns after", "%s", connsAfter)
	row("upstream data requests", "%d (smh usage %d, workspace %d, cts %d)", data, delta(simcloud.OpSMHUsage), delta(simcloud.OpWorkspaceQuotas), delta(simcloud.OpCTSQuotas))
	if scrapes > 0 {
		row("  per successful scrape", "%.3f", float64(data)/float64(scrapes))
		row("  per /metrics-equivalent", "%.3f (= data / (metrics + probes/%d); without poll sharing or cache: %d)", float64(data)/metricsEquivalent, len(v.targets), v.naiveRequests)
	}
	row("upstream token requests", "%d during the load, %d in all", delta(simcloud.OpSMHToken), countsAfter[simcloud.OpSMHToken])
	row("upstream auth failures", "%d", delta(simcloud.OpHuaweiAuthFailure))
	if countsSettled != nil {
		cloudTotal := 0
		for _, op := range append(dataOps, simcloud.OpSMHToken) {
			cloudTotal += countsSettled[op] - countsBefore[op]
		}
		row("cross-check", "exporter's cloudquota_api_requests_total +%.0f, simcloud +%d (baseline to first settle read)", apiSettled-before.apiRequests, cloudTotal)
	}
	row("exporter exit after SIGTERM", "%s", exitDescription(exitCode, stopErr))
	w.Flush()

	if lines := errs.lines(); len(lines) > 0 {
		fmt.Println("\nscrape errors by kind:")
		fmt.Println(strings.Join(lines, "\n"))
		if errs.get(epMetrics+": HTTP 503")+errs.get(epProbe+": HTTP 503") > 0 {
			fmt.Printf("  HTTP 503 is the exporter's --web.max-requests limit (default 40) turning away\n"+
				"  scrapes beyond it; with -clients %d, rerun with -exporter-flag=--web.max-requests=0\n"+
				"  (or a limit above -clients + 1) to load the exporter without its admission limit.\n", o.clients)
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
	if lines := logSummary(p.log.String()); len(lines) > 0 {
		fmt.Println(strings.Join(lines, "\n"))
	} else {
		fmt.Println("  (none)")
	}

	// Verdict.
	var failures []string
	if interrupted {
		failures = append(failures, "interrupted")
	}
	if exporterDied {
		failures = append(failures, fmt.Sprintf("the exporter died during the load: %v", p.err))
	}
	if n := errs.total(); n > 0 {
		failures = append(failures, fmt.Sprintf("%d scrape errors", n))
	}
	if n := rs.unexpected.total(); n > 0 {
		failures = append(failures, fmt.Sprintf("%d unexpected reload results", n))
	}
	if settleErr != nil {
		failures = append(failures, fmt.Sprintf("reading the exporter's metrics after the load: %v", settleErr))
	}
	if len(settleReadings) > 0 {
		if limit := gBefore + float64(o.goroutineSlack); gAfter > limit {
			what := "goroutines"
			if gNet {
				what = "goroutines net of connections"
			}
			failures = append(failures, fmt.Sprintf("%s after the load %.0f > baseline %.0f + %d", what, gAfter, gBefore, o.goroutineSlack))
		}
		if limit := 2*before.heapInuse + 4<<20; after.heapInuse > limit {
			failures = append(failures, fmt.Sprintf("heap in-use after the load %s > 2 x baseline %s + 4 MiB", mib(after.heapInuse), mib(before.heapInuse)))
		}
		if after.targets != len(v.targets) || after.targetsUp != after.targets || after.reloadOK != 1 {
			failures = append(failures, fmt.Sprintf("after the load: %d of %d targets up (want %d), last reload successful %.0f (want 1)", after.targetsUp, after.targets, len(v.targets), after.reloadOK))
		}
	} else if !exporterDied {
		failures = append(failures, "no reading of the exporter's metrics after the load")
	}
	if stopErr != nil || exitCode != 0 {
		failures = append(failures, "exporter exit after SIGTERM: "+exitDescription(exitCode, stopErr))
	}
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

func step(msg string) { fmt.Fprintln(os.Stderr, "load:", msg) }

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "load:", err)
	return 1
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

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
