package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/smh"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// Exporter holds what outlives a scrape: the configured targets with their
// cached answers and polls in flight, the SMH clients whose access tokens
// are reused across scrapes and targets, and the credentials' back-off
// gates. Apply swaps the configuration; state of targets whose
// configuration is unchanged is kept.
type Exporter struct {
	http   *upstream.Client
	logger log.Logger
	now    func() time.Time

	mu         sync.RWMutex
	targets    []*target // in configuration order
	byName     map[string]*target
	byKey      map[string]*target
	smhClients carryOver[*smh.Client]
	gates      carryOver[*upstream.Gate]
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

// Apply makes cfg the configuration that scrapes use. cfg must be valid
// (config.Load validated it).
func (e *Exporter) Apply(cfg *config.Config) {
	e.mu.Lock()
	defer e.mu.Unlock()

	oldByKey := e.byKey
	e.smhClients.begin()
	e.gates.begin()
	e.targets = make([]*target, 0, len(cfg.Targets))
	e.byName = make(map[string]*target, len(cfg.Targets))
	e.byKey = make(map[string]*target, len(cfg.Targets))

	for _, tc := range cfg.Targets {
		cred := cfg.Credential(tc.Credentials)
		key := fingerprint(tc, cred)
		t, ok := oldByKey[key]
		if !ok {
			t = e.newTarget(tc, cred)
		} else if cred != nil {
			// Register the kept target's gate and client so that new
			// targets of the same credential share them.
			e.gate(cred)
			if tc.Service == config.ServiceSMH {
				e.smhClient(cred, t.endpoint)
			}
		}
		e.targets = append(e.targets, t)
		e.byName[t.name] = t
		e.byKey[key] = t
	}
}

func (e *Exporter) newTarget(tc config.Target, cred *config.Credential) *target {
	t := &target{
		name:      tc.Name,
		service:   tc.Service,
		timeout:   time.Duration(tc.Timeout),
		cacheTTL:  time.Duration(tc.CacheTTL),
		labels:    targetLabels{projectID: tc.ProjectID},
		onOutcome: e.logOutcome,
		now:       e.now,
	}
	if cred != nil {
		t.labels.libraryID = cred.LibraryID
	}
	endpoint, err := url.Parse(tc.Endpoint)
	if err != nil || cred == nil {
		// Unreachable after validation; report it on every scrape instead of crashing.
		t.poll = func(context.Context) (*targetData, error) {
			return nil, fmt.Errorf("target %q is misconfigured", tc.Name)
		}
		return t
	}
	t.endpoint = endpoint
	t.credential, t.gate = cred.Name, e.gate(cred)
	t.poll = e.newPoll(tc, cred, endpoint, t.gate)
	return t
}

// gate returns the back-off gate of a credential. Credentials are keyed by
// their key material, not their name: the cloud locks a key however many
// names it has in the configuration. Called with e.mu held.
func (e *Exporter) gate(cred *config.Credential) *upstream.Gate {
	key := hashOf(cred.Type, cred.AccessKey.Value(), cred.SecretKey.Value(), cred.SecurityToken.Value(), cred.LibraryID, cred.LibrarySecret.Value())
	return e.gates.get(key, func() *upstream.Gate { return upstream.NewGate(e.now) })
}

// smhClient returns the one client of a credential and endpoint, so that
// every target using them shares an access token, and a reload that keeps
// them keeps the token. Called with e.mu held.
func (e *Exporter) smhClient(cred *config.Credential, endpoint *url.URL) *smh.Client {
	return e.smhClients.get(smhClientKey(cred, endpoint.String()), func() *smh.Client {
		return smh.NewClient(e.http, endpoint, smhCredentials(cred), e.gate(cred))
	})
}

func smhClientKey(cred *config.Credential, endpoint string) string {
	return hashOf(append(credentialFields(cred), endpoint)...)
}

// fingerprint identifies a target's configuration, credential included, so
// that a reload keeps the state of targets it did not change, and only
// those: a rotated secret must reach the clients.
func fingerprint(tc config.Target, cred *config.Credential) string {
	return hashOf(append(credentialFields(cred), fmt.Sprintf("%#v", tc))...)
}

// credentialFields lists every field of a credential with its secrets in
// clear: config.Secret prints as "<secret>", which would hide a rotation.
func credentialFields(c *config.Credential) []string {
	if c == nil {
		return nil
	}
	return []string{
		c.Name, c.Type, c.AccessKey.Value(), c.SecretKey.Value(), c.SecurityToken.Value(),
		c.LibraryID, c.LibrarySecret.Value(), c.Grant, c.TokenPeriod.String(), c.UserID,
	}
}

// hashOf digests the fields; secrets are among them, so only the digest
// is kept.
func hashOf(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Scrape returns a collector for one scrape of every target, bounded by ctx.
func (e *Exporter) Scrape(ctx context.Context) prometheus.Collector {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return &scrape{ctx: ctx, targets: append([]*target(nil), e.targets...), logger: e.logger, now: e.now}
}

// ScrapeTarget returns a collector for one scrape of the named target, and
// false when no such target is configured.
func (e *Exporter) ScrapeTarget(ctx context.Context, name string) (prometheus.Collector, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, ok := e.byName[name]
	if !ok {
		return nil, false
	}
	return &scrape{ctx: ctx, targets: []*target{t}, logger: e.logger, now: e.now}, true
}

// logOutcome logs a finished poll once, however many scrapes shared it.
func (e *Exporter) logOutcome(t *target, o outcome, abandoned bool) {
	logger := log.With(e.logger, "target", t.name, "service", t.service)
	if o.err == nil {
		for _, s := range o.data.skipped() {
			level.Warn(logger).Log("msg", "Skipped an unusable upstream value", "value", s)
		}
		return
	}
	if abandoned {
		level.Warn(logger).Log("msg", "Target poll abandoned: every scrape waiting for it reached its deadline", "err", o.err)
		return
	}
	keyvals := []any{"msg", "Target poll failed", "err", o.err}
	var apiErr *upstream.APIError
	var transportErr *upstream.TransportError
	var decodeErr *upstream.DecodeError
	switch {
	case errors.As(o.err, &apiErr):
		keyvals = append(keyvals, "status", apiErr.StatusCode, "code", apiErr.Code, "request_id", apiErr.RequestID)
	case errors.As(o.err, &transportErr):
		if transportErr.StatusCode != 0 {
			// The status line came before the body broke off.
			keyvals = append(keyvals, "status", transportErr.StatusCode)
		}
		keyvals = append(keyvals, "request_id", transportErr.RequestID)
	case errors.As(o.err, &decodeErr):
		keyvals = append(keyvals, "request_id", decodeErr.RequestID)
	}
	level.Warn(logger).Log(keyvals...)
}
