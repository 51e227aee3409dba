package collector

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// skewWarning is how far upstream's clock may be from ours before a refused
// signature is blamed on it. Huawei refuses signatures more than 15
// minutes off; warn well before.
const skewWarning = 5 * time.Minute

// pollTrace records the upstream requests of one poll: logged at debug
// level as they end, kept for /probe?debug=true, and the source of the
// target's clock offset.
type pollTrace struct {
	logger log.Logger // nil: requests are not logged

	mu     sync.Mutex
	events []upstream.Event
}

// record is the poll's upstream.WithTrace callback.
func (p *pollTrace) record(e upstream.Event) {
	if p.logger != nil {
		p.log(e)
	}
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *pollTrace) log(e upstream.Event) {
	keyvals := []any{"msg", "Upstream request", "service", e.Service, "operation", e.Operation,
		"status", e.Status, "duration", e.Duration.Round(time.Microsecond), "bytes", e.Bytes, "request_id", e.RequestID}
	if e.Err != nil {
		keyvals = append(keyvals, "err", e.Err)
	}
	level.Debug(p.logger).Log(keyvals...)
}

// snapshot returns the requests recorded so far.
func (p *pollTrace) snapshot() []upstream.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]upstream.Event(nil), p.events...)
}

// clockOffset is the offset of the poll's last answer with a Date.
func (p *pollTrace) clockOffset() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.events) - 1; i >= 0; i-- {
		if d, ok := p.events[i].ClockOffset(); ok {
			return d, true
		}
	}
	return 0, false
}

// explainSkew adds to a refused signature that the clocks disagree, when
// they do by more than skewWarning: the refusal alone does not say so.
func explainSkew(err error, offset time.Duration, known bool) error {
	var apiErr *upstream.APIError
	if !known || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		return err
	}
	if offset > -skewWarning && offset < skewWarning {
		return err
	}
	way := "behind"
	if offset < 0 {
		way = "ahead of"
	}
	return fmt.Errorf("%w (the local clock is %s %s upstream's Date header; Huawei refuses signatures more than 15 minutes off: correct the clock, e.g. with NTP)",
		err, offset.Abs().Round(time.Second), way)
}
