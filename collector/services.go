package collector

import (
	"context"
	"net/url"
	"slices"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// answer is one target's upstream answer as plain values, ready to become
// metrics. Each service has its own.
type answer interface {
	// samples adds the answer's quota samples to b, once per answer.
	samples(b *sampleBuilder)
	// skipped lists the single values upstream sent that could not be used.
	skipped() []string
}

// pollFunc asks upstream for one target's data.
type pollFunc func(ctx context.Context) (answer, error)

// pollSpec is what a service builds a target's poll from: the validated
// target, its credential, endpoint, the credential's back-off gate and the
// upstream client for the target's TLS and proxy settings.
type pollSpec struct {
	target   config.Target
	cred     *config.Credential
	endpoint *url.URL
	gate     *upstream.Gate
	http     *upstream.Client
}

// service is one upstream service: the families of its quota metrics and
// how a target's configuration becomes its upstream call.
type service struct {
	families []*family
	// newPoll is called at every Apply, with the Exporter's lock held, for
	// new and kept targets alike, so that it may register long-lived
	// clients (an SMH token) that the new configuration still uses.
	newPoll func(e *Exporter, s pollSpec) pollFunc
}

// services holds every service by its configuration name. Adding a service
// is a file with its service value, an entry here and its validation in
// config.
var services = map[string]service{
	config.ServiceSMH:       smhService,
	config.ServiceWorkspace: workspaceService,
	config.ServiceCTS:       ctsService,
}

// allFamilies is every family the exporter can emit on a scrape.
func allFamilies() []*family {
	descs := []*family{upDesc, collectDurationDesc, lastSuccessDesc, clockOffsetDesc, credentialBackoffDesc, credentialExpiryDesc}
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		descs = append(descs, services[name].families...)
	}
	return descs
}

// newHuaweiClient is the client of a Workspace or CTS target.
func newHuaweiClient(e *Exporter, s pollSpec) *huawei.Client {
	return huawei.NewClientWithSource(s.http, s.target.Service, s.endpoint, s.target.ProjectID, e.huaweiSource(s.cred), s.gate)
}
