package collector

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/smh"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// targetData is one target's answer as plain values, ready to become
// metrics. Exactly one of the service fields is set.
type targetData struct {
	smh       *smh.Usage
	workspace []workspaceSite
	cts       *huawei.Quotas
}

// workspaceSite is the Workspace answer for one configured site.
type workspaceSite struct {
	siteID string
	quotas huawei.Quotas
}

// skipped lists the single values upstream sent that could not be used.
func (d *targetData) skipped() []string {
	switch {
	case d.smh != nil:
		return d.smh.Skipped
	case d.cts != nil:
		return d.cts.Skipped
	}
	var all []string
	for _, s := range d.workspace {
		all = append(all, s.quotas.Skipped...)
	}
	return all
}

// newPoll builds the upstream call of one target. smhClient returns the
// shared SMH client (and so the shared token) of a credential and endpoint.
func (e *Exporter) newPoll(t config.Target, cred *config.Credential, endpoint *url.URL, gate *upstream.Gate) pollFunc {
	switch t.Service {
	case config.ServiceSMH:
		client := e.smhClient(cred, endpoint)
		spaceIDs := t.SpaceIDs
		return func(ctx context.Context) (*targetData, error) {
			usage, err := client.Usage(ctx, spaceIDs)
			if err != nil {
				return nil, err
			}
			return &targetData{smh: usage}, nil
		}
	case config.ServiceWorkspace:
		client := huawei.NewClient(e.http, t.Service, endpoint, t.ProjectID, huaweiCredentials(cred), gate)
		return workspacePoll(client, t.SiteIDs, t.AZCode)
	case config.ServiceCTS:
		client := huawei.NewClient(e.http, t.Service, endpoint, t.ProjectID, huaweiCredentials(cred), gate)
		return func(ctx context.Context) (*targetData, error) {
			quotas, err := client.CTSQuotas(ctx)
			if err != nil {
				return nil, err
			}
			return &targetData{cts: quotas}, nil
		}
	}
	// config validation makes this unreachable; fail the target, not the process.
	return func(context.Context) (*targetData, error) {
		return nil, fmt.Errorf("unknown service %q", t.Service)
	}
}

// workspacePoll asks for every configured site at once (one request per
// site, or one without site_id when none is configured). One failed site
// fails the target: a partial answer would read as a quota that vanished.
func workspacePoll(client *huawei.Client, siteIDs []string, azCode string) pollFunc {
	sites := siteIDs
	if len(sites) == 0 {
		sites = []string{""}
	}
	return func(ctx context.Context) (*targetData, error) {
		// errgroup cancels the other sites at the first failure and keeps
		// that error, not the cancellations it causes.
		results := make([]workspaceSite, len(sites))
		g, gctx := errgroup.WithContext(ctx)
		for i, site := range sites {
			g.Go(func() error {
				q, err := client.WorkspaceQuotas(gctx, site, azCode)
				if err != nil {
					return err
				}
				label := site
				if label == "" {
					label = q.SiteID
				}
				results[i] = workspaceSite{siteID: label, quotas: q.Quotas}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		return &targetData{workspace: results}, nil
	}
}

func huaweiCredentials(c *config.Credential) huawei.Credentials {
	return huawei.Credentials{
		AccessKey:     string(c.AccessKey),
		SecretKey:     string(c.SecretKey),
		SecurityToken: string(c.SecurityToken),
	}
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
