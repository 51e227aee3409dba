package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond every few milliseconds until it holds or bound has
// passed, and tells whether it held.
func Eventually(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitFor fails t when cond does not hold within 10 seconds.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	if !Eventually(10*time.Second, cond) {
		t.Fatal("condition not met within 10s")
	}
}
