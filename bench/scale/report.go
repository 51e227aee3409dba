package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
)

const mib = 1 << 20

// Goals of issue "Performance and scale"; reported, not enforced.
const (
	goalLimitRatio  = 1.2                    // p50 / physical limit, 100 and 1000 targets
	goalCPU         = 150 * time.Millisecond // exporter CPU per scrape at 10,000 series
	goalRSSIdle     = 20 * mib
	goalRSSLoaded   = 60 * mib // at 10,000 series
	goalSeriesLarge = 10000    // where the CPU and loaded-RSS goals apply
)

// row is what one scenario measured.
type row struct {
	sc scenario

	expectedRequests int // data requests of one poll of every target
	expectedSeries   int

	warmDuration      time.Duration
	warmTokens        int
	scrapes           int
	p50, p99          time.Duration
	series            int
	bodyBytes         int
	dataRequests      int
	reqPerScrape      float64
	tokensAfterWarm   int
	cpuPerScrape      float64 // seconds
	rssIdle           float64
	rssAfter          float64
	rssPeak           float64
	memIdle, memAfter memInfo
	goroutinesBefore  float64
	goroutinesAfter   float64
	heapBefore        float64
	heapAfter         float64
	// The GC's heap goal (twice the live heap after the last GC, at
	// least 4 MiB) at the first and last measured scrapes: steadier than
	// heap in use, which depends on where the GC cycle stands.
	nextGCFirst, nextGCLast float64
	limit                   time.Duration
	ratio                   float64 // NaN when there is no limit
	timeline                timeline
	peakInflight            int
	newConns                int
	warnLogs                int
	haPollsMean             float64
	haPollsMax              int
	// CPU seconds the rest of the machine (neither the exporter nor the
	// harness with its simulated cloud) used during the measurement.
	foreignCPU float64
	// harnessCPU is the harness's own CPU per scrape: the simulated cloud
	// answering, and parsing the answers. It shares the cores with the
	// exporter.
	harnessCPU  float64
	measureWall time.Duration

	// ref is the reference client's figures, measured alternately with
	// the exporter's on the same cloud; nil when it did not run.
	ref *refRow
	// refCPU is the reference client's CPU seconds over the measured
	// scrapes, all of them.
	refCPU float64

	goals []goal
}

// goal is one checked goal of a row.
type goal struct {
	name, want, got string
	pass            bool
}

func (r *row) add(name, want, got string, pass bool) {
	r.goals = append(r.goals, goal{name, want, got, pass})
}

// evaluate checks the goals that apply to the row.
func (r *row) evaluate() {
	if r.sc.ha {
		r.add("polls per target per interval", "<= 1 (mean and max)",
			fmt.Sprintf("mean %.2f, max %d", r.haPollsMean, r.haPollsMax),
			r.haPollsMean <= 1 && r.haPollsMax <= 1)
	} else {
		r.add("data requests per scrape", fmt.Sprintf("= %d", r.expectedRequests),
			fmt.Sprintf("%.2f", r.reqPerScrape), r.dataRequests == r.expectedRequests*r.scrapes)
	}
	r.add("token requests after warm-up", "= 0", fmt.Sprint(r.tokensAfterWarm), r.tokensAfterWarm == 0)
	if r.sc.limitGoal && !math.IsNaN(r.ratio) {
		r.add("p50 / physical limit", fmt.Sprintf("<= %.1f", goalLimitRatio),
			fmt.Sprintf("%.2f (p50 %s, limit %s)", r.ratio, fmtDur(r.p50), fmtDur(r.limit)), r.ratio <= goalLimitRatio)
	}
	if r.series >= goalSeriesLarge {
		cpu := time.Duration(r.cpuPerScrape * float64(time.Second))
		r.add("CPU per scrape", "< "+fmtDur(goalCPU), fmtDur(cpu), cpu < goalCPU)
		r.add("RSS after load (peak)", fmt.Sprintf("< %d MiB", goalRSSLoaded/mib), benchutil.MiB(r.rssPeak), r.rssPeak < goalRSSLoaded)
	}
	r.add("RSS idle", fmt.Sprintf("< %d MiB", goalRSSIdle/mib), benchutil.MiB(r.rssIdle), r.rssIdle < goalRSSIdle)
}

// foreignShare is the foreign CPU as a share of the machine's capacity
// during the measurement.
func (r *row) foreignShare() float64 {
	if r.measureWall <= 0 {
		return 0
	}
	return r.foreignCPU / (r.measureWall.Seconds() * float64(runtime.NumCPU()))
}

// verdict is the goals column: PASS, or MISS with the goals missed.
func (r *row) verdict() string {
	var missed []string
	for _, g := range r.goals {
		if !g.pass {
			missed = append(missed, shortGoal(g.name))
		}
	}
	if len(missed) == 0 {
		return "PASS"
	}
	return "MISS: " + strings.Join(missed, ", ")
}

func shortGoal(name string) string {
	switch name {
	case "polls per target per interval":
		return "polls"
	case "data requests per scrape":
		return "requests"
	case "token requests after warm-up":
		return "tokens"
	case "p50 / physical limit":
		return "limit"
	case "CPU per scrape":
		return "CPU"
	case "RSS after load (peak)":
		return "RSS loaded"
	case "RSS idle":
		return "RSS idle"
	}
	return name
}

func printReport(w io.Writer, o *options, args []string, rows []*row) {
	fmt.Fprintf(w, "\n`go run ./bench/scale %s`\n\n", strings.Join(args, " "))
	fmt.Fprintf(w, "Host: %s. Services: %s, %d resources per target", hostInfo(), o.service, o.resources)
	if o.sites > 1 {
		fmt.Fprintf(w, ", %d Workspace sites", o.sites)
	}
	fmt.Fprintf(w, ", global.timeout %s.\n\n", o.targetTimeout)
	fmt.Fprintln(w, "| scenario | targets | series | latency | conc. | scrapes | p50 | p99 | data req/scrape (want) | tokens after warm-up | CPU/scrape | RSS idle | RSS after (peak) | goroutines before→after | heap in use before→after | p50 / limit | other procs' CPU | goals |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range rows {
		scrapes := fmt.Sprint(r.scrapes)
		want := fmt.Sprint(r.expectedRequests)
		if r.sc.ha {
			scrapes = fmt.Sprintf("2×%d", r.sc.rounds)
			want = fmt.Sprintf("polls/target/interval %.2f, max %d", r.haPollsMean, r.haPollsMax)
		}
		ratio := "n/a"
		if !math.IsNaN(r.ratio) {
			ratio = fmt.Sprintf("%.2f (%s)", r.ratio, fmtDur(r.limit))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %d | %s | %s | %s | %.2f (%s) | %d | %s | %s | %s (%s) | %.0f→%.0f | %s→%s | %s | %.0f%% | %s |\n",
			r.sc.name(), r.sc.targets, r.series, fmtLatency(r.sc.latency), r.sc.concurrency, scrapes,
			fmtDur(r.p50), fmtDur(r.p99), r.reqPerScrape, want, r.tokensAfterWarm,
			fmtDur(time.Duration(r.cpuPerScrape*float64(time.Second))),
			benchutil.MiB(r.rssIdle), benchutil.MiB(r.rssAfter), benchutil.MiB(r.rssPeak),
			r.goroutinesBefore, r.goroutinesAfter, benchutil.MiB(r.heapBefore), benchutil.MiB(r.heapAfter),
			ratio, 100*r.foreignShare(), r.verdict())
	}
	printComparison(w, rows)
	fmt.Fprintln(w, "\nGoals and diagnostics per row:")
	for _, r := range rows {
		fmt.Fprintf(w, "\n- **%s, concurrency %d**: warm-up scrape %s (%d SMH token requests); peak upstream requests in flight %d (held in the injected latency); new upstream connections %.1f per scrape; answer %s uncompressed; harness (simulated cloud and parsing) CPU %s per scrape; RSS idle %s anon + %s file, after %s anon + %s file; GC heap goal %s at the first measured scrape, %s at the last; %d warn/error log lines; expected series %d.\n",
			r.sc.name(), r.sc.concurrency, fmtDur(r.warmDuration), r.warmTokens, r.peakInflight,
			float64(r.newConns)/float64(max(1, r.scrapes)), fmtBytes(r.bodyBytes), fmtDur(time.Duration(r.harnessCPU*float64(time.Second))),
			benchutil.MiB(r.memIdle.anon), benchutil.MiB(r.memIdle.file), benchutil.MiB(r.memAfter.anon), benchutil.MiB(r.memAfter.file),
			benchutil.MiB(r.nextGCFirst), benchutil.MiB(r.nextGCLast), r.warnLogs, r.expectedSeries)
		if ref := r.ref; ref != nil {
			fmt.Fprintf(w, "  - reference client: answer %s uncompressed, %d SMH token requests after its warm-up, CPU %s per scrape\n",
				fmtBytes(ref.bodyBytes), ref.tokensAfterWarm, fmtCPU(ref.cpuPerScrape))
			fmt.Fprintf(w, "  - timeline of the median scrape: exporter %s; reference %s\n", r.timeline, ref.timeline)
			for _, g := range r.floorGoals() {
				fmt.Fprintf(w, "  - floor: %s: %s (goal %s) %s\n", g.name, g.got, g.want, passMiss(g.pass))
			}
		}
		for _, g := range r.goals {
			verdict := "PASS"
			if !g.pass {
				verdict = "MISS"
			}
			fmt.Fprintf(w, "  - %s: %s (goal %s) %s\n", g.name, g.got, g.want, verdict)
		}
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtLatency(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

func fmtBytes(n int) string {
	switch {
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func passMiss(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}
