package collector

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ProbeStory is what one debug probe did, told as text: how the scrape came
// by its answer, each upstream request of the poll (operation, status,
// time, size, request id) and the result. Like every other output it
// holds no secret: upstream text in it has been redacted by the providers.
type ProbeStory struct {
	mu    sync.Mutex
	lines []string
}

func (s *ProbeStory) record(t *target, out outcome, elapsed time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	add := func(format string, args ...any) { s.lines = append(s.lines, fmt.Sprintf(format, args...)) }
	add("Probe of target %q (service %s), %s", t.name, t.service, elapsed.Round(time.Microsecond))
	add("Decision: %s", out.how)
	if len(out.requests) == 0 {
		add("Upstream requests: none")
	} else {
		add("Upstream requests:")
	}
	for i, e := range out.requests {
		status := "no response"
		if e.Status != 0 {
			status = fmt.Sprintf("HTTP %d", e.Status)
		}
		line := fmt.Sprintf("  %d. %s %s: %s in %s, %d bytes", i+1, e.Service, e.Operation, status, e.Duration.Round(time.Microsecond), e.Bytes)
		if e.RequestID != "" {
			line += ", request id " + e.RequestID
		}
		if offset, ok := e.ClockOffset(); ok && offset != 0 {
			line += fmt.Sprintf(", upstream clock %+ds", int(offset.Seconds()))
		}
		if e.Err != nil {
			line += ": " + e.Err.Error()
		}
		s.lines = append(s.lines, line)
	}
	if out.err != nil {
		add("Result: down: %s", describeError(out.err))
	} else {
		add("Result: up, %d quota samples", len(out.samples.metrics))
	}
	for _, note := range out.samples.skipped {
		add("Skipped: %s", note)
	}
}

// String is the story, one line per step.
func (s *ProbeStory) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n") + "\n"
}

// DebugTarget is ScrapeTarget that also tells its story once the returned
// collector has been collected.
func (e *Exporter) DebugTarget(ctx context.Context, name string) (*Scrape, *ProbeStory, bool) {
	s, ok := e.ScrapeTarget(ctx, name)
	if !ok {
		return nil, nil, false
	}
	s.story = &ProbeStory{}
	return s, s.story, true
}
