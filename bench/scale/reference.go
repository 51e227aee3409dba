package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
)

// side is the reference client (bench/reference) of one scenario: its
// process, its scraper, and what its scrapes measured. A nil *side is a
// scenario without it; its methods then do nothing.
type side struct {
	proc    *benchutil.Exporter
	s       *scraper
	tally   tally
	results []scrapeResult
	row     refRow
}

// refRow is what the reference client's scrapes measured, for the
// comparison table.
type refRow struct {
	p50             time.Duration
	timeline        timeline
	cpuPerScrape    float64 // seconds
	limit           time.Duration
	ratio           float64 // p50 / limit; NaN without one
	series          int     // quota samples of the last answer
	bodyBytes       int
	reqPerScrape    float64
	tokensAfterWarm int
	rssIdle         float64
	rssPeak         float64
}

// tally is what the cloud saw during one process's measured scrapes.
type tally struct{ data, tokens, newConns, peak int }

// startReference writes the reference client's configuration for the
// fleet and runs it like the exporter, with the scenario's concurrency.
func startReference(ctx context.Context, bin, base string, sc scenario, f *fleet, timeout time.Duration) (*side, error) {
	data, err := f.referenceJSON()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".json", data, 0o600); err != nil {
		return nil, err
	}
	addr, err := benchutil.FreePort()
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	p, err := benchutil.Start(bin, addr, base+".log", "--config.file="+base+".json", "--scrape.concurrency="+strconv.Itoa(sc.concurrency))
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, 30*time.Second); err != nil {
		return nil, fmt.Errorf("reference client: %w", err)
	}
	fmt.Fprintf(os.Stderr, "scale:   reference client pid %d on %s\n", p.Pid, p.Base)
	return &side{proc: p, s: newScraper(p.Base, timeout)}, nil
}

func (r *side) pid() int {
	if r == nil {
		return 0
	}
	return r.proc.Pid
}

// warmUp reads the idle RSS and scrapes once, which fetches the SMH token
// and opens the connections, as the exporter's warm-up does.
func (r *side) warmUp(ctx context.Context, f *fleet, targets int) error {
	if r == nil {
		return nil
	}
	mem, err := memory(r.proc.Pid)
	if err != nil {
		return err
	}
	r.row.rssIdle = mem.rss
	res, err := r.s.scrape(ctx)
	if err == nil {
		err = res.check(targets)
	}
	if err != nil {
		return fmt.Errorf("reference client warm-up: %w (%v); its log:\n%s", err, r.proc.Alive(), r.proc.LogTail(10))
	}
	return nil
}

// alternate runs the measured sequential scrapes: exporter, then
// reference client, then exporter again, so that both see the same cloud
// and the same state of the machine.
func (m *measurement) alternate(ctx context.Context) error {
	for i := 0; i < m.sc.scrapes; i++ {
		res, err := m.scrapeCounted(ctx, m.s, &m.tally)
		if err != nil {
			return fmt.Errorf("%w (%v); exporter log:\n%s", err, m.exp.Alive(), m.exp.LogTail(10))
		}
		m.results = append(m.results, res)
		if m.ref == nil {
			continue
		}
		if res, err = m.scrapeCounted(ctx, m.ref.s, &m.ref.tally); err != nil {
			return fmt.Errorf("reference client: %w (%v)", err, m.ref.proc.Alive())
		}
		m.ref.results = append(m.ref.results, res)
	}
	return nil
}

// scrapeCounted scrapes once and adds to t what the cloud saw meanwhile:
// only one process is scraped at a time, so it is that process's.
func (m *measurement) scrapeCounted(ctx context.Context, s *scraper, t *tally) (scrapeResult, error) {
	before := m.f.cloud.Counts()
	m.f.probe.reset(false)
	res, err := s.scrape(ctx)
	if err == nil {
		err = res.check(m.sc.targets)
	}
	after := m.f.cloud.Counts()
	peak, conns, _ := m.f.probe.snapshot()
	if lastIn, lastOut := m.f.probe.window(); err == nil && !lastIn.IsZero() {
		res.sendPhase, res.tail = lastIn.Sub(res.start), res.start.Add(res.duration).Sub(lastOut)
	}
	t.data += dataRequests(after) - dataRequests(before)
	t.tokens += after[simcloud.OpSMHToken] - before[simcloud.OpSMHToken]
	t.newConns += conns
	t.peak = max(t.peak, peak)
	return res, err
}

// finish derives the reference client's figures once the exporter's row
// has its own (the limit comes from the same scenario).
func (r *side) finish(er *row) error {
	if r == nil {
		return nil
	}
	n := len(r.results)
	if n == 0 {
		return fmt.Errorf("reference client: no measured scrape")
	}
	durations := make([]time.Duration, n)
	for i, res := range r.results {
		durations[i] = res.duration
	}
	rr := &r.row
	rr.p50 = benchutil.Percentile(durations, 0.50)
	rr.timeline = timelineOf(r.results)
	rr.cpuPerScrape = er.refCPU / float64(n)
	last := r.results[n-1]
	rr.series, rr.bodyBytes = last.quotaSamples, last.bytes
	if rr.series != er.expectedSeries {
		fmt.Fprintf(os.Stderr, "scale:   WARNING: reference client: %d quota samples, want %d\n", rr.series, er.expectedSeries)
	}
	rr.reqPerScrape = float64(r.tally.data) / float64(n)
	rr.tokensAfterWarm = r.tally.tokens
	rr.limit, rr.ratio = 0, nan
	if er.sc.latency > 0 && rr.reqPerScrape > 0 {
		rr.limit = time.Duration(math.Ceil(rr.reqPerScrape/float64(er.sc.concurrency))) * er.sc.latency
		rr.ratio = float64(rr.p50) / float64(rr.limit)
	}
	mem, err := memory(r.proc.Pid)
	rr.rssPeak = mem.peak
	return err
}

// startPerf runs `perf record -g` on the exporter until the returned
// function is called, when -perf is set: the exporter has no profiling
// endpoint, and Go binaries keep frame pointers, so perf's call graphs
// are whole.
func startPerf(prefix string, sc scenario, pid int) (func() error, error) {
	if prefix == "" {
		return func() error { return nil }, nil
	}
	path := prefix + "-" + sc.slug() + ".data"
	cmd := exec.Command("perf", "record", "-g", "-F", "999", "-p", strconv.Itoa(pid), "-o", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // attached before the first scrape
	return func() error {
		cmd.Process.Signal(os.Interrupt) //nolint:errcheck // Wait tells
		// perf record ends on SIGINT by being killed by it, having
		// written its file: ExitCode is then -1.
		if err := cmd.Wait(); err != nil && cmd.ProcessState.ExitCode() != -1 {
			return fmt.Errorf("perf record: %w", err)
		}
		fmt.Fprintf(os.Stderr, "scale:   perf profile of the exporter in %s (perf report -i %s)\n", path, path)
		return nil
	}, nil
}

// referenceJSON is the reference client's configuration: the same
// targets and credentials as configYAML, in the JSON that bench/reference
// reads.
func (f *fleet) referenceJSON() ([]byte, error) {
	type credential struct {
		Type          string `json:"type"`
		LibraryID     string `json:"library_id,omitempty"`
		LibrarySecret string `json:"library_secret,omitempty"`
		AccessKey     string `json:"access_key,omitempty"`
		SecretKey     string `json:"secret_key,omitempty"`
	}
	type target struct {
		Name        string   `json:"name"`
		Service     string   `json:"service"`
		Endpoint    string   `json:"endpoint"`
		Credentials string   `json:"credentials"`
		SpaceIDs    []string `json:"space_ids,omitempty"`
		ProjectID   string   `json:"project_id,omitempty"`
		SiteIDs     []string `json:"site_ids,omitempty"`
	}
	cfg := struct {
		Credentials map[string]credential `json:"credentials"`
		Targets     []target              `json:"targets"`
	}{Credentials: map[string]credential{
		smhCredential: {Type: "tencent_smh", LibraryID: smhLibrary, LibrarySecret: smhSecret},
		hwCredential:  {Type: "huaweicloud", AccessKey: hwAccessKey, SecretKey: hwSecretKey},
	}}
	for _, t := range f.targets {
		cred := hwCredential
		if t.service == config.ServiceSMH {
			cred = smhCredential
		}
		cfg.Targets = append(cfg.Targets, target{Name: t.name, Service: t.service, Endpoint: f.cloud.URL,
			Credentials: cred, SpaceIDs: t.spaceIDs, ProjectID: t.projectID, SiteIDs: t.siteIDs})
	}
	return json.Marshal(cfg)
}

// timeline is the median scrape's timeline (scrapeResult.sendPhase and
// tail): where the time above the injected latency goes.
type timeline struct {
	sendPhase, tail time.Duration
}

func timelineOf(results []scrapeResult) timeline {
	send := make([]time.Duration, 0, len(results))
	tail := make([]time.Duration, 0, len(results))
	for _, res := range results {
		if res.sendPhase > 0 {
			send, tail = append(send, res.sendPhase), append(tail, res.tail)
		}
	}
	if len(send) == 0 {
		return timeline{}
	}
	return timeline{benchutil.Percentile(send, 0.50), benchutil.Percentile(tail, 0.50)}
}

func (t timeline) String() string {
	if t == (timeline{}) {
		return "n/a"
	}
	return fmt.Sprintf("last upstream request sent %s after the scrape began, answer read %s after the last upstream answer", fmtDur(t.sendPhase), fmtDur(t.tail))
}
