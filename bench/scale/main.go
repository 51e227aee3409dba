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
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
	"github.com/cloudquota/cloudquota_exporter/config"
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
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.StringVar(&o.scenarios, "scenario", "all", "scenarios to run, comma-separated: all, demo, 100, 1000, ha, custom")
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
}

func (s scenario) name() string {
	switch {
	case s.ha:
		return fmt.Sprintf("ha (2 scrapers, every %s, cache_ttl %s)", s.interval, s.cacheTTL)
	case s.id == "demo":
		return "demo"
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
		case "demo", "100", "1000", "ha", "custom":
			want[s] = true
		default:
			return nil, fmt.Errorf("-scenario: unknown scenario %q (want all, demo, 100, 1000, ha or custom)", s)
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
	if want["ha"] {
		timeout := o.haTimeout
		if timeout <= 0 {
			timeout = o.haInterval
		}
		out = append(out, scenario{id: "ha", targets: o.haTargets, latency: o.haLatency, concurrency: o.haConcurrency,
			cacheTTL: o.haCacheTTL, ha: true, interval: o.haInterval, rounds: o.haRounds, offset: o.haOffset, scrapeTimeout: timeout})
	}
	for _, s := range out {
		if s.targets < 1 || (!s.ha && s.scrapes < 1) {
			return nil, fmt.Errorf("scenario %s: targets and scrapes must be at least 1", s.name())
		}
	}
	return out, nil
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
	bin := o.exporterBin
	if bin == "" {
		root, err := benchutil.RepoRoot(o.repo)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "scale: building the exporter in %s\n", root)
		if bin, err = benchutil.BuildExporter(root, dir); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			return 1
		}
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
		r, err := runScenario(ctx, o, bin, dir, sc)
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

// runScenario runs one scenario against a fresh cloud and exporter.
func runScenario(ctx context.Context, o *options, bin, dir string, sc scenario) (*row, error) {
	f, err := startFleet(fleetSpec{service: o.service, targets: sc.targets, resources: o.resources, sites: o.sites, latency: sc.latency})
	if err != nil {
		return nil, err
	}
	defer f.close()

	base := filepath.Join(dir, fmt.Sprintf("%s-c%d", sc.id, sc.concurrency))
	cfgPath := base + ".yml"
	yaml := f.configYAML(o.targetTimeout, sc.cacheTTL)
	// Checked here first, so that a bad configuration is the harness's
	// fault, found before any exporter runs.
	if _, err := config.Parse([]byte(yaml), cfgPath, false); err != nil {
		return nil, fmt.Errorf("generated configuration is invalid: %w", err)
	}
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	exp, err := startExporter(ctx, bin, cfgPath, base+".log", sc.concurrency)
	if err != nil {
		return nil, err
	}
	defer exp.stop()
	fmt.Fprintf(os.Stderr, "scale:   exporter pid %d on %s, simulated cloud on %s\n", exp.pid, exp.base, f.cloud.URL)

	if err := sleep(ctx, o.idleWait); err != nil {
		return nil, err
	}
	r := &row{sc: sc, expectedRequests: f.expectedRequests, expectedSeries: f.expectedSeries}
	if r.memIdle, err = memory(exp.pid); err != nil {
		return nil, err
	}
	r.rssIdle = r.memIdle.rss

	// The warm-up, the sequential scrapes and the final HA scrape get the
	// generous timeout; the HA pair gets its own (runHA).
	s := newScraper(exp.base, o.scrapeTimeout)
	counts0 := f.cloud.Counts()
	warm, err := s.scrape(ctx)
	if err != nil {
		return nil, fmt.Errorf("warm-up: %w (%v)", err, exp.alive())
	}
	warmEnd := time.Now()
	if err := warm.check(sc.targets); err != nil {
		return nil, fmt.Errorf("warm-up: %w; exporter log:\n%s", err, exp.logTail(10))
	}
	r.warmDuration = warm.duration
	r.goroutinesBefore, r.heapBefore = warm.goroutines, warm.heapInuse
	counts1 := f.cloud.Counts()
	r.warmTokens = counts1[simcloud.OpSMHToken] - counts0[simcloud.OpSMHToken]

	f.probe.reset(sc.ha)
	cpu0, err := cpuSeconds(exp.pid)
	if err != nil {
		return nil, err
	}
	self0, err1 := cpuSeconds(os.Getpid())
	busy0, err2 := machineBusySeconds()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	wall0 := time.Now()
	var results []scrapeResult
	if sc.ha {
		results, err = runHA(ctx, exp.base, sc, warmEnd, r, f)
	} else {
		for i := 0; i < sc.scrapes && err == nil; i++ {
			var res scrapeResult
			if res, err = s.scrape(ctx); err == nil {
				err = res.check(sc.targets)
				results = append(results, res)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%v); exporter log:\n%s", err, exp.alive(), exp.logTail(10))
	}
	cpu1, err := cpuSeconds(exp.pid)
	if err != nil {
		return nil, err
	}
	self1, err1 := cpuSeconds(os.Getpid())
	busy1, err2 := machineBusySeconds()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	// CPU the rest of the machine used meanwhile: anything else running
	// competes for the same cores and skews durations.
	r.foreignCPU = max(0, (busy1-busy0)-(cpu1-cpu0)-(self1-self0))
	r.harnessCPU = self1 - self0
	r.measureWall = time.Since(wall0)
	if r.memAfter, err = memory(exp.pid); err != nil {
		return nil, err
	}
	r.rssAfter, r.rssPeak = r.memAfter.rss, r.memAfter.peak
	counts2 := f.cloud.Counts()
	if n := counts2[simcloud.OpHuaweiAuthFailure]; n > 0 {
		return nil, fmt.Errorf("the simulated gateway refused %d signatures", n)
	}

	n := len(results)
	r.scrapes = n
	durations := make([]time.Duration, n)
	for i, res := range results {
		durations[i] = res.duration
	}
	r.p50, r.p99 = percentile(durations, 0.50), percentile(durations, 0.99)
	last := results[n-1]
	if sc.ha {
		// The last scrapes of the pair overlapped; one more, alone, once
		// the second scraper's connection is gone, shows what stays.
		if last, err = s.scrape(ctx); err == nil {
			err = last.check(sc.targets)
		}
		if err != nil {
			return nil, fmt.Errorf("final scrape: %w", err)
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
	r.dataRequests = dataRequests(counts2) - dataRequests(counts1)
	r.reqPerScrape = float64(r.dataRequests) / float64(n)
	r.tokensAfterWarm = counts2[simcloud.OpSMHToken] - counts1[simcloud.OpSMHToken]
	r.cpuPerScrape = (cpu1 - cpu0) / float64(n)
	r.harnessCPU /= float64(n)
	r.peakInflight, r.newConns, _ = f.probe.snapshot()
	r.limit, r.ratio = 0, nan
	if sc.latency > 0 && r.reqPerScrape > 0 && !sc.ha {
		r.limit = time.Duration(math.Ceil(r.reqPerScrape/float64(sc.concurrency))) * sc.latency
		r.ratio = float64(r.p50) / float64(r.limit)
	}
	r.warnLogs = exp.logCount()
	return r, nil
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
		busy0, err1 := machineBusySeconds()
		self0, err2 := cpuSeconds(os.Getpid())
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		busy1, err3 := machineBusySeconds()
		self1, err4 := cpuSeconds(os.Getpid())
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		share = ((busy1 - busy0) - (self1 - self0)) / (2 * float64(runtime.NumCPU()))
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

// percentile is the nearest-rank percentile: with few samples p99 is the
// slowest.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
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
