package collector

import (
	"context"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/smh"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// smhService reads the capacity and usage of a library's tenant spaces.
var smhService = service{
	descs:   []*prometheus.Desc{smhCapacityDesc, smhAvailableDesc, smhUsedDesc},
	newPoll: newSMHPoll,
}

var (
	smhCapacityDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "smh", "space_capacity_bytes"),
		"Quota of the Smart Media Hosting tenant space in bytes (capacity); absent when the space has no quota. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
	smhAvailableDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "smh", "space_available_bytes"),
		"Space left in the Smart Media Hosting tenant space in bytes (availableSpace); absent when the space has no quota. Upstream updates it with a delay. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
	smhUsedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "smh", "space_used_bytes"),
		"Bytes taken by the files of the Smart Media Hosting tenant space (size). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
)

// smhAnswer is the usage of a target's spaces.
type smhAnswer struct {
	libraryID string
	usage     *smh.Usage
}

func newSMHPoll(e *Exporter, s pollSpec) pollFunc {
	client := e.smhClient(s.cred, s.endpoint)
	spaceIDs, libraryID := s.target.SpaceIDs, s.cred.LibraryID
	return func(ctx context.Context) (answer, error) {
		usage, err := client.Usage(ctx, spaceIDs)
		if err != nil {
			return nil, err
		}
		return smhAnswer{libraryID: libraryID, usage: usage}, nil
	}
}

func (a smhAnswer) samples(b *sampleBuilder) {
	for _, s := range a.usage.Spaces {
		l, ok := b.labels(func() string { return "space " + upstream.Quote(s.SpaceID) }, b.target, a.libraryID, s.SpaceID)
		if !ok {
			continue
		}
		b.gauge(smhCapacityDesc, s.Capacity, l...)
		b.gauge(smhAvailableDesc, s.Available, l...)
		b.gauge(smhUsedDesc, s.Used, l...)
	}
}

func (a smhAnswer) skipped() []string { return a.usage.Skipped }

// smhClient returns the one client of a credential and endpoint, so that
// every target using them shares an access token, and a reload that keeps
// them keeps the token. Called with e.mu held.
func (e *Exporter) smhClient(cred *config.Credential, endpoint *url.URL) *smh.Client {
	key := hashOf(append([]string{config.ServiceSMH, endpoint.String()}, credentialFields(cred)...)...)
	return e.clients.get(key, func() any {
		return smh.NewClient(e.http, endpoint, smhCredentials(cred), e.gate(cred))
	}).(*smh.Client)
}

func smhCredentials(c *config.Credential) smh.Credentials {
	return smh.Credentials{
		LibraryID:     c.LibraryID,
		LibrarySecret: string(c.LibrarySecret),
		Grant:         c.Grant,
		UserID:        c.UserID,
		TokenPeriod:   time.Duration(c.TokenPeriod),
	}
}
