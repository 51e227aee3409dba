package upstream

import (
	"context"
	"net/http"
	"time"
)

// Event is what is known of one finished upstream request, for debug logs,
// /probe?debug=true and the clock-offset gauge. It holds no URL, query or
// header value but the upstream's request id and Date.
type Event struct {
	Service, Operation string
	// Status is the HTTP status, 0 when no response came.
	Status   int
	Duration time.Duration
	// Bytes is the size of the body read.
	Bytes     int
	RequestID string
	// Date is the response's Date header, zero when it had none, and
	// Received the local time the answer arrived.
	Date, Received time.Time
	// Err is the request's error, as redacted as any other.
	Err error
}

// ClockOffset is upstream's Date minus the local clock at the answer, and
// false when the answer had no Date. The Date header has whole seconds,
// so the offset is as exact as that.
func (e Event) ClockOffset() (time.Duration, bool) {
	if e.Date.IsZero() {
		return 0, false
	}
	return e.Date.Sub(e.Received.Truncate(time.Second)), true
}

type traceKey struct{}

// WithTrace returns a context under which every request, once ended, is
// told to trace.
func WithTrace(ctx context.Context, trace func(Event)) context.Context {
	return context.WithValue(ctx, traceKey{}, trace)
}

func traceOf(ctx context.Context) func(Event) {
	trace, _ := ctx.Value(traceKey{}).(func(Event))
	return trace
}

// event describes a finished request.
func event(req Request, resp *Response, err error, start, end time.Time) Event {
	e := Event{Service: req.Service, Operation: req.Operation, Duration: end.Sub(start), Received: end, Err: err}
	if resp != nil {
		e.Status, e.Bytes, e.RequestID = resp.StatusCode, len(resp.Body), resp.RequestID
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			e.Date = d
		}
	}
	return e
}
