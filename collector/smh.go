package collector

import (
	"context"
	"slices"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/smh"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// smhService reads the capacity and usage of a library's tenant spaces,
// listed in the configuration or by SMH, and optionally the library's
// totals.
var smhService = service{
	families: []*family{
		smhCapacityDesc, smhAvailableDesc, smhUsedDesc,
		smhLibraryUsedDesc, smhLibraryCapacityDesc, smhLibraryAvailableDesc, smhLibraryAllocatedDesc,
	},
	newPoll: newSMHPoll,
}

var (
	smhCapacityDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "space_capacity_bytes"),
		"Quota of the Smart Media Hosting tenant space in bytes (capacity); absent when the space has no quota. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
	smhAvailableDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "space_available_bytes"),
		"Space left in the Smart Media Hosting tenant space in bytes (availableSpace); absent when the space has no quota. Upstream updates it with a delay. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
	smhUsedDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "space_used_bytes"),
		"Bytes taken by the files of the Smart Media Hosting tenant space (size). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)

	smhLibraryLabels   = []string{"target", "library_id"}
	smhLibraryUsedDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "library_used_bytes"),
		"Bytes taken by the files of the whole Smart Media Hosting library (totalFileSize); with library_usage only. Values may be cached up to the target's cache_ttl.",
		smhLibraryLabels, nil)
	smhLibraryCapacityDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "library_capacity_bytes"),
		"Capacity of the Smart Media Hosting library in bytes (capacity); absent when upstream sends none. With library_usage only.",
		smhLibraryLabels, nil)
	smhLibraryAvailableDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "library_available_bytes"),
		"Space left in the Smart Media Hosting library in bytes (availableSpace); absent when upstream sends none. With library_usage only.",
		smhLibraryLabels, nil)
	smhLibraryAllocatedDesc = newFamily(
		prometheus.BuildFQName(namespace, "smh", "library_allocated_bytes"),
		"Bytes of the Smart Media Hosting library allotted to tenant-space quotas (totalAllocatedSpaceQuota); absent when upstream sends none. With library_usage only.",
		smhLibraryLabels, nil)
)

// smhAnswer is the usage of a target's spaces and, with library_usage,
// the library's totals.
type smhAnswer struct {
	libraryID string
	usage     *smh.Usage        // nil when there was no space to ask for
	library   *smh.LibraryUsage // nil without library_usage
	notes     []string
}

func newSMHPoll(e *Exporter, s pollSpec) pollFunc {
	client := e.smhClient(s)
	tc, libraryID := s.target, s.cred.LibraryID
	interval := tc.DiscoveryInterval.D()
	if interval <= 0 {
		interval = config.DefaultDiscoveryInterval
	}
	logger := log.With(e.logger, "target", tc.Name, "service", tc.Service)
	return func(ctx context.Context) (answer, error) {
		a := smhAnswer{libraryID: libraryID}
		g, gctx := errgroup.WithContext(ctx)
		if tc.LibraryUsage {
			g.Go(func() (err error) {
				a.library, err = client.LibraryUsage(gctx)
				return err
			})
		}
		g.Go(func() error {
			spaceIDs := tc.SpaceIDs
			if tc.DiscoverSpaces {
				list, err := client.Spaces(gctx, interval)
				if err != nil {
					return err
				}
				if list.Stale != nil {
					level.Warn(logger).Log("msg", "Listing the SMH spaces failed; polling the last good list", "spaces", len(list.IDs), "listed_at", list.ListedAt.UTC().Format(time.RFC3339), "err", list.Stale)
				}
				spaceIDs, a.notes = list.IDs, list.Skipped
				if len(spaceIDs) == 0 {
					return nil // a library without spaces
				}
			}
			var err error
			a.usage, err = client.Usage(gctx, spaceIDs, interval)
			return err
		})
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return a, nil
	}
}

func (a smhAnswer) samples(b *sampleBuilder) {
	if a.usage != nil {
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
	if lib := a.library; lib != nil {
		b.gauge(smhLibraryUsedDesc, lib.Used, b.target, a.libraryID)
		b.gauge(smhLibraryCapacityDesc, lib.Capacity, b.target, a.libraryID)
		b.gauge(smhLibraryAvailableDesc, lib.Available, b.target, a.libraryID)
		b.gauge(smhLibraryAllocatedDesc, lib.Allocated, b.target, a.libraryID)
	}
}

func (a smhAnswer) skipped() []string {
	notes := slices.Clone(a.notes)
	if a.usage != nil {
		notes = append(notes, a.usage.Skipped...)
	}
	if a.library != nil {
		notes = append(notes, a.library.Skipped...)
	}
	return notes
}

// smhClient returns the one client of a credential and endpoint, so that
// every target using them shares an access token, a space listing and what
// it learnt of missing spaces, and a reload that keeps them keeps those.
// Called with e.mu held.
func (e *Exporter) smhClient(s pollSpec) *smh.Client {
	key := hashOf(append([]string{config.ServiceSMH, s.endpoint.String(), s.target.HTTP.Key()}, credentialFields(s.cred)...)...)
	return e.clients.get(key, func() any {
		return smh.NewClient(s.http, s.endpoint, smhCredentials(s.cred), s.gate)
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
