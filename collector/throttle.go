package collector

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Pause after upstream throttles a target and sends no Retry-After: 30s,
// doubling with every throttled poll in a row, up to 10 minutes.
const (
	firstThrottlePause = 30 * time.Second
	maxThrottlePause   = 10 * time.Minute
)

// ThrottledError is a scrape's result while a target rests after upstream
// throttled it: no request is sent until the pause has passed.
type ThrottledError struct {
	Left  time.Duration
	Cause error
}

// Error says how long the target rests and why.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("throttled by upstream, next request in %s: %v", e.Left.Round(time.Second), e.Cause)
}

// Unwrap returns the throttling answer.
func (e *ThrottledError) Unwrap() error { return e.Cause }

// throttlePause tells whether err is upstream throttling and how long to
// rest: its Retry-After when it sent one, else a pause growing with the
// number of throttled polls in a row.
func throttlePause(err error, streak int) (time.Duration, bool) {
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		return 0, false
	}
	throttled := apiErr.StatusCode == http.StatusTooManyRequests ||
		apiErr.Code == "RateLimitExceeded" || // SMH
		apiErr.Code == "APIGW.0308" // Huawei API gateway: throttling threshold reached
	if !throttled {
		return 0, false
	}
	if apiErr.RetryAfter > 0 {
		return min(apiErr.RetryAfter, maxThrottlePause), true
	}
	return min(firstThrottlePause<<min(streak, 5), maxThrottlePause), true
}
