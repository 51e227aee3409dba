package benchutil

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ScrapeTimeoutHeader is the header in which Prometheus sends its scrape
// timeout, which the exporter uses as its deadline.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// DecodeSamples parses an exposition in the format its header names.
// Decoding into model samples (not client_model families) keeps the
// module's direct dependencies as they are.
func DecodeSamples(body []byte, header http.Header) (model.Vector, error) {
	decoder := &expfmt.SampleDecoder{
		Dec:  expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(header)),
		Opts: &expfmt.DecodeOptions{Timestamp: model.Now()},
	}
	var all model.Vector
	for {
		var samples model.Vector
		if err := decoder.Decode(&samples); err == io.EOF {
			return all, nil
		} else if err != nil {
			return nil, err
		}
		all = append(all, samples...)
	}
}

// Percentile is the nearest-rank percentile p (0 to 1) of ds, which it
// leaves unsorted: with few samples p99 is the slowest.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// FirstLine is the first line of an answer, trimmed and cut at 200 bytes,
// to quote it in a message.
func FirstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// MiB formats a number of bytes in MiB; NaN, for a figure not read, is
// "n/a".
func MiB(b float64) string {
	if math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}

// LogCount is how many lines of an exporter log share a level and message.
type LogCount struct {
	// Level is the line's level=, "" when the line is not logfmt.
	Level string
	// Key is "level: message", or the whole line when it is not logfmt.
	Key string
	N   int
}

var logMsg = regexp.MustCompile(`level=(\w+).*?msg=(?:"((?:[^"\\]|\\.)*)"|(\S+))`)

// CountLog counts the lines of an exporter log by level and message, most
// frequent first.
func CountLog(text string) []LogCount {
	counts := map[string]*LogCount{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		c := LogCount{Key: line}
		if m := logMsg.FindStringSubmatch(line); m != nil {
			c = LogCount{Level: m[1], Key: m[1] + ": " + m[2] + m[3]}
		}
		if counts[c.Key] == nil {
			counts[c.Key] = &c
		}
		counts[c.Key].N++
	}
	out := make([]LogCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N > out[j].N })
	return out
}
