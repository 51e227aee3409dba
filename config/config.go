// Package config loads, validates and holds the cloudquota_exporter
// configuration file.
//
// A file is decoded strictly (an unknown key is an error), every problem in it
// is reported at once, and a *Config that Load or Parse returns is complete:
// secrets given in *_file keys have been read, and every target carries its
// effective endpoint, timeout and cache TTL, so collectors never look at the
// global section or the file system.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"fmt"
	"strings"
	"time"

	commonconfig "github.com/prometheus/common/config"
)

// Credential types.
const (
	// CredentialTypeHuaweiCloud is an AK/SK pair (and optional security
	// token) for Huawei Cloud APIs, used by the workspace and cts services.
	CredentialTypeHuaweiCloud = "huaweicloud"
	// CredentialTypeTencentSMH is a Tencent Cloud Smart Media Hosting media
	// library ID and secret, used by the smh service.
	CredentialTypeTencentSMH = "tencent_smh"
)

// Services a target can poll.
const (
	// ServiceSMH is Tencent Cloud Smart Media Hosting tenant-space usage.
	ServiceSMH = "smh"
	// ServiceWorkspace is Huawei Cloud Workspace quotas.
	ServiceWorkspace = "workspace"
	// ServiceCTS is Huawei Cloud Trace Service quotas.
	ServiceCTS = "cts"
)

// Defaults for the global section.
const (
	// DefaultTimeout bounds one upstream request when neither the target nor
	// the global section sets timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultCacheTTL of zero makes every scrape poll upstream.
	DefaultCacheTTL time.Duration = 0
	// DefaultSampleLimit bounds the quota samples of one target's answer.
	DefaultSampleLimit = 50000
	// DefaultDiscoveryInterval is how long a discovered list of spaces or
	// sites is reused before it is asked for again.
	DefaultDiscoveryInterval = 10 * time.Minute
	// DefaultMetadataEndpoint is the ECS/CCE metadata service.
	DefaultMetadataEndpoint = "http://169.254.169.254"
	// DefaultSMHEndpoint is the smh endpoint when a target sets none.
	DefaultSMHEndpoint = "https://api.tencentsmh.cn"
)

// Config is a loaded and validated configuration file.
type Config struct {
	// Global holds the defaults that targets inherit.
	Global Global `yaml:"global"`
	// Credentials are referenced by name from targets.
	Credentials []Credential `yaml:"credentials"`
	// Targets are polled on scrapes, in file order.
	Targets []Target `yaml:"targets"`
}

// Global holds settings that apply to every target that does not override
// them.
type Global struct {
	// Timeout bounds one upstream request (default 10s, always > 0).
	Timeout Duration `yaml:"timeout"`
	// CacheTTL is how old a result may be and still be served instead of
	// polling upstream (default 0: poll on every scrape).
	CacheTTL Duration `yaml:"cache_ttl"`
	// SampleLimit is the most quota samples one target's answer may give;
	// a larger answer fails the target (default 50000; 0: no limit).
	SampleLimit int `yaml:"sample_limit"`
	// DiscoveryInterval is how long discovered spaces and sites are reused
	// (default 10m).
	DiscoveryInterval Duration `yaml:"discovery_interval"`
	// HTTP is how targets reach the clouds unless they say otherwise.
	HTTP HTTPSettings `yaml:"-"`
}

// Huawei credential sources (the credential's source key).
const (
	SourceStatic      = "static"
	SourceEnvironment = "environment"
	SourceProfile     = "profile"
	SourceMetadata    = "metadata"
)

// HTTPSettings say how a target reaches its cloud: TLS and proxy, with
// the keys and meaning of Prometheus's own configuration.
type HTTPSettings struct {
	TLS   commonconfig.TLSConfig
	Proxy commonconfig.ProxyConfig
}

// IsDefault tells whether the settings are the default: the system's CA
// certificates and the proxy from the environment.
func (h *HTTPSettings) IsDefault() bool {
	return h.Key() == (&HTTPSettings{Proxy: commonconfig.ProxyConfig{ProxyFromEnvironment: true}}).Key()
}

// Key identifies the settings, secrets included (only ever hashed), so that
// targets with the same settings share one pool of connections.
func (h *HTTPSettings) Key() string {
	t, p := h.TLS, h.Proxy
	fields := []string{t.CA, t.Cert, string(t.Key), t.CAFile, t.CertFile, t.KeyFile, t.CARef, t.CertRef, t.KeyRef,
		t.ServerName, strconv.FormatBool(t.InsecureSkipVerify), strconv.Itoa(int(t.MinVersion)), strconv.Itoa(int(t.MaxVersion)),
		p.NoProxy, strconv.FormatBool(p.ProxyFromEnvironment)}
	if p.ProxyURL.URL != nil {
		fields = append(fields, p.ProxyURL.URL.String())
	}
	names := make([]string, 0, len(p.ProxyConnectHeader))
	for name := range p.ProxyConnectHeader {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fields = append(fields, name)
		for _, v := range p.ProxyConnectHeader[name] {
			fields = append(fields, string(v))
		}
	}
	h256 := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h256, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h256.Sum(nil))
}

// Credential is a named set of secrets for one provider.
//
// After loading, the Secret fields hold the secret whether it was given
// inline or in a file; the *_file fields keep the path the secret was read
// from (resolved against the config file's directory) for display only.
type Credential struct {
	// Name is unique among credentials and referenced by Target.Credentials.
	Name string `yaml:"name"`
	// Type is CredentialTypeHuaweiCloud or CredentialTypeTencentSMH.
	Type string `yaml:"type"`

	// AccessKey is the Huawei Cloud AK.
	AccessKey Secret `yaml:"access_key,omitempty"`
	// AccessKeyFile is the file AccessKey was read from, if any.
	AccessKeyFile string `yaml:"access_key_file,omitempty"`
	// SecretKey is the Huawei Cloud SK.
	SecretKey Secret `yaml:"secret_key,omitempty"`
	// SecretKeyFile is the file SecretKey was read from, if any.
	SecretKeyFile string `yaml:"secret_key_file,omitempty"`
	// SecurityToken is the optional token that comes with temporary AK/SKs.
	SecurityToken Secret `yaml:"security_token,omitempty"`
	// SecurityTokenFile is the file SecurityToken was read from, if any.
	SecurityTokenFile string `yaml:"security_token_file,omitempty"`

	// LibraryID is the SMH media library ID.
	LibraryID string `yaml:"library_id,omitempty"`
	// LibrarySecret is the SMH media library secret.
	LibrarySecret Secret `yaml:"library_secret,omitempty"`
	// LibrarySecretFile is the file LibrarySecret was read from, if any.
	LibrarySecretFile string `yaml:"library_secret_file,omitempty"`
	// Grant is passed as is to the SMH token request (empty: not sent).
	Grant string `yaml:"grant,omitempty"`
	// TokenPeriod is passed, in whole seconds, as the SMH token period
	// (zero: not sent).
	TokenPeriod Duration `yaml:"token_period,omitempty"`
	// UserID is passed to the SMH token and usage requests.
	UserID string `yaml:"user_id,omitempty"`

	// Source is where a huaweicloud credential's keys come from: static
	// (the keys above), environment or profile (read at load, into the keys
	// above) or metadata (fetched at run time from MetadataEndpoint).
	Source string `yaml:"source,omitempty"`
	// ProfileFile is the profile the keys were read from (source profile).
	ProfileFile string `yaml:"profile_file,omitempty"`
	// MetadataEndpoint is the metadata service (source metadata).
	MetadataEndpoint string `yaml:"metadata_endpoint,omitempty"`
}

// Target is one thing to poll: a service, the credential to poll it with
// and the service-specific identifiers.
type Target struct {
	// Name is unique among targets and becomes the `target` label.
	Name string `yaml:"name"`
	// Service is ServiceSMH, ServiceWorkspace or ServiceCTS.
	Service string `yaml:"service"`
	// Credentials names a Credential of the type the service needs.
	Credentials string `yaml:"credentials"`

	// SpaceIDs are the SMH tenant spaces (smh only, at least one).
	SpaceIDs []string `yaml:"space_ids,omitempty"`
	// Endpoint is the effective base URL, without a trailing slash: the
	// configured one, or the service default.
	Endpoint string `yaml:"endpoint"`
	// Region is the Huawei Cloud region (workspace and cts).
	Region string `yaml:"region,omitempty"`
	// ProjectID is the Huawei Cloud project (workspace and cts); empty
	// when it is to be looked up by Region.
	ProjectID string `yaml:"project_id,omitempty"`
	// SiteIDs are Workspace sites; one request per site, or a single request
	// without site_id when empty (workspace only).
	SiteIDs []string `yaml:"site_ids,omitempty"`
	// DiscoverSites lists the project's Workspace sites and asks for each.
	DiscoverSites bool `yaml:"discover_sites,omitempty"`
	// DiscoverSpaces is true when space_ids was omitted: every space of
	// the library is listed and read (smh only).
	DiscoverSpaces bool `yaml:"-"`
	// LibraryUsage also reads the library's totals (smh only).
	LibraryUsage bool `yaml:"library_usage,omitempty"`
	// IAMEndpoint is where the project is looked up when ProjectID is
	// empty: the configured iam_endpoint or the region's IAM.
	IAMEndpoint string `yaml:"iam_endpoint,omitempty"`
	// DiscoveryInterval is the effective reuse time of discovered lists.
	DiscoveryInterval Duration `yaml:"discovery_interval"`
	// HTTP is the effective TLS and proxy settings: the target's own block,
	// else the global one.
	HTTP HTTPSettings `yaml:"-"`
	// AZCode is passed as az_code when set (workspace only).
	AZCode string `yaml:"az_code,omitempty"`

	// Timeout is the effective per-request timeout: the target's own, else
	// Global.Timeout.
	Timeout Duration `yaml:"timeout"`
	// CacheTTL is the effective cache TTL: the target's own, else
	// Global.CacheTTL.
	CacheTTL Duration `yaml:"cache_ttl"`
	// SampleLimit is the effective sample limit: the target's own, else
	// Global.SampleLimit; 0 means none.
	SampleLimit int `yaml:"sample_limit"`
}

// Credential returns the credential called name, or nil if there is none.
func (c *Config) Credential(name string) *Credential {
	if c == nil {
		return nil
	}
	for i := range c.Credentials {
		if c.Credentials[i].Name == name {
			return &c.Credentials[i]
		}
	}
	return nil
}

// Duration is a time.Duration written in YAML as a Go duration string such
// as "10s", "1m30s" or "1h".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d back in the form it is read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes d as a duration string rather than nanoseconds.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		// time's own message is terser and names no valid form.
		return 0, fmt.Errorf("invalid duration %q (use a Go duration such as 10s, 1m30s or 1h)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(v), nil
}

// Secret is a string that redacts itself when printed or marshalled, so a
// config dump or a careless %v cannot leak it. Read it with Value or
// string(s).
type Secret string

const redacted = "<secret>"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "<secret>", never the value.
func (s Secret) String() string { return redacted }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + redacted + `")` }

// MarshalYAML writes "<secret>" instead of the value.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalJSON writes "<secret>" instead of the value, or "" when unset.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte(`""`), nil
	}
	return []byte(`"` + redacted + `"`), nil
}
