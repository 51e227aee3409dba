package simcloud

import (
	"math"
	"time"
)

// Library is an SMH media library.
type Library struct {
	Secret string
	Spaces []*Space
}

// Space is an SMH tenant space. A nil Capacity means no quota: upstream
// then sends null for capacity and availableSpace.
type Space struct {
	ID       string
	Capacity *uint64
	Used     uint64
	// Swing makes Used drift over time by up to this fraction of itself.
	Swing float64
	// Raw, when set, is sent verbatim as the space's element of the usage
	// answer instead of the fields above, for tests of odd answers. It must
	// be valid JSON.
	Raw string
}

// Resource is one Huawei quota (Workspace or CTS). A nil Quota is sent as
// null.
type Resource struct {
	Type  string
	Unit  string // Workspace only
	Quota *uint64
	Used  uint64
	// Swing makes Used drift over time by up to this fraction of Quota.
	Swing float64
}

// Project is a Huawei project: its Workspace sites and its CTS quotas.
type Project struct {
	// Sites maps a Workspace site id to its quotas; DefaultSite answers
	// requests without site_id.
	Sites       map[string][]*Resource
	DefaultSite string
	CTS         []*Resource
}

// Ptr returns a pointer to v, for optional quotas.
func Ptr(v uint64) *uint64 { return &v }

// drift moves used along a slow sine wave, so that the demo's graphs move
// and its near-full quotas cross alert thresholds now and then. The result
// stays within [0, limit] when limit is set.
func drift(used uint64, swing float64, amplitudeBase uint64, limit *uint64, elapsed, period time.Duration) uint64 {
	if swing == 0 || period <= 0 {
		return used
	}
	phase := 2 * math.Pi * float64(elapsed) / float64(period)
	v := float64(used) + swing*float64(amplitudeBase)*math.Sin(phase)
	if v < 0 {
		v = 0
	}
	if limit != nil && v > float64(*limit) {
		v = float64(*limit)
	}
	return uint64(v)
}
