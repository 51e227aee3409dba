package collector

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Exporter holds what outlives a scrape: the configured targets with their
// cached answers and polls in flight, the provider clients (SMH access
// tokens) reused across scrapes and targets, and the credentials' back-off
// gates. Apply swaps the configuration; state of targets whose
// configuration is unchanged is kept.
type Exporter struct {
	http   *upstream.Client
	logger log.Logger
	now    func() time.Time
	// logRequests logs every upstream request at debug level; off, not
	// even the log line is built (its caller and time cost more than the
	// level filter that would drop it).
	logRequests bool

	mu      sync.RWMutex
	targets []*target // in configuration order
	byName  map[string]*target
	byKey   map[string]*target
	// clients are long-lived provider clients, keyed by a digest of what
	// they are built from; each service knows its own type.
	clients carryOver[any]
	gates   carryOver[*upstream.Gate]
}

// New returns an Exporter with no targets; call Apply with a configuration.
func New(client *upstream.Client, logger log.Logger) *Exporter {
	return &Exporter{
		http:   client,
		logger: logger,
		now:    time.Now,
		byName: map[string]*target{},
		byKey:  map[string]*target{},
	}
}

// LogRequests turns the debug line per upstream request on or off, for
// targets created from the next Apply on; call it before the first.
func (e *Exporter) LogRequests(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logRequests = on
}

// Apply makes cfg the configuration that scrapes use. cfg must be valid
// (config.Load validated it).
func (e *Exporter) Apply(cfg *config.Config) {
	e.mu.Lock()
	defer e.mu.Unlock()

	oldByKey := e.byKey
	e.clients.begin()
	e.gates.begin()
	e.targets = make([]*target, 0, len(cfg.Targets))
	e.byName = make(map[string]*target, len(cfg.Targets))
	e.byKey = make(map[string]*target, len(cfg.Targets))

	for _, tc := range cfg.Targets {
		cred := cfg.Credential(tc.Credentials)
		key := fingerprint(tc, cred)
		t, ok := oldByKey[key]
		if !ok {
			t = &target{
				name:        tc.Name,
				service:     tc.Service,
				timeout:     time.Duration(tc.Timeout),
				cacheTTL:    time.Duration(tc.CacheTTL),
				sampleLimit: tc.SampleLimit,
				logger:      log.With(e.logger, "target", tc.Name, "service", tc.Service),
				logRequests: e.logRequests,
				now:         e.now,
			}
		}
		// A kept target's poll is built again too: that registers its
		// gate and clients with this configuration, so that they are
		// kept, and shared with the new targets of the same credential.
		t.setPoll(e.newPoll(t, tc, cred))
		e.targets = append(e.targets, t)
		e.byName[t.name] = t
		e.byKey[key] = t
	}
}

// newPoll builds the upstream call of a target from its service. Called
// with e.mu held.
func (e *Exporter) newPoll(t *target, tc config.Target, cred *config.Credential) pollFunc {
	svc, known := services[tc.Service]
	endpoint, err := url.Parse(tc.Endpoint)
	if !known || err != nil || cred == nil {
		// Unreachable after validation; report it on every scrape instead of crashing.
		return func(context.Context) (answer, error) {
			return nil, fmt.Errorf("target %q is misconfigured", tc.Name)
		}
	}
	gate := e.gate(cred)
	t.setCredential(cred.Name, gate, e.credentialInfo(cred))
	httpClient, err := e.httpFor(&tc.HTTP)
	if err != nil {
		// The target's own TLS or proxy settings are unusable (a CA file
		// that is not PEM): that target fails, the others go on.
		return func(context.Context) (answer, error) { return nil, err }
	}
	return svc.newPoll(e, pollSpec{target: tc, cred: cred, endpoint: endpoint, gate: gate, http: httpClient})
}

// httpFor returns the upstream client for a target's TLS and proxy
// settings: the shared one for the default settings, else one per distinct
// setting, so that targets with the same settings share their connections.
// Called with e.mu held.
func (e *Exporter) httpFor(settings *config.HTTPSettings) (*upstream.Client, error) {
	if settings.IsDefault() {
		return e.http, nil
	}
	type built struct {
		client *upstream.Client
		err    error
	}
	b := e.clients.get("http:"+settings.Key(), func() any {
		client, err := e.http.With(upstream.HTTPSettings{TLS: settings.TLS, Proxy: settings.Proxy})
		return built{client, err}
	}).(built)
	return b.client, b.err
}

// gate returns the back-off gate of a credential. Gates are keyed by what
// the cloud locks, not by name: Huawei locks an AK however many names or
// secret keys it has in the configuration, and a rotated security token
// does not reset its count. Metadata credentials have no AK in the file:
// their service names them. Called with e.mu held.
func (e *Exporter) gate(cred *config.Credential) *upstream.Gate {
	var key string
	switch {
	case cred.Type == config.CredentialTypeTencentSMH:
		key = hashOf(cred.Type, cred.LibraryID)
	case cred.Source == config.SourceMetadata:
		key = hashOf(cred.Type, cred.Source, cred.MetadataEndpoint)
	default:
		key = hashOf(cred.Type, cred.AccessKey.Value())
	}
	return e.gates.get(key, func() *upstream.Gate { return upstream.NewGate(e.now) })
}

// Scrape returns a collector for one scrape of every target, bounded by ctx.
func (e *Exporter) Scrape(ctx context.Context) *Scrape {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return &Scrape{ctx: ctx, targets: append([]*target(nil), e.targets...), now: e.now, turns: 2 * e.http.Slots()}
}

// ScrapeTarget returns a collector for one scrape of the named target, and
// false when no such target is configured.
func (e *Exporter) ScrapeTarget(ctx context.Context, name string) (*Scrape, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, ok := e.byName[name]
	if !ok {
		return nil, false
	}
	return &Scrape{ctx: ctx, targets: []*target{t}, now: e.now}, true
}
