package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
)

// scraper plays Prometheus against one exporter: keep-alive connection,
// gzip, the text format, and the scrape timeout header.
type scraper struct {
	client  *http.Client
	url     string
	timeout time.Duration // sent as X-Prometheus-Scrape-Timeout-Seconds
}

func newScraper(base string, timeout time.Duration) *scraper {
	return &scraper{
		// The transport asks for gzip and unzips, as Prometheus does.
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: timeout + 30*time.Second},
		url:     base + "/metrics",
		timeout: timeout,
	}
}

// scrapeResult is what one scrape measured and found.
type scrapeResult struct {
	start    time.Time
	duration time.Duration
	// The scrape's timeline as the cloud saw it (alternate scrapes only):
	// from its start until its last upstream request reached the cloud,
	// and from the last upstream answer until the scrape's answer was
	// read. Between the two lies the injected latency.
	sendPhase, tail time.Duration
	bytes           int
	quotaSamples    int
	up, down        int
	downTargets     []string
	// The exporter's own metrics; NaN when absent.
	goroutines, heapInuse, nextGC, cpuSeconds, rss float64
}

var quotaPrefixes = []string{"cloudquota_smh_", "cloudquota_workspace_", "cloudquota_cts_"}

// scrape fetches /metrics once and parses it. An HTTP error, a non-200
// answer or an unparsable body is an error; targets down are reported in
// the result.
func (s *scraper) scrape(ctx context.Context) (scrapeResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return scrapeResult{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	req.Header.Set(benchutil.ScrapeTimeoutHeader, strconv.FormatFloat(s.timeout.Seconds(), 'f', -1, 64))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return scrapeResult{}, fmt.Errorf("scrape: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return scrapeResult{}, fmt.Errorf("scrape: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return scrapeResult{}, fmt.Errorf("scrape: HTTP %d: %s", resp.StatusCode, benchutil.FirstLine(body))
	}
	samples, err := benchutil.DecodeSamples(body, resp.Header)
	if err != nil {
		return scrapeResult{}, fmt.Errorf("scrape: parsing the answer: %w", err)
	}
	r := scrapeResult{start: start, duration: elapsed, bytes: len(body), goroutines: nan, heapInuse: nan, nextGC: nan, cpuSeconds: nan, rss: nan}
	for _, sample := range samples {
		r.add(sample)
	}
	return r, nil
}

// add takes in one sample of the answer.
func (r *scrapeResult) add(sample *model.Sample) {
	name := string(sample.Metric[model.MetricNameLabel])
	value := float64(sample.Value)
	switch name {
	case "cloudquota_up":
		if value == 1 {
			r.up++
		} else {
			r.down++
			r.downTargets = append(r.downTargets, string(sample.Metric["target"]))
		}
	case "go_goroutines":
		r.goroutines = value
	case "go_memstats_heap_inuse_bytes":
		r.heapInuse = value
	case "go_memstats_next_gc_bytes":
		r.nextGC = value
	case "process_cpu_seconds_total":
		r.cpuSeconds = value
	case "process_resident_memory_bytes":
		r.rss = value
	}
	for _, prefix := range quotaPrefixes {
		if strings.HasPrefix(name, prefix) {
			r.quotaSamples++
		}
	}
}

// check turns targets down or missing into an error.
func (r scrapeResult) check(targets int) error {
	if r.down > 0 {
		shown := r.downTargets
		if len(shown) > 5 {
			shown = shown[:5]
		}
		return fmt.Errorf("%d of %d targets down (e.g. %s)", r.down, targets, strings.Join(shown, ", "))
	}
	if r.up != targets {
		return fmt.Errorf("cloudquota_up reported for %d targets, want %d", r.up, targets)
	}
	return nil
}
