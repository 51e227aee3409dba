// Command scale measures how the exporter scales with the number of
// targets and series, upstream latency and --scrape.concurrency (issue
// "Performance and scale").
//
// It builds the exporter binary, starts a simulated cloud in-process with
// injected latency, writes a configuration for its targets, runs the
// binary on a free loopback port and scrapes /metrics as Prometheus would.
// It prints one markdown table row per scenario with the goals marked
// PASS or MISS. It exits non-zero only when the harness fails (the
// exporter does not start, a scrape fails, a target is down); a missed
// goal is reported, not enforced.
//
//	go run ./bench/scale                       # every scenario
//	go run ./bench/scale -scenario 100,ha      # some of them
//
// See bench/scale/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
)

var nan = math.NaN()

// options are the command-line flags.
type options struct {
	scenarios     string
	concurrency   string
	service       string
	resources     int
	sites         int
	scrapesDemo   int
	scrapes100    int
	scrapes1000   int
	latency100    time.Duration
	latency1000   time.Duration
	haTargets     int
	haLatency     time.Duration
	haInterval    time.Duration
	haCacheTTL    time.Duration
	haRounds      int
	haOffset      time.Duration
	haConcurrency int
	haTimeout     time.Duration
	customTargets int
	customLatency time.Duration
	customTTL     time.Duration
	customScrapes int
	targetTimeout time.Duration
	scrapeTimeout time.Duration
	idleWait      time.Duration
	exporterBin   string
	repo          string
	keep          bool
	quietWait     time.Duration
	scrapesFloor  int
	reference     bool
	referenceBin  string
	perf          string
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.StringVar(&o.scenarios, "scenario", "all", "scenarios to run, comma-separated: all (demo, 100, 1000, ha), demo, 100, 1000, ha, custom, floor")
	fs.StringVar(&o.concurrency, "concurrency", "8,64", "--scrape.concurrency values for the 100, 1000 and custom scenarios, comma-separated; one row each")
	fs.StringVar(&o.service, "service", "mix", "service of the targets: mix (round robin smh, workspace, cts), smh, workspace or cts")
	fs.IntVar(&o.resources, "resources", 10, "resources per target: Workspace resources per site, CTS resources, SMH spaces")
	fs.IntVar(&o.sites, "sites", 1, "Workspace sites per target (one request each)")
	fs.IntVar(&o.scrapesDemo, "scrapes.demo", 50, "measured scrapes of the demo scenario (after one warm-up scrape)")
	fs.IntVar(&o.scrapes100, "scrapes.100", 20, "measured scrapes of the 100-target scenario, per concurrency")
	fs.IntVar(&o.scrapes1000, "scrapes.1000", 5, "measured scrapes of the 1000-target scenario, per concurrency")
	fs.DurationVar(&o.latency100, "latency.100", 50*time.Millisecond, "upstream latency of the 100-target scenario")
	fs.DurationVar(&o.latency1000, "latency.1000", 100*time.Millisecond, "upstream latency of the 1000-target scenario")
	fs.IntVar(&o.haTargets, "ha.targets", 100, "targets of the HA scenario")
	fs.DurationVar(&o.haLatency, "ha.latency", 50*time.Millisecond, "upstream latency of the HA scenario")
	fs.DurationVar(&o.haInterval, "ha.interval", 2*time.Second, "scrape interval of each of the two HA scrapers")
	fs.DurationVar(&o.haCacheTTL, "ha.cache-ttl", 2*time.Second, "cache_ttl of the HA scenario")
	fs.IntVar(&o.haRounds, "ha.rounds", 5, "scrape intervals measured in the HA scenario")
	fs.DurationVar(&o.haOffset, "ha.offset", 0, "how much later than the first the second HA scraper scrapes in each interval (0: at the same instant)")
	fs.IntVar(&o.haConcurrency, "ha.concurrency", 8, "--scrape.concurrency of the HA scenario")
	fs.DurationVar(&o.haTimeout, "ha.scrape-timeout", 0, "X-Prometheus-Scrape-Timeout-Seconds of the HA scrapers (0: the interval, the most Prometheus allows)")
	fs.IntVar(&o.customTargets, "custom.targets", 300, "targets of the custom scenario")
	fs.DurationVar(&o.customLatency, "custom.latency", 50*time.Millisecond, "upstream latency of the custom scenario")
	fs.DurationVar(&o.customTTL, "custom.cache-ttl", 0, "cache_ttl of the custom scenario")
	fs.IntVar(&o.customScrapes, "custom.scrapes", 10, "measured scrapes of the custom scenario")
	fs.DurationVar(&o.targetTimeout, "target-timeout", 60*time.Second, "global.timeout written to the configuration (time allowed for one target's poll, including waiting for a request slot)")
	fs.DurationVar(&o.scrapeTimeout, "scrape-timeout", 60*time.Second, "X-Prometheus-Scrape-Timeout-Seconds of the sequential scrapes")
	fs.DurationVar(&o.idleWait, "idle-wait", 2*time.Second, "wait after the exporter is ready before reading its idle RSS")
	fs.StringVar(&o.exporterBin, "exporter", "", "use this exporter binary instead of building one")
	fs.StringVar(&o.repo, "repo", "", "repository root to build the exporter from (default: the module of the working directory)")
	fs.DurationVar(&o.quietWait, "quiet-wait", 0, "before each scenario, wait up to this long for the machine to be quiet (other processes under 10% of its CPU over 2s); 0: don't wait")
	fs.IntVar(&o.scrapesFloor, "scrapes.floor", 10, "measured scrapes of each process in the 1000-target rows of the floor scenario (the 100-target row takes -scrapes.100)")
	fs.BoolVar(&o.reference, "reference", true, "also run the reference client (bench/reference) on the same simulated cloud, scraping it alternately with the exporter (not in the HA scenario)")
	fs.StringVar(&o.referenceBin, "reference.bin", "", "use this reference client binary instead of building bench/reference")
	fs.StringVar(&o.perf, "perf", "", "record the exporter with `perf record -g` during each scenario's measured scrapes, into PREFIX-<scenario>-c<concurrency>.data")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, configurations, exporter logs)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.resources < 1 || o.sites < 1 {
		return nil, errors.New("-resources and -sites must be at least 1")
	}
	if o.haRounds < 1 || o.haInterval <= 0 || o.haOffset < 0 || o.haOffset >= o.haInterval {
		return nil, errors.New("-ha.rounds must be at least 1, and -ha.offset between 0 and -ha.interval")
	}
	return o, nil
}

// scenario is one table row: one simulated cloud, one exporter process.
type scenario struct {
	id          string // demo, 100, 1000, ha, custom
	targets     int
	latency     time.Duration
	concurrency int
	cacheTTL    time.Duration
	scrapes     int // sequential scrapes measured (not HA)
	// HA: two scrapers, rounds intervals.
	ha       bool
	interval time.Duration
	rounds   int
	offset   time.Duration
	// scrapeTimeout is what each HA scraper sends as its scrape timeout.
	scrapeTimeout time.Duration
	// limitGoal: the p50 / physical limit goal applies.
	limitGoal bool
	// service and resources override -service and -resources (floor).
	service   string
	resources int
	// floor names the goal of issue "Close to the floor" that the row is
	// for: cpu, p50 or rss; empty outside the floor scenario.
	floor string
}

// slug names the scenario's files.
func (s scenario) slug() string {
	if s.floor != "" {
		return fmt.Sprintf("floor-%s-c%d", s.floor, s.concurrency)
	}
	return fmt.Sprintf("%s-c%d", s.id, s.concurrency)
}

func (s scenario) name() string {
	switch {
	case s.ha:
		return fmt.Sprintf("ha (2 scrapers, every %s, cache_ttl %s)", s.interval, s.cacheTTL)
	case s.id == "demo":
		return "demo"
	case s.floor != "":
		return fmt.Sprintf("floor %s: %s targets × %d %s", s.floor, s.id, s.resources, s.service)
	}
	return fmt.Sprintf("%s targets", s.id)
}

// scenarios expands -scenario into rows, in a fixed order.
func (o *options) scenarioList() ([]scenario, error) {
	var concs []int
	for _, f := range strings.Split(o.concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-concurrency: %q is not a positive integer", f)
		}
		concs = append(concs, n)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(o.scenarios, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "all":
			want["demo"], want["100"], want["1000"], want["ha"] = true, true, true, true
		case "demo", "100", "1000", "ha", "custom", "floor":
			want[s] = true
		default:
			return nil, fmt.Errorf("-scenario: unknown scenario %q (want all, demo, 100, 1000, ha, custom or floor)", s)
		}
	}
	var out []scenario
	if want["demo"] {
		out = append(out, scenario{id: "demo", targets: 3, concurrency: 8, scrapes: o.scrapesDemo})
	}
	for _, sz := range []struct {
		id      string
		targets int
		latency time.Duration
		scrapes int
	}{{"100", 100, o.latency100, o.scrapes100}, {"1000", 1000, o.latency1000, o.scrapes1000}, {"custom", o.customTargets, o.customLatency, o.customScrapes}} {
		if !want[sz.id] {
			continue
		}
		for _, c := range concs {
			sc := scenario{id: sz.id, targets: sz.targets, latency: sz.latency, concurrency: c, scrapes: sz.scrapes, limitGoal: sz.id != "custom"}
			if sz.id == "custom" {
				sc.cacheTTL = o.customTTL
				sc.id = strconv.Itoa(sz.targets)
			}
			out = append(out, sc)
		}
	}
	if want["floor"] {
		out = append(out, o.floorScenarios()...)
	}
	if want["ha"] {
		timeout := o.haTimeout
		if timeout <= 0 {
			timeout = o.haInterval
		}
		out = append(out, scenario{id: "ha", targets: o.haTargets, latency: o.haLatency, concurrency: o.haConcurrency,
			cacheTTL: o.haCacheTTL, ha: true, interval: o.haInterval, rounds: o.haRounds, offset: o.haOffset, scrapeTimeout: timeout})
	}
	for i := range out {
		if out[i].service == "" {
			out[i].service, out[i].resources = o.service, o.resources
		}
	}
	for _, s := range out {
		if s.targets < 1 || (!s.ha && s.scrapes < 1) {
			return nil, fmt.Errorf("scenario %s: targets and scrapes must be at least 1", s.name())
		}
	}
	return out, nil
}

// floorScenarios are the rows that issue "Close to the floor" names: its
// CPU profile's 1000 × 10 at 100 ms and concurrency 64 (also the peak RSS
// at about 25,000 series), 100 targets at 50 ms with concurrency 100 (the
// p50 goal), and 1000 Workspace targets × 5 resources, 10,000 series (the
// peak RSS goal). They fix their service, size and latency; -scrapes.floor
// and -scrapes.100 set their length.
func (o *options) floorScenarios() []scenario {
	return []scenario{
		{id: "1000", targets: 1000, latency: 100 * time.Millisecond, concurrency: 64, scrapes: o.scrapesFloor, limitGoal: true, service: "mix", resources: 10, floor: "cpu"},
		{id: "100", targets: 100, latency: 50 * time.Millisecond, concurrency: 100, scrapes: o.scrapes100, limitGoal: true, service: "mix", resources: 10, floor: "p50"},
		{id: "1000", targets: 1000, latency: 100 * time.Millisecond, concurrency: 64, scrapes: o.scrapesFloor, limitGoal: true, service: "workspace", resources: 5, floor: "rss"},
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "scale:", err)
		return 2
	}
	list, err := o.scenarioList()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		return 2
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		fmt.Fprintln(os.Stderr, "scale: needs Linux /proc to read the exporter's CPU time and RSS:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "cloudquota-scale-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		return 1
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "scale: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bins, err := buildBinaries(o, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		return 1
	}

	var rows []*row
	failed := false
	for _, sc := range list {
		fmt.Fprintf(os.Stderr, "scale: scenario %s: %d targets, latency %s, concurrency %d ...\n", sc.id, sc.targets, sc.latency, sc.concurrency)
		if o.quietWait > 0 {
			if err := waitQuiet(ctx, o.quietWait); err != nil {
				fmt.Fprintln(os.Stderr, "scale:   WARNING:", err)
			}
		}
		started := time.Now()
		r, err := runScenario(ctx, o, bins, dir, sc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "scale: %s, concurrency %d: HARNESS ERROR: %v\n", sc.name(), sc.concurrency, err)
			failed = true
			if ctx.Err() != nil {
				break
			}
			continue
		}
		r.evaluate()
		if share := r.foreignShare(); share > 0.05 {
			fmt.Fprintf(os.Stderr, "scale:   WARNING: other processes used %.0f%% of the machine's CPU during the measurement; durations are skewed\n", 100*share)
		}
		fmt.Fprintf(os.Stderr, "scale:   done in %s: p50 %s, %s\n", time.Since(started).Round(100*time.Millisecond), fmtDur(r.p50), r.verdict())
		rows = append(rows, r)
	}
	printReport(os.Stdout, o, args, rows)
	if failed {
		return 1
	}
	return 0
}

// binaries are the programs a scenario runs; reference is empty when the
// reference client is off.
type binaries struct{ exporter, reference string }

// buildBinaries is -exporter and -reference.bin, or the programs built
// into dir from the repository.
func buildBinaries(o *options, dir string) (binaries, error) {
	b := binaries{exporter: o.exporterBin}
	if o.reference {
		b.reference = o.referenceBin
	}
	if b.exporter != "" && (!o.reference || b.reference != "") {
		return b, nil
	}
	root, err := benchutil.RepoRoot(o.repo)
	if err != nil {
		return b, err
	}
	if b.exporter == "" {
		fmt.Fprintf(os.Stderr, "scale: building the exporter in %s\n", root)
		if b.exporter, err = benchutil.BuildExporter(root, dir); err != nil {
			return b, err
		}
	}
	if o.reference && b.reference == "" {
		b.reference, err = benchutil.BuildPackage(root, dir, "./bench/reference", "reference")
	}
	return b, err
}

// runScenario runs one scenario against a fresh cloud and exporter.
func runScenario(ctx context.Context, o *options, bins binaries, dir string, sc scenario) (*row, error) {
	f, err := startFleet(fleetSpec{service: sc.service, targets: sc.targets, resources: sc.resources, sites: o.sites, latency: sc.latency})
	if err != nil {
		return nil, err
	}
	defer f.close()
	base := filepath.Join(dir, sc.slug())
	exp, err := startExporter(ctx, o, bins.exporter, base, sc, f)
	if err != nil {
		return nil, err
	}
	defer exp.Stop(10 * time.Second) //nolint:errcheck // the figures are taken
	fmt.Fprintf(os.Stderr, "scale:   exporter pid %d on %s, simulated cloud on %s\n", exp.Pid, exp.Base, f.cloud.URL)
	m := &measurement{exp: exp, f: f, sc: sc, r: &row{sc: sc, expectedRequests: f.expectedRequests, expectedSeries: f.expectedSeries}}
	if bins.reference != "" && !sc.ha {
		if m.ref, err = startReference(ctx, bins.reference, base+"-reference", sc, f, o.scrapeTimeout); err != nil {
			return nil, err
		}
		defer m.ref.proc.Stop(10 * time.Second) //nolint:errcheck // the figures are taken
		m.r.ref = &m.ref.row
	}

	if err := sleep(ctx, o.idleWait); err != nil {
		return nil, err
	}
	if m.r.memIdle, err = memory(exp.Pid); err != nil {
		return nil, err
	}
	m.r.rssIdle = m.r.memIdle.rss
	// The warm-up, the sequential scrapes and the final HA scrape get the
	// generous timeout; the HA pair gets its own (runHA).
	m.s = newScraper(exp.Base, o.scrapeTimeout)
	if err := m.warmUp(ctx); err != nil {
		return nil, err
	}
	if err := m.ref.warmUp(ctx, m.f, sc.targets); err != nil {
		return nil, err
	}
	stopPerf, err := startPerf(o.perf, sc, exp.Pid)
	if err != nil {
		return nil, err
	}
	err = m.measure(ctx)
	if perr := stopPerf(); err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	if err := m.finish(ctx); err != nil {
		return nil, err
	}
	return m.r, nil
}

// measurement is one scenario's exporter and cloud, and what the phases
// of runScenario measured so far.
type measurement struct {
	exp *benchutil.Exporter
	f   *fleet
	sc  scenario
	s   *scraper
	r   *row

	// ref is the reference client scraped alternately with the exporter;
	// nil when off or in the HA scenario.
	ref *side
	// tally is what the cloud saw during the exporter's measured
	// sequential scrapes, counted scrape by scrape so that the reference
	// client's requests in between are not the exporter's.
	tally tally

	warmEnd    time.Time
	counts1    map[string]int // the cloud's counts after the warm-up
	counts2    map[string]int // and after the measured scrapes
	cpu0, cpu1 cpuSample      // before and after the measured scrapes
	results    []scrapeResult
}

// warmUp scrapes once, which polls every target and fetches the tokens.
func (m *measurement) warmUp(ctx context.Context) error {
	counts0 := m.f.cloud.Counts()
	warm, err := m.s.scrape(ctx)
	if err != nil {
		return fmt.Errorf("warm-up: %w (%v)", err, m.exp.Alive())
	}
	m.warmEnd = time.Now()
	if err := warm.check(m.sc.targets); err != nil {
		return fmt.Errorf("warm-up: %w; exporter log:\n%s", err, m.exp.LogTail(10))
	}
	m.r.warmDuration = warm.duration
	m.r.goroutinesBefore, m.r.heapBefore = warm.goroutines, warm.heapInuse
	m.counts1 = m.f.cloud.Counts()
	m.r.warmTokens = m.counts1[simcloud.OpSMHToken] - counts0[simcloud.OpSMHToken]
	return nil
}

// measure runs the measured scrapes (or the HA pair), sampling CPU before
// and after and the exporter's memory after.
func (m *measurement) measure(ctx context.Context) error {
	sc, r := m.sc, m.r
	m.f.probe.reset(sc.ha)
	var err error
	if m.cpu0, err = sample(m.exp.Pid, m.ref.pid()); err != nil {
		return err
	}
	wall0 := time.Now()
	if sc.ha {
		m.results, err = runHA(ctx, m.exp.Base, sc, m.warmEnd, r, m.f)
	} else {
		err = m.alternate(ctx)
	}
	if err != nil {
		return err
	}
	if m.cpu1, err = sample(m.exp.Pid, m.ref.pid()); err != nil {
		return err
	}
	// CPU the rest of the machine used meanwhile: anything else running
	// competes for the same cores and skews durations.
	c0, c1 := m.cpu0, m.cpu1
	r.foreignCPU = max(0, (c1.busy-c0.busy)-(c1.exporter-c0.exporter)-(c1.ref-c0.ref)-(c1.self-c0.self))
	r.harnessCPU = c1.self - c0.self
	r.refCPU = c1.ref - c0.ref
	r.measureWall = time.Since(wall0)
	if r.memAfter, err = memory(m.exp.Pid); err != nil {
		return err
	}
	r.rssAfter, r.rssPeak = r.memAfter.rss, r.memAfter.peak
	m.counts2 = m.f.cloud.Counts()
	if n := m.counts2[simcloud.OpHuaweiAuthFailure]; n > 0 {
		return fmt.Errorf("the simulated gateway refused %d signatures", n)
	}
	return nil
}

// finish derives the row's figures from the measured scrapes.
func (m *measurement) finish(ctx context.Context) error {
	sc, r, results := m.sc, m.r, m.results
	n := len(results)
	r.scrapes = n
	durations := make([]time.Duration, n)
	for i, res := range results {
		durations[i] = res.duration
	}
	r.p50, r.p99 = benchutil.Percentile(durations, 0.50), benchutil.Percentile(durations, 0.99)
	r.timeline = timelineOf(results)
	last := results[n-1]
	if sc.ha {
		// The last scrapes of the pair overlapped; one more, alone, once
		// the second scraper's connection is gone, shows what stays.
		var err error
		if last, err = m.s.scrape(ctx); err == nil {
			err = last.check(sc.targets)
		}
		if err != nil {
			return fmt.Errorf("final scrape: %w", err)
		}
	}
	r.series = last.quotaSamples
	if r.series != r.expectedSeries {
		// Not a harness failure: the exporter answered; the report shows it.
		fmt.Fprintf(os.Stderr, "scale:   WARNING: %d quota samples, want %d\n", r.series, r.expectedSeries)
	}
	r.bodyBytes = last.bytes
	r.goroutinesAfter, r.heapAfter = last.goroutines, last.heapInuse
	r.nextGCFirst, r.nextGCLast = results[0].nextGC, last.nextGC
	m.fillRequests()
	r.cpuPerScrape = (m.cpu1.exporter - m.cpu0.exporter) / float64(n)
	r.harnessCPU /= float64(n)
	r.peakInflight, r.newConns, _ = m.f.probe.snapshot()
	if !sc.ha {
		r.peakInflight, r.newConns = m.tally.peak, m.tally.newConns
	}
	r.warnLogs = warnLines(m.exp.Log())
	return m.ref.finish(r)
}

// fillRequests derives the request figures and the physical limit: the
// scrape cannot be faster than its requests, concurrency at a time, each
// taking the injected latency.
func (m *measurement) fillRequests() {
	sc, r := m.sc, m.r
	r.dataRequests = dataRequests(m.counts2) - dataRequests(m.counts1)
	r.tokensAfterWarm = m.counts2[simcloud.OpSMHToken] - m.counts1[simcloud.OpSMHToken]
	if !sc.ha {
		r.dataRequests, r.tokensAfterWarm = m.tally.data, m.tally.tokens
	}
	r.reqPerScrape = float64(r.dataRequests) / float64(r.scrapes)
	r.limit, r.ratio = 0, nan
	if sc.latency > 0 && r.reqPerScrape > 0 && !sc.ha {
		r.limit = time.Duration(math.Ceil(r.reqPerScrape/float64(sc.concurrency))) * sc.latency
		r.ratio = float64(r.p50) / float64(r.limit)
	}
}

// runHA runs two scrapers against the exporter, each scraping once per
// interval for sc.rounds intervals, the second sc.offset after the first,
// and counts the polls of each target in each interval from the cloud's
// request log.
func runHA(ctx context.Context, base string, sc scenario, warmEnd time.Time, r *row, f *fleet) ([]scrapeResult, error) {
	// Start once the warm-up's answer has aged out of the cache, so that
	// the first interval polls.
	start := warmEnd.Add(sc.cacheTTL)
	if now := time.Now(); start.Before(now) {
		start = now
	}
	start = start.Add(50 * time.Millisecond)
	type out struct {
		results []scrapeResult
		err     error
	}
	done := make(chan out, 2)
	for i, offset := range []time.Duration{0, sc.offset} {
		go func() {
			s := newScraper(base, sc.scrapeTimeout)
			var o out
			for k := 0; k < sc.rounds && o.err == nil; k++ {
				if o.err = sleep(ctx, time.Until(start.Add(time.Duration(k)*sc.interval+offset))); o.err != nil {
					break
				}
				var res scrapeResult
				if res, o.err = s.scrape(ctx); o.err == nil {
					if o.err = res.check(sc.targets); o.err != nil {
						o.err = fmt.Errorf("scraper %d, interval %d: %w", i+1, k+1, o.err)
					}
					o.results = append(o.results, res)
				}
			}
			s.client.CloseIdleConnections()
			done <- o
		}()
	}
	var all []scrapeResult
	var errs []error
	for range 2 {
		o := <-done
		all = append(all, o.results...)
		errs = append(errs, o.err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	_, _, events := f.probe.snapshot()
	perKeyInterval := map[string]int{}
	for _, ev := range events {
		k := int(ev.at.Sub(start) / sc.interval)
		perKeyInterval[fmt.Sprintf("%s#%d", ev.key, k)]++
	}
	maxPolls := 0
	for _, v := range perKeyInterval {
		maxPolls = max(maxPolls, v)
	}
	r.haPollsMean = float64(len(events)) / float64(f.expectedRequests*sc.rounds)
	r.haPollsMax = maxPolls
	// Durations are pooled; the scraper that finished last comes last, so
	// the last result is the latest scrape (the "after" figures).
	return all, nil
}

// waitQuiet waits until the machine's CPU, less the harness's own, is
// under 10% busy over 2 seconds, or until limit has passed.
func waitQuiet(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	share := 0.0
	for time.Now().Before(deadline) {
		s0, err0 := sample(0, 0)
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		s1, err1 := sample(0, 0)
		if err := errors.Join(err0, err1); err != nil {
			return err
		}
		share = ((s1.busy - s0.busy) - (s1.self - s0.self)) / (2 * float64(runtime.NumCPU()))
		if share < 0.10 {
			return nil
		}
	}
	return fmt.Errorf("the machine is still busy (%.0f%% of its CPU used by other processes) after %s; measuring anyway", 100*share, limit)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hostInfo describes the machine, for the report.
func hostInfo() string {
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (%s), %s/%s, harness %s", model, runtime.NumCPU(), "GOMAXPROCS "+strconv.Itoa(runtime.GOMAXPROCS(0)), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
