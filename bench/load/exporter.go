package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// logBuffer collects the exporter's stderr.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// process is the running exporter.
type process struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	log    *logBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

func startExporter(bin, configPath, addr string, extra []string) (*process, error) {
	args := append([]string{
		"--config.file=" + configPath,
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}, extra...)
	p := &process{cmd: exec.Command(bin, args...), base: "http://" + addr, log: &logBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitReady polls /-/ready until it answers 200.
func (p *process) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !p.running() {
			return fmt.Errorf("exporter exited during start-up (%v); its log:\n%s", p.err, p.log.String())
		}
		resp, err := client.Get(p.base + "/-/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("exporter not ready after %v; its log:\n%s", timeout, p.log.String())
}

// stop sends SIGTERM and waits for the exit; it returns the exit code, or
// an error when the exporter did not exit in time (it is then killed).
func (p *process) stop(timeout time.Duration) (int, error) {
	if !p.running() {
		return p.cmd.ProcessState.ExitCode(), errors.New("exporter had already exited")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		return -1, fmt.Errorf("no exit %v after SIGTERM; killed", timeout)
	}
}

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

func (p *process) readStats() (stats, error) {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, p.base+"/metrics", nil)
	req.Header.Set(scrapeTimeoutHeader, "10")
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := statsClient.Do(req)
	if err != nil {
		return stats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return stats{}, fmt.Errorf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return stats{}, fmt.Errorf("parsing /metrics: %w", err)
	}
	value := func(name string) float64 {
		var sum float64
		for _, m := range families[name].GetMetric() {
			switch {
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				sum += m.GetUntyped().GetValue()
			}
		}
		return sum
	}
	s := stats{
		at:          time.Now(),
		goroutines:  value("go_goroutines"),
		heapInuse:   value("go_memstats_heap_inuse_bytes"),
		rss:         value("process_resident_memory_bytes"),
		openFDs:     value("process_open_fds"),
		nextGC:      value("go_memstats_next_gc_bytes"),
		lastGC:      value("go_memstats_last_gc_time_seconds"),
		apiRequests: value("cloudquota_api_requests_total"),
		reloadOK:    value("cloudquota_exporter_config_last_reload_successful"),
	}
	for _, m := range families["go_gc_duration_seconds"].GetMetric() {
		s.gcCount += m.GetSummary().GetSampleCount()
	}
	for _, m := range families["cloudquota_up"].GetMetric() {
		s.targets++
		if m.GetGauge().GetValue() == 1 {
			s.targetsUp++
		}
	}
	if families["go_goroutines"] == nil || families["go_memstats_heap_inuse_bytes"] == nil {
		return s, errors.New("/metrics lacks go_goroutines or go_memstats_heap_inuse_bytes")
	}
	return s, nil
}

var logMsg = regexp.MustCompile(`level=(\w+).*?msg=(?:"((?:[^"\\]|\\.)*)"|(\S+))`)

// logSummary counts the exporter's log lines by level and message.
func logSummary(text string) []string {
	counts := map[string]int{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key := line
		if m := logMsg.FindStringSubmatch(line); m != nil {
			key = m[1] + ": " + m[2] + m[3]
		}
		counts[key]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%6d  %s", counts[k], k)
	}
	return out
}
