package collector

import (
	"context"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// credentialExpiryDesc is emitted like cloudquota_credential_backoff_seconds,
// once per credential a scrape covers, for credentials whose keys run out
// at a known time.
var credentialExpiryDesc = newFamily(
	prometheus.BuildFQName(namespace, "credential", "expiry_timestamp_seconds"),
	"Unix time when the credential's temporary keys run out (source metadata: the metadata service's expires_at; the exporter fetches new ones 40 minutes before). Absent while unknown.",
	[]string{"credential"}, nil)

// huaweiSource returns where a huaweicloud credential's keys come from:
// the keys loaded with the configuration (static, environment, profile),
// or for source metadata the credential's one MetadataSource, shared by
// its targets and kept across reloads that leave the credential as it is,
// so that its keys are too. Called with e.mu held.
func (e *Exporter) huaweiSource(cred *config.Credential) huawei.CredentialSource {
	if cred.Source != config.SourceMetadata {
		return huawei.StaticCredentials{
			AccessKey:     string(cred.AccessKey),
			SecretKey:     string(cred.SecretKey),
			SecurityToken: string(cred.SecurityToken),
		}
	}
	key := hashOf(append([]string{"huawei_metadata"}, credentialFields(cred)...)...)
	return e.clients.get(key, func() any {
		endpoint, err := url.Parse(cred.MetadataEndpoint)
		if err != nil {
			// Unreachable after validation; fail the targets instead of crashing.
			return failingSource{err}
		}
		// The metadata service is on the host's own link: never through
		// a proxy (the SDK's transport has none either).
		direct, err := e.http.With(upstream.HTTPSettings{})
		if err != nil {
			return failingSource{err}
		}
		return huawei.NewMetadataSource(direct, endpoint, e.now)
	}).(huawei.CredentialSource)
}

// failingSource fails every request with err.
type failingSource struct{ err error }

func (f failingSource) Credentials(context.Context) (huawei.Credentials, error) {
	return huawei.Credentials{}, f.err
}
func (failingSource) Secrets() []string { return nil }
func (failingSource) Expiry() time.Time { return time.Time{} }

// credentialInfo is what scrapes and the status page show of a target's
// credential: where its keys come from, and the source itself for their
// expiry. Zero for credentials without a choice of source (SMH).
type credentialInfo struct {
	kind   string // config.Source*
	source huawei.CredentialSource
}

// credentialInfo describes cred's source. Called with e.mu held.
func (e *Exporter) credentialInfo(cred *config.Credential) credentialInfo {
	if cred.Type != config.CredentialTypeHuaweiCloud {
		return credentialInfo{}
	}
	return credentialInfo{kind: cred.Source, source: e.huaweiSource(cred)}
}

// expiry is when the credential's keys run out, zero when unknown.
func (c credentialInfo) expiry() time.Time {
	if c.source == nil {
		return time.Time{}
	}
	return c.source.Expiry()
}

// emitCredentialExpiry reports when the credential's keys run out, if
// that is known.
func emitCredentialExpiry(emit func(sample), credential string, info credentialInfo) {
	if expiry := info.expiry(); !expiry.IsZero() {
		emit(credentialExpiryDesc.sample(float64(expiry.UnixNano())/1e9, credential))
	}
}
