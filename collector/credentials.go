package collector

import (
	"context"
	"net/url"
	"sync"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// credentialExpiryDesc is emitted like cloudquota_credential_backoff_seconds,
// once per credential a scrape covers, for credentials whose keys run out
// at a known time.
var credentialExpiryDesc = prometheus.NewDesc(
	prometheus.BuildFQName(namespace, "credential", "expiry_timestamp_seconds"),
	"Unix time when the credential's temporary keys run out (source metadata: the metadata service's expires_at; the exporter fetches new ones 40 minutes before). Absent while unknown.",
	[]string{"credential"}, nil)

// huaweiSource returns where a huaweicloud credential's keys come from:
// the keys loaded with the configuration (static, environment, profile),
// or for source metadata the credential's one MetadataSource, shared by
// its targets and kept across reloads that leave the credential as it is,
// so that its keys are too. Called with e.mu held.
func (e *Exporter) huaweiSource(cred *config.Credential, gate *upstream.Gate) huawei.CredentialSource {
	var source huawei.CredentialSource = huawei.StaticCredentials{
		AccessKey:     string(cred.AccessKey),
		SecretKey:     string(cred.SecretKey),
		SecurityToken: string(cred.SecurityToken),
	}
	if cred.Source == config.SourceMetadata {
		key := hashOf(append([]string{"huawei_metadata"}, credentialFields(cred)...)...)
		source = e.clients.get(key, func() any {
			endpoint, err := url.Parse(cred.MetadataEndpoint)
			if err != nil {
				// Unreachable after validation; fail the targets instead of crashing.
				return failingSource{err}
			}
			return huawei.NewMetadataSource(e.http, endpoint, e.now)
		}).(huawei.CredentialSource)
	}
	credentialSources.register(cred.Name, gate, credentialInfo{kind: cred.Source, source: source})
	return source
}

// failingSource fails every request with err.
type failingSource struct{ err error }

func (f failingSource) Credentials(context.Context) (huawei.Credentials, error) {
	return huawei.Credentials{}, f.err
}
func (failingSource) Secrets() []string { return nil }
func (failingSource) Expiry() time.Time { return time.Time{} }

// credentialInfo is what scrapes and the status page show of a
// credential's source.
type credentialInfo struct {
	kind   string // config.Source*
	source huawei.CredentialSource
}

// credentialSources lets a scrape, which holds targets rather than their
// Exporter, find a target's credential source: by the target's back-off
// gate, which belongs to one Exporter (so Exporters never see each
// other's), and the credential's name, which is unique in a
// configuration. Gates are held weakly: a gate that reloads dropped takes
// its entry along.
var credentialSources = &sourceRegistry{byGate: map[weak.Pointer[upstream.Gate]]map[string]credentialInfo{}}

type sourceRegistry struct {
	mu     sync.Mutex
	byGate map[weak.Pointer[upstream.Gate]]map[string]credentialInfo
}

func (r *sourceRegistry) register(credential string, gate *upstream.Gate, info credentialInfo) {
	if gate == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for g := range r.byGate {
		if g.Value() == nil {
			delete(r.byGate, g)
		}
	}
	key := weak.Make(gate)
	if r.byGate[key] == nil {
		r.byGate[key] = map[string]credentialInfo{}
	}
	r.byGate[key][credential] = info
}

func (r *sourceRegistry) lookup(credential string, gate *upstream.Gate) (credentialInfo, bool) {
	if gate == nil {
		return credentialInfo{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	info, ok := r.byGate[weak.Make(gate)][credential]
	return info, ok
}

// emitCredentialExpiry reports when the credential's keys run out, if
// that is known.
func emitCredentialExpiry(ch chan<- prometheus.Metric, credential string, gate *upstream.Gate) {
	info, ok := credentialSources.lookup(credential, gate)
	if !ok {
		return
	}
	if expiry := info.source.Expiry(); !expiry.IsZero() {
		ch <- prometheus.MustNewConstMetric(credentialExpiryDesc, prometheus.GaugeValue, float64(expiry.UnixNano())/1e9, credential)
	}
}

// credentialStatus is the source and the known expiry of a target's
// credential, for the status page; "" for credentials without a choice
// of source (SMH).
func credentialStatus(t *target) (source string, expiry time.Time) {
	info, ok := credentialSources.lookup(t.backoffGate())
	if !ok {
		return "", time.Time{}
	}
	return info.kind, info.source.Expiry()
}
