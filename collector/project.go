package collector

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// maxLookupTimeouts bounds a project lookup, in request timeouts of the
// target that started it: its two IAM requests and a wait for the
// credential's trial request in the gate.
const maxLookupTimeouts = 3

// projectLookup finds the Huawei project of one credential in one region,
// by name in IAM, for every target that names only the region. The id it
// finds is kept until the next reload, as the contract says; concurrent
// first uses share one lookup, and a failed lookup is tried again by the
// next poll that needs it, never cached.
type projectLookup struct {
	region string

	mu       sync.Mutex
	client   *huawei.Client // IAM, from the latest configuration
	id       string         // "" until found
	inflight *lookupCall
	// generation counts reloads, so that a lookup started before one
	// does not store its id after it.
	generation int
}

// lookupCall is one lookup that any number of polls wait for.
type lookupCall struct {
	done chan struct{}
	id   string
	err  error
}

// projectLookup returns the shared lookup for a target's credential,
// region and IAM endpoint (and its TLS and proxy settings, which reach
// IAM too). It is kept in e.clients like an SMH client, so that every
// target of this configuration shares it; the first target of a new
// configuration to ask for it starts a new generation, so that a reload
// looks the project up again. Called with e.mu held.
func (e *Exporter) projectLookup(s pollSpec, iam *huawei.Client) *projectLookup {
	key := hashOf(append([]string{"iam-project", s.target.Region, s.target.IAMEndpoint, s.target.HTTP.Key()}, credentialFields(s.cred)...)...)
	_, thisConfig := e.clients.cur[key]
	l := e.clients.get(key, func() any { return &projectLookup{region: s.target.Region} }).(*projectLookup)
	if !thisConfig {
		l.reset(iam)
	}
	return l
}

// reset forgets the found id and makes iam the client of later lookups.
func (l *projectLookup) reset(iam *huawei.Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.client, l.id, l.inflight = iam, "", nil
	l.generation++
}

// get returns the project id, looking it up when it is not known yet. The
// lookup runs on its own, bounded by maxLookupTimeouts of timeout, so that
// a poll that gives up does not cancel it for the others waiting; its
// requests keep ctx's per-request timeout.
func (l *projectLookup) get(ctx context.Context, timeout time.Duration) (string, error) {
	l.mu.Lock()
	if l.id != "" {
		defer l.mu.Unlock()
		return l.id, nil
	}
	call := l.inflight
	if call == nil {
		call = &lookupCall{done: make(chan struct{})}
		l.inflight = call
		// The lookup is its own party in the credential's gate: a refusal
		// backs the lookup off for every target that waits for it, rather
		// than only the target that happened to start it while the next
		// one sends the same refused request again.
		detached := upstream.WithTarget(context.WithoutCancel(ctx), "project lookup of region "+l.region)
		lookupCtx, cancel := context.WithTimeout(detached, maxLookupTimeouts*timeout)
		go func(client *huawei.Client, generation int) {
			defer cancel()
			call.id, call.err = client.FindProject(lookupCtx, l.region)
			l.mu.Lock()
			if l.generation == generation {
				l.inflight = nil
				if call.err == nil {
					l.id = call.id
				}
			}
			l.mu.Unlock()
			close(call.done)
		}(l.client, l.generation)
	}
	l.mu.Unlock()
	defer upstream.Park(ctx)()
	select {
	case <-call.done:
		return call.id, call.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// projectClient returns a target's client for its project: the one
// configured, or the one the shared lookup finds.
type projectClient func(ctx context.Context) (*huawei.Client, string, error)

// newProjectClient builds a Workspace or CTS target's projectClient from
// its client. Called with e.mu held.
func (e *Exporter) newProjectClient(s pollSpec) projectClient {
	client := newHuaweiClient(e, s)
	if projectID := s.target.ProjectID; projectID != "" {
		return func(context.Context) (*huawei.Client, string, error) { return client, projectID, nil }
	}
	iamEndpoint, err := url.Parse(s.target.IAMEndpoint)
	if err != nil {
		// Unreachable after validation; report it on every scrape instead of crashing.
		return func(context.Context) (*huawei.Client, string, error) { return nil, "", err }
	}
	lookup := e.projectLookup(s, client.IAM(iamEndpoint))
	timeout := time.Duration(s.target.Timeout)
	return func(ctx context.Context) (*huawei.Client, string, error) {
		id, err := lookup.get(ctx, timeout)
		if err != nil {
			return nil, "", err
		}
		return client.WithProject(id), id, nil
	}
}
