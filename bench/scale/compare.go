package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
)

// Goals of issue "Close to the floor"; reported, not enforced.
const (
	goalCPURatio     = 2.0  // exporter CPU / reference CPU, 100 and 1000 targets
	goalFloorLimit   = 1.15 // p50 / physical limit, 100 targets × 50 ms, concurrency 100
	goalRSSPeak10k   = 40 * mib
	goalRSSPeak25k   = 60 * mib
	goalCPURatioFrom = 100 // targets from which the ratio goal applies
)

// floorGoals are the goals of issue "Close to the floor" that apply to
// the row: the CPU ratio wherever the reference ran on 100 targets or
// more, the p50 and RSS goals on the floor scenario's rows that they were
// set for, and the idle RSS everywhere.
func (r *row) floorGoals() []goal {
	var out []goal
	add := func(name, want, got string, pass bool) { out = append(out, goal{name, want, got, pass}) }
	if ref := r.ref; ref != nil && r.sc.targets >= goalCPURatioFrom {
		ratio := r.cpuRatio()
		add("CPU ratio", fmt.Sprintf("<= %.1f", goalCPURatio), fmt.Sprintf("%.2f", ratio), ratio <= goalCPURatio)
	}
	switch r.sc.floor {
	case "p50":
		add("p50 / limit", fmt.Sprintf("<= %.2f", goalFloorLimit), fmt.Sprintf("%.2f", r.ratio), r.ratio <= goalFloorLimit)
	case "rss":
		add("RSS peak", fmt.Sprintf("<= %d MiB", goalRSSPeak10k/mib), benchutil.MiB(r.rssPeak), r.rssPeak <= goalRSSPeak10k)
	case "cpu":
		add("RSS peak", fmt.Sprintf("<= %d MiB", goalRSSPeak25k/mib), benchutil.MiB(r.rssPeak), r.rssPeak <= goalRSSPeak25k)
	}
	add("RSS idle", fmt.Sprintf("< %d MiB", goalRSSIdle/mib), benchutil.MiB(r.rssIdle), r.rssIdle < goalRSSIdle)
	return out
}

// cpuRatio is the exporter's CPU per scrape over the reference client's;
// NaN when the reference used none that /proc could see.
func (r *row) cpuRatio() float64 {
	if r.ref == nil || r.ref.cpuPerScrape <= 0 {
		return nan
	}
	return r.cpuPerScrape / r.ref.cpuPerScrape
}

// printComparison prints the exporter against the reference client, one
// row per scenario where the reference ran, with the goals of issue
// "Close to the floor".
func printComparison(w io.Writer, rows []*row) {
	var with []*row
	for _, r := range rows {
		if r.ref != nil {
			with = append(with, r)
		}
	}
	if len(with) == 0 {
		return
	}
	fmt.Fprintln(w, "\nExporter against the reference client (bench/reference), scraped alternately on the same simulated cloud:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | targets | series (exp./ref.) | latency | conc. | scrapes each | CPU/scrape exporter | CPU/scrape reference | ratio | p50 exporter | p50 reference | p50/limit exporter | p50/limit reference | RSS idle | RSS peak (VmHWM) | reference RSS idle / peak | data req/scrape (exp./ref.) | goals |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range with {
		ref := r.ref
		fmt.Fprintf(w, "| %s | %d | %d / %d | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %.0f / %.0f | %s |\n",
			r.sc.name(), r.sc.targets, r.series, ref.series, fmtLatency(r.sc.latency), r.sc.concurrency, r.scrapes,
			fmtCPU(r.cpuPerScrape), fmtCPU(ref.cpuPerScrape), fmtRatio(r.cpuRatio()),
			fmtDur(r.p50), fmtDur(ref.p50), fmtRatio(r.ratio), fmtRatio(ref.ratio),
			benchutil.MiB(r.rssIdle), benchutil.MiB(r.rssPeak), benchutil.MiB(ref.rssIdle), benchutil.MiB(ref.rssPeak),
			r.reqPerScrape, ref.reqPerScrape, goalVerdict(r.floorGoals()))
	}
}

// goalVerdict is PASS, or MISS with each missed goal and its figure.
func goalVerdict(goals []goal) string {
	var missed []string
	for _, g := range goals {
		if !g.pass {
			missed = append(missed, fmt.Sprintf("%s %s (%s)", g.name, g.got, g.want))
		}
	}
	if len(missed) == 0 {
		return "PASS"
	}
	return "MISS: " + strings.Join(missed, ", ")
}

func fmtCPU(seconds float64) string { return fmtDur(time.Duration(seconds * float64(time.Second))) }

func fmtRatio(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}
