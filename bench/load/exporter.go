package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/model"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
)

// stats are the exporter's own figures, read from its /metrics.
type stats struct {
	goroutines  float64
	heapInuse   float64
	rss         float64
	openFDs     float64
	nextGC      float64 // go_memstats_next_gc_bytes: about 2 x the heap live at the last GC
	lastGC      float64 // go_memstats_last_gc_time_seconds
	gcCount     uint64  // go_gc_duration_seconds_count: GC cycles so far
	apiRequests float64 // sum of cloudquota_api_requests_total
	reloadOK    float64 // cloudquota_exporter_config_last_reload_successful
	targets     int     // cloudquota_up samples
	targetsUp   int
	at          time.Time // when the reading was taken
}

// statsClient makes one connection per request, so that reading the
// figures leaves no idle connection (and no server goroutine) behind.
var statsClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// readStats scrapes the exporter's /metrics once and sums up its figures.
func readStats(e *benchutil.Exporter) (stats, error) {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, e.Base+"/metrics", nil)
	req.Header.Set(benchutil.ScrapeTimeoutHeader, "10")
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := statsClient.Do(req)
	if err != nil {
		return stats{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return stats{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return stats{}, fmt.Errorf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	samples, err := benchutil.DecodeSamples(body, resp.Header)
	if err != nil {
		return stats{}, fmt.Errorf("parsing /metrics: %w", err)
	}
	return sumStats(samples)
}

// sumStats adds up the samples of each figure's metric.
func sumStats(samples model.Vector) (stats, error) {
	sums := map[string]float64{}
	s := stats{at: time.Now()}
	for _, sample := range samples {
		name := string(sample.Metric[model.MetricNameLabel])
		sums[name] += float64(sample.Value)
		if name == "cloudquota_up" {
			s.targets++
			if sample.Value == 1 {
				s.targetsUp++
			}
		}
	}
	s.goroutines, s.heapInuse, s.rss = sums["go_goroutines"], sums["go_memstats_heap_inuse_bytes"], sums["process_resident_memory_bytes"]
	s.openFDs, s.nextGC, s.lastGC = sums["process_open_fds"], sums["go_memstats_next_gc_bytes"], sums["go_memstats_last_gc_time_seconds"]
	s.apiRequests, s.reloadOK = sums["cloudquota_api_requests_total"], sums["cloudquota_exporter_config_last_reload_successful"]
	s.gcCount = uint64(sums["go_gc_duration_seconds_count"])
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes"} {
		if _, ok := sums[name]; !ok {
			return s, errors.New("/metrics lacks go_goroutines or go_memstats_heap_inuse_bytes")
		}
	}
	return s, nil
}

// logSummary counts the exporter's log lines by level and message.
func logSummary(text string) []string {
	var out []string
	for _, c := range benchutil.CountLog(text) {
		out = append(out, fmt.Sprintf("%6d  %s", c.N, c.Key))
	}
	return out
}
