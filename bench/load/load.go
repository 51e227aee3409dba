package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
)

// Endpoints the clients scrape.
const (
	epMetrics = "/metrics"
	epProbe   = "/probe"
)

// tally counts outcomes by kind and keeps a few examples of each.
type tally struct {
	mu       sync.Mutex
	counts   map[string]int
	examples map[string][]string
}

func newTally() *tally {
	return &tally{counts: map[string]int{}, examples: map[string][]string{}}
}

func (t *tally) add(kind, example string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[kind]++
	if example != "" && len(t.examples[kind]) < 3 {
		t.examples[kind] = append(t.examples[kind], example)
	}
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.counts {
		n += c
	}
	return n
}

func (t *tally) get(kind string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[kind]
}

// lines lists kinds with counts and examples, largest first.
func (t *tally) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	kinds := make([]string, 0, len(t.counts))
	for k := range t.counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return t.counts[kinds[i]] > t.counts[kinds[j]] })
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%8d  %s", t.counts[k], k))
		for _, e := range t.examples[k] {
			out = append(out, "          e.g. "+e)
		}
	}
	return out
}

// clientResult is what one load client measured.
type clientResult struct {
	latencies map[string][]time.Duration // successful requests, by endpoint
	done      map[string]int             // requests finished, by endpoint
}

// loadClient alternates GET /metrics and GET /probe?target=<random> until
// stop closes; a request in flight then is completed and counted.
func loadClient(client *http.Client, base string, targets []string, minTargets int, stop <-chan struct{}, errs *tally) clientResult {
	res := clientResult{latencies: map[string][]time.Duration{}, done: map[string]int{}}
	for i := rand.IntN(2); ; i++ {
		select {
		case <-stop:
			return res
		default:
		}
		endpoint, u, want := epMetrics, base+"/metrics", minTargets
		if i%2 == 1 {
			endpoint = epProbe
			u = base + "/probe?target=" + url.QueryEscape(targets[rand.IntN(len(targets))])
			want = -1 // exactly one
		}
		start := time.Now()
		kind, detail := scrapeOnce(client, u, want)
		elapsed := time.Since(start)
		res.done[endpoint]++
		if kind != "" {
			errs.add(endpoint+": "+kind, detail)
			continue
		}
		res.latencies[endpoint] = append(res.latencies[endpoint], elapsed)
	}
}

// scrapeOnce does one scrape and checks it: HTTP 200 and a body with
// cloudquota_up samples (at least want, or exactly one when want < 0), all 1.
// It returns the kind of error and an example, or "" when all is well.
func scrapeOnce(client *http.Client, u string, want int) (kind, detail string) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "request", err.Error()
	}
	req.Header.Set(benchutil.ScrapeTimeoutHeader, "10")
	resp, err := client.Do(req)
	if err != nil {
		return "transport error", err.Error()
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "transport error (body)", err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP %d", resp.StatusCode), benchutil.FirstLine(body)
	}
	ups := 0
	for line := range bytes.Lines(body) {
		if !bytes.HasPrefix(line, []byte("cloudquota_up{")) && !bytes.HasPrefix(line, []byte("cloudquota_up ")) {
			continue
		}
		ups++
		line = bytes.TrimSpace(line)
		value := line[bytes.LastIndexByte(line, ' ')+1:]
		if v, err := strconv.ParseFloat(string(value), 64); err != nil || v != 1 {
			return "cloudquota_up not 1", string(line)
		}
	}
	switch {
	case ups == 0:
		return "no cloudquota_up in body", fmt.Sprintf("%d bytes", len(body))
	case want < 0 && ups != 1, want >= 0 && ups < want:
		return "wrong number of cloudquota_up", fmt.Sprintf("%d samples", ups)
	}
	return "", ""
}

// reloadStats counts the reloader's results.
type reloadStats struct {
	ok, failedAsExpected int
	unexpected           *tally
	swapsVerified        int
	// swapChecksTurnedAway counts swap checks that got only 503s.
	swapChecksTurnedAway int
	latencies            []time.Duration
	byVariant            map[string]int
}

// reloader cycles the configuration file through invalid, B, invalid, A
// every interval, POSTing /-/reload after each write, until stop closes.
func reloader(base, path string, v *variants, interval time.Duration, stop <-chan struct{}) *reloadStats {
	rs := &reloadStats{unexpected: newTally(), byVariant: map[string]int{}}
	cycle := []variant{v.badSyntax, v.b, v.badUnknown, v.a}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return rs
		case <-ticker.C:
		}
		rs.reload(base, path, cycle[i%len(cycle)])
	}
}

var reloadClient = &http.Client{Timeout: 15 * time.Second}

// reload writes one variant, POSTs /-/reload and checks the answer; after
// a valid one it probes extraTarget to check that the configuration really
// changed.
func (rs *reloadStats) reload(base, path string, v variant) {
	rs.byVariant[v.name]++
	if err := writeAtomic(path, v.yaml); err != nil {
		rs.unexpected.add("writing the file", err.Error())
		return
	}
	start := time.Now()
	resp, err := reloadClient.Post(base+"/-/reload", "", nil)
	if err != nil {
		rs.unexpected.add("POST /-/reload: transport error", err.Error())
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rs.latencies = append(rs.latencies, time.Since(start))
	want := http.StatusInternalServerError
	if v.valid {
		want = http.StatusOK
	}
	if resp.StatusCode != want {
		rs.unexpected.add(fmt.Sprintf("%s: HTTP %d, want %d", v.name, resp.StatusCode, want), benchutil.FirstLine(body))
		return
	}
	if !v.valid {
		rs.failedAsExpected++
		return
	}
	rs.ok++
	wantProbe := http.StatusBadRequest
	if v.hasExtra {
		wantProbe = http.StatusOK
	}
	// The check is a /probe like the load's, so --web.max-requests may
	// turn it away with 503: that says nothing about the reload, so retry.
	var presp *http.Response
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(http.MethodGet, base+"/probe?target="+extraTarget, nil)
		req.Header.Set(benchutil.ScrapeTimeoutHeader, "10")
		presp, err = reloadClient.Do(req)
		if err != nil {
			rs.unexpected.add("swap check: transport error", err.Error())
			return
		}
		io.Copy(io.Discard, presp.Body)
		presp.Body.Close()
		if presp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		if attempt == 50 {
			rs.swapChecksTurnedAway++
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	if presp.StatusCode != wantProbe {
		rs.unexpected.add(fmt.Sprintf("swap check after %s: /probe?target=%s HTTP %d, want %d", v.name, extraTarget, presp.StatusCode, wantProbe), "")
		return
	}
	rs.swapsVerified++
}

// sighupper sends SIGHUP every interval until stop closes (Linux only), and
// returns how many it sent.
func sighupper(e *benchutil.Exporter, interval time.Duration, stop <-chan struct{}) int {
	if runtime.GOOS != "linux" || interval <= 0 {
		return 0
	}
	sent := 0
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return sent
		case <-ticker.C:
		}
		if err := e.Signal(syscall.SIGHUP); err == nil {
			sent++
		}
	}
}
