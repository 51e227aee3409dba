package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
)

// The benchmark's credentials; they open nothing but the in-process
// simulated cloud.
const (
	smhCredential   = "bench-smh"
	smhLibrary      = "smhbenchlib"
	smhSecret       = "bench-library-secret"
	hwCredential    = "bench-hw"
	hwAccessKey     = "BENCHACCESSKEY000001"
	hwSecretKey     = "bench-secret-key-000000000000001"
	smhSpacesPerReq = 50 // the exporter batches SMH space ids 50 per request
)

// fleetSpec describes the simulated estate of one scenario.
type fleetSpec struct {
	service   string // mix, smh, workspace or cts
	targets   int
	resources int // Workspace/CTS resources per site or target, SMH spaces per target
	sites     int // Workspace sites per target
	latency   time.Duration
}

// benchTarget is one configured target and what one poll of it costs.
type benchTarget struct {
	name, service string
	spaceIDs      []string // smh
	projectID     string   // workspace, cts
	siteIDs       []string // workspace
	// requests is the number of upstream data requests one poll sends:
	// SMH ceil(spaces/50), Workspace one per site, CTS one.
	requests int
	// series is the number of quota samples the target yields.
	series int
}

// fleet is a running simulated cloud with its targets.
type fleet struct {
	spec    fleetSpec
	cloud   *simcloud.Cloud
	targets []benchTarget
	probe   *probe
	// expectedRequests and expectedSeries are per full poll of every
	// target.
	expectedRequests int
	expectedSeries   int
}

// serviceOf returns the service of the i-th target.
func serviceOf(mix string, i int) string {
	if mix == "mix" {
		return []string{config.ServiceSMH, config.ServiceWorkspace, config.ServiceCTS}[i%3]
	}
	return mix
}

// startFleet builds the simulated cloud for spec and serves it on loopback,
// with a hook that delays every request (token and data) by spec.latency.
func startFleet(spec fleetSpec) (*fleet, error) {
	p := simcloud.Ptr
	cloud := &simcloud.Cloud{
		TokenLifetime: 24 * time.Hour,
		Libraries:     map[string]*simcloud.Library{smhLibrary: {Secret: smhSecret}},
		Keys:          map[string]simcloud.Key{hwAccessKey: {SecretKey: hwSecretKey}},
		Projects:      map[string]*simcloud.Project{},
	}
	lib := cloud.Libraries[smhLibrary]
	f := &fleet{spec: spec, cloud: cloud}
	resources := func(seed int) []*simcloud.Resource {
		out := make([]*simcloud.Resource, spec.resources)
		for j := range out {
			limit := uint64(100 * (j + 1))
			out[j] = &simcloud.Resource{Type: fmt.Sprintf("resource_%02d", j), Unit: "count", Quota: p(limit), Used: uint64(seed+j) % limit}
		}
		return out
	}
	for i := 0; i < spec.targets; i++ {
		svc := serviceOf(spec.service, i)
		t := benchTarget{name: fmt.Sprintf("%s-%04d", svc, i), service: svc}
		switch svc {
		case config.ServiceSMH:
			for j := 0; j < spec.resources; j++ {
				id := fmt.Sprintf("t%04d-s%03d", i, j)
				t.spaceIDs = append(t.spaceIDs, id)
				lib.Spaces = append(lib.Spaces, &simcloud.Space{ID: id, Capacity: p(1 << 40), Used: uint64(i*1000+j) << 20})
			}
			t.requests = (spec.resources + smhSpacesPerReq - 1) / smhSpacesPerReq
			t.series = 3 * spec.resources // capacity, available, used
		case config.ServiceWorkspace:
			t.projectID = fmt.Sprintf("wsproject%04d", i)
			proj := &simcloud.Project{Sites: map[string][]*simcloud.Resource{}}
			for s := 0; s < spec.sites; s++ {
				site := fmt.Sprintf("site-%02d", s)
				t.siteIDs = append(t.siteIDs, site)
				proj.Sites[site] = resources(i + s)
			}
			proj.DefaultSite = t.siteIDs[0]
			cloud.Projects[t.projectID] = proj
			t.requests = spec.sites
			t.series = 2 * spec.resources * spec.sites // limit, used
		case config.ServiceCTS:
			t.projectID = fmt.Sprintf("ctsproject%04d", i)
			cloud.Projects[t.projectID] = &simcloud.Project{CTS: resources(i)}
			t.requests = 1
			t.series = 2 * spec.resources
		default:
			return nil, fmt.Errorf("unknown service %q (want mix, smh, workspace or cts)", svc)
		}
		f.expectedRequests += t.requests
		f.expectedSeries += t.series
		f.targets = append(f.targets, t)
	}
	if err := cloud.Start(); err != nil {
		return nil, fmt.Errorf("starting the simulated cloud: %w", err)
	}
	f.probe = newProbe(spec.latency)
	cloud.SetHook(f.probe.hook)
	return f, nil
}

func (f *fleet) close() { f.cloud.Close() }

// dataRequests sums the data operations of a Counts snapshot.
func dataRequests(c map[string]int) int {
	return c[simcloud.OpSMHUsage] + c[simcloud.OpWorkspaceQuotas] + c[simcloud.OpCTSQuotas]
}

// configYAML writes the exporter configuration for the fleet: one inline
// credential per service, every target pointed at the simulated cloud.
func (f *fleet) configYAML(timeout, cacheTTL time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  timeout: %s\n  cache_ttl: %s\n", timeout, cacheTTL)
	fmt.Fprintf(&b, `credentials:
  - name: %s
    type: tencent_smh
    library_id: %s
    library_secret: %s
  - name: %s
    type: huaweicloud
    access_key: %s
    secret_key: %s
targets:
`, smhCredential, smhLibrary, smhSecret, hwCredential, hwAccessKey, hwSecretKey)
	for _, t := range f.targets {
		fmt.Fprintf(&b, "  - name: %s\n    service: %s\n    endpoint: %s\n", t.name, t.service, f.cloud.URL)
		switch t.service {
		case config.ServiceSMH:
			fmt.Fprintf(&b, "    credentials: %s\n    space_ids: [%s]\n", smhCredential, strings.Join(t.spaceIDs, ", "))
		case config.ServiceWorkspace:
			fmt.Fprintf(&b, "    credentials: %s\n    project_id: %s\n    site_ids: [%s]\n", hwCredential, t.projectID, strings.Join(t.siteIDs, ", "))
		case config.ServiceCTS:
			fmt.Fprintf(&b, "    credentials: %s\n    project_id: %s\n", hwCredential, t.projectID)
		}
	}
	return b.String()
}

// probe is the cloud's hook: it injects the latency and watches the
// requests go by (peak in flight, connections, per-request log for the HA
// scenario). It always lets the simulated API answer.
type probe struct {
	latency time.Duration

	mu       sync.Mutex
	inflight int
	peak     int
	conns    map[string]bool // client addresses seen
	newConns int
	record   bool
	events   []requestEvent
	// lastIn and lastOut are when the last request since reset reached
	// the cloud and when the last one's latency ended (its answer went).
	lastIn, lastOut time.Time
}

// requestEvent is one data request, for counting polls per target per
// interval.
type requestEvent struct {
	at  time.Time
	key string // the path plus site: one key per request of a poll
}

func newProbe(latency time.Duration) *probe {
	return &probe{latency: latency, conns: map[string]bool{}}
}

func (p *probe) hook(w http.ResponseWriter, r *http.Request) bool {
	now := time.Now()
	p.mu.Lock()
	p.inflight++
	p.peak = max(p.peak, p.inflight)
	if !p.conns[r.RemoteAddr] {
		p.conns[r.RemoteAddr] = true
		p.newConns++
	}
	p.lastIn = now
	if p.record && r.URL.Path != "/api/v1/token" {
		p.events = append(p.events, requestEvent{at: now, key: r.URL.Path + "?" + r.URL.Query().Get("site_id")})
	}
	p.mu.Unlock()
	if p.latency > 0 {
		timer := time.NewTimer(p.latency)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
		}
	}
	p.mu.Lock()
	p.inflight--
	p.lastOut = time.Now()
	p.mu.Unlock()
	return false
}

// reset starts a measurement: peak in flight and new connections count
// from here; record turns the per-request log on.
func (p *probe) reset(record bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak, p.newConns = p.inflight, 0
	p.record, p.events = record, nil
	p.lastIn, p.lastOut = time.Time{}, time.Time{}
}

// window returns when the last request since reset reached the cloud and
// when the last answer left it (zero when none came).
func (p *probe) window() (lastIn, lastOut time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastIn, p.lastOut
}

// snapshot returns the peak in flight and the connections opened since
// reset, and the request log.
func (p *probe) snapshot() (peak, newConns int, events []requestEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak, p.newConns, append([]requestEvent(nil), p.events...)
}
