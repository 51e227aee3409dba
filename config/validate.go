package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	validTypes    = CredentialTypeHuaweiCloud + ", " + CredentialTypeTencentSMH
	validServices = ServiceSMH + ", " + ServiceWorkspace + ", " + ServiceCTS
)

// credentialTypeFor is the credential type each service authenticates with.
var credentialTypeFor = map[string]string{
	ServiceSMH:       CredentialTypeTencentSMH,
	ServiceWorkspace: CredentialTypeHuaweiCloud,
	ServiceCTS:       CredentialTypeHuaweiCloud,
}

// builder turns the raw file into a Config, recording every problem rather
// than stopping at the first, so that one run of --config.check shows them
// all.
type builder struct {
	p       *problems
	baseDir string // relative *_file paths are resolved against this

	// Names seen so far, to the 1-based position of their first use.
	credentialNames map[string]int
	targetNames     map[string]int
}

func build(raw *rawConfig, p *problems) *Config {
	b := &builder{
		p:               p,
		baseDir:         filepath.Dir(p.path),
		credentialNames: map[string]int{},
		targetNames:     map[string]int{},
	}
	c := &Config{}
	c.Global = b.global(raw.Global)
	types := map[string]string{} // credential name -> type, first definition wins
	for i := range raw.Credentials {
		cred := b.credential(i, &raw.Credentials[i])
		if _, dup := types[cred.Name]; !dup && cred.Name != "" {
			types[cred.Name] = cred.Type
		}
		c.Credentials = append(c.Credentials, cred)
	}
	for i := range raw.Targets {
		c.Targets = append(c.Targets, b.target(i, &raw.Targets[i], c.Global, types))
	}
	return c
}

func (b *builder) global(rg rawGlobal) Global {
	return Global{
		Timeout:           b.duration(rg.Timeout, "global", "timeout", Duration(DefaultTimeout), true),
		CacheTTL:          b.duration(rg.CacheTTL, "global", "cache_ttl", Duration(DefaultCacheTTL), false),
		SampleLimit:       b.sampleLimit(rg.SampleLimit, "global", DefaultSampleLimit),
		DiscoveryInterval: b.duration(rg.DiscoveryInterval, "global", "discovery_interval", Duration(DefaultDiscoveryInterval), true),
		HTTP:              b.httpSettings("global", &rg.rawHTTP, nil),
	}
}

// sampleLimit checks a sample_limit, or returns def when it was not set.
func (b *builder) sampleLimit(c rawCount, label string, def int) int {
	if !c.set {
		return def
	}
	v, err := strconv.Atoi(c.text)
	if c.tag != "!!int" || err != nil || v < 0 {
		b.p.addLine(c.line, "%s: sample_limit: %q is not a whole number of samples, 0 (no limit) or more", label, c.text)
		return def
	}
	return v
}

// duration parses d, or returns def when the key was not set.
func (b *builder) duration(d rawDuration, label, key string, def Duration, positive bool) Duration {
	if !d.set {
		return def
	}
	v, err := parseDuration(d.text)
	if err != nil {
		b.p.addLine(d.line, "%s: %s: %v", label, key, err)
		return def
	}
	if positive && v == 0 {
		b.p.addLine(d.line, "%s: %s: must be greater than 0", label, key)
	}
	return v
}

// itemLabel names a credential or target in messages. Items without a
// usable name are numbered from 1, in file order.
func itemLabel(kind string, i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s #%d", kind, i+1)
	}
	return fmt.Sprintf("%s %q", kind, name)
}

// name checks an item's name and returns the label for its other messages.
func (b *builder) name(kind string, i int, name string, seen map[string]int) string {
	switch first, dup := seen[name]; {
	case name == "":
		b.p.add("%s #%d: name is required", kind, i+1)
	case dup:
		b.p.add("%s #%d: name %q is already used by %s #%d", kind, i+1, name, kind, first)
	default:
		seen[name] = i + 1
		return itemLabel(kind, i, name)
	}
	// A duplicate's name would not say which one a message is about.
	return itemLabel(kind, i, "")
}

// setKey is a key that may not apply to every type or service.
type setKey struct {
	key string
	set bool
}

// notValid reports each set key in keys, which do not apply to what.
func (b *builder) notValid(label, what, onlyFor string, keys ...setKey) {
	for _, k := range keys {
		if k.set {
			b.p.add("%s: %s: not valid for %s (only for %s)", label, k.key, what, onlyFor)
		}
	}
}

func (b *builder) credential(i int, rc *rawCredential) Credential {
	label := b.name("credential", i, rc.Name, b.credentialNames)
	c := Credential{Name: rc.Name, Type: rc.Type}
	switch rc.Type {
	case "":
		b.p.add("%s: type is required (one of: %s)", label, validTypes)
	case CredentialTypeHuaweiCloud:
		b.notValid(label, "type huaweicloud", CredentialTypeTencentSMH,
			setKey{"library_id", rc.LibraryID != ""},
			setKey{"library_secret", rc.LibrarySecret != ""},
			setKey{"library_secret_file", rc.LibrarySecretFile != ""},
			setKey{"grant", rc.Grant != ""},
			setKey{"token_period", rc.TokenPeriod.set},
			setKey{"user_id", rc.UserID != ""})
		b.huaweiKeys(label, rc, &c)
	case CredentialTypeTencentSMH:
		b.notValid(label, "type tencent_smh", CredentialTypeHuaweiCloud,
			setKey{"access_key", rc.AccessKey != ""},
			setKey{"access_key_file", rc.AccessKeyFile != ""},
			setKey{"secret_key", rc.SecretKey != ""},
			setKey{"secret_key_file", rc.SecretKeyFile != ""},
			setKey{"security_token", rc.SecurityToken != ""},
			setKey{"security_token_file", rc.SecurityTokenFile != ""},
			setKey{"source", rc.Source != ""},
			setKey{"profile_file", rc.ProfileFile != ""},
			setKey{"metadata_endpoint", rc.MetadataEndpoint != ""})
		c.LibraryID, c.Grant, c.UserID = rc.LibraryID, rc.Grant, rc.UserID
		if rc.LibraryID == "" {
			b.p.add("%s: library_id: required for type tencent_smh", label)
		}
		c.LibrarySecret, c.LibrarySecretFile = b.secret(label, rc.Type, "library_secret", rc.LibrarySecret, rc.LibrarySecretFile, true)
		c.TokenPeriod = b.duration(rc.TokenPeriod, label, "token_period", 0, false)
		if c.TokenPeriod.D()%time.Second != 0 {
			// The token request takes the period in seconds.
			b.p.addLine(rc.TokenPeriod.line, "%s: token_period: %q is not a whole number of seconds", label, rc.TokenPeriod.text)
		}
	default:
		b.p.add("%s: type: unknown type %q (valid: %s)", label, rc.Type, validTypes)
	}
	return c
}

func (b *builder) target(i int, rt *rawTarget, g Global, types map[string]string) Target {
	label := b.name("target", i, rt.Name, b.targetNames)
	t := Target{
		Name:          rt.Name,
		Service:       rt.Service,
		Credentials:   rt.Credentials,
		Region:        rt.Region,
		ProjectID:     rt.ProjectID,
		SiteIDs:       rt.SiteIDs,
		DiscoverSites: rt.DiscoverSites && rt.Service == ServiceWorkspace,
		LibraryUsage:  rt.LibraryUsage && rt.Service == ServiceSMH,
		AZCode:        rt.AZCode,
	}
	spaceIDs := []string{}
	if rt.SpaceIDs != nil {
		spaceIDs = *rt.SpaceIDs
	}

	switch rt.Service {
	case "":
		b.p.add("%s: service is required (one of: %s)", label, validServices)
	case ServiceSMH, ServiceWorkspace, ServiceCTS:
	default:
		b.p.add("%s: service: unknown service %q (valid: %s)", label, rt.Service, validServices)
	}

	b.targetCredentials(label, rt, types)

	switch rt.Service {
	case ServiceSMH:
		b.notValid(label, "service smh", "workspace and cts",
			setKey{"region", rt.Region != ""},
			setKey{"project_id", rt.ProjectID != ""},
			setKey{"iam_endpoint", rt.IAMEndpoint != ""})
		b.notValid(label, "service smh", "workspace",
			setKey{"site_ids", len(rt.SiteIDs) > 0},
			setKey{"discover_sites", rt.DiscoverSites},
			setKey{"az_code", rt.AZCode != ""})
		t.SpaceIDs, t.DiscoverSpaces = spaceIDs, rt.SpaceIDs == nil
		if rt.SpaceIDs != nil && len(spaceIDs) == 0 {
			b.p.add("%s: space_ids: the list is empty; list the space ids, or omit the key to watch every space of the library", label)
		}
		b.ids(label, "space_ids", spaceIDs)
	case ServiceWorkspace, ServiceCTS:
		b.notValid(label, "service "+rt.Service, "smh",
			setKey{"space_ids", rt.SpaceIDs != nil},
			setKey{"library_usage", rt.LibraryUsage})
		if rt.Service == ServiceCTS {
			b.notValid(label, "service cts", "workspace",
				setKey{"site_ids", len(rt.SiteIDs) > 0},
				setKey{"discover_sites", rt.DiscoverSites},
				setKey{"az_code", rt.AZCode != ""})
		} else {
			b.ids(label, "site_ids", rt.SiteIDs)
			if rt.DiscoverSites && len(rt.SiteIDs) > 0 {
				b.p.add("%s: discover_sites: not valid together with site_ids; set one of them", label)
			}
		}
		switch {
		case rt.ProjectID == "" && rt.Region == "":
			b.p.add("%s: project_id: required for service %s unless region is set (the project is then looked up by the region's name)", label, rt.Service)
		case rt.ProjectID == "":
			t.IAMEndpoint = defaultIAMEndpoint(rt.Region)
			if rt.IAMEndpoint != "" {
				t.IAMEndpoint = b.url(label, "iam_endpoint", rt.IAMEndpoint)
			}
		case rt.IAMEndpoint != "":
			b.p.add("%s: iam_endpoint: only used to look the project up; not valid with project_id", label)
		}
		switch {
		case rt.Region == "" && rt.Endpoint == "":
			b.p.add("%s: region: required for service %s unless endpoint is set", label, rt.Service)
		case rt.Region != "" && !validRegion(rt.Region):
			b.p.add("%s: region: %q may only contain a-z, 0-9 and \"-\"", label, rt.Region)
		}
	}

	if rt.Endpoint != "" {
		t.Endpoint = b.endpoint(label, rt.Endpoint)
	} else {
		t.Endpoint = defaultEndpoint(rt.Service, rt.Region)
	}
	t.Timeout = b.duration(rt.Timeout, label, "timeout", g.Timeout, true)
	t.CacheTTL = b.duration(rt.CacheTTL, label, "cache_ttl", g.CacheTTL, false)
	t.SampleLimit = b.sampleLimit(rt.SampleLimit, label, g.SampleLimit)
	t.DiscoveryInterval = b.duration(rt.DiscoveryInterval, label, "discovery_interval", g.DiscoveryInterval, true)
	if rt.DiscoveryInterval.set && !t.DiscoverSpaces && !t.DiscoverSites {
		b.p.addLine(rt.DiscoveryInterval.line, "%s: discovery_interval: only used with discover_sites or without space_ids", label)
	}
	t.HTTP = b.httpSettings(label, &rt.rawHTTP, &g.HTTP)
	return t
}

// targetCredentials checks that the target names a credential of the type
// its service authenticates with.
func (b *builder) targetCredentials(label string, rt *rawTarget, types map[string]string) {
	if rt.Credentials == "" {
		b.p.add("%s: credentials is required", label)
		return
	}
	have, ok := types[rt.Credentials]
	if !ok {
		b.p.add("%s: credentials: no credential named %q is defined", label, rt.Credentials)
		return
	}
	want, known := credentialTypeFor[rt.Service]
	// A credential with a bad type is reported on its own already.
	if known && have != want && (have == CredentialTypeHuaweiCloud || have == CredentialTypeTencentSMH) {
		b.p.add("%s: credentials: credential %q is of type %s, but service %s needs type %s",
			label, rt.Credentials, have, rt.Service, want)
	}
}

// ids checks a list of identifiers that become separate requests or a
// comma-separated path segment.
func (b *builder) ids(label, key string, ids []string) {
	seen := map[string]bool{}
	reported := map[string]bool{}
	for i, id := range ids {
		switch {
		case id == "":
			b.p.add("%s: %s: entry #%d is empty", label, key, i+1)
		case strings.Contains(id, ","):
			// smh joins space IDs with commas into one request.
			b.p.add("%s: %s: %q must not contain a comma; list each ID separately", label, key, id)
		case seen[id] && !reported[id]:
			b.p.add("%s: %s: %q is listed more than once", label, key, id)
			reported[id] = true
		}
		seen[id] = true
	}
}

func validRegion(r string) bool {
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// endpoint validates a configured endpoint and returns it without trailing
// slashes, so clients can append paths that start with "/".
func (b *builder) endpoint(label, s string) string { return b.url(label, "endpoint", s) }

// url validates the base URL at key and returns it without trailing
// slashes.
func (b *builder) url(label, key, s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url.Error repeats the URL, which may hold user info; its Err
		// alone says what is wrong.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		b.p.add("%s: %s: not a valid URL: %v", label, key, err)
	case u.User != nil:
		b.p.add("%s: %s: must not contain user info; credentials belong in the credentials section", label, key)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		b.p.add("%s: %s: %q is not an absolute http or https URL with a host", label, key, printable(u))
	case u.RawQuery != "" || u.ForceQuery:
		b.p.add("%s: %s: %q must not contain a query", label, key, printable(u))
	case strings.Contains(s, "#"):
		b.p.add("%s: %s: %q must not contain a fragment", label, key, printable(u))
	}
	return strings.TrimRight(s, "/")
}

// printable is an endpoint as it may appear in a message: without the
// parts that can carry a secret (user info, query, fragment, an opaque
// part such as the "pass@host" of "user:pass@host").
func printable(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery, c.ForceQuery = "", false
	c.Fragment, c.RawFragment = "", ""
	if c.Opaque != "" {
		c.Opaque = "…"
	}
	return c.String()
}

// defaultIAMEndpoint is the IAM endpoint of region, where the project is
// looked up.
func defaultIAMEndpoint(region string) string {
	if region == "eu-west-101" {
		// The official SDK's table lacks it; Huawei's EU IAM is on .eu.
		return "https://iam.myhuaweicloud.eu"
	}
	return "https://iam." + region + ".myhuaweicloud.com"
}

// defaultEndpoint is the public endpoint of service in region, or "" when
// it cannot be built (which validation has reported).
func defaultEndpoint(service, region string) string {
	switch service {
	case ServiceSMH:
		return DefaultSMHEndpoint
	case ServiceWorkspace:
		if region != "" {
			return "https://workspace." + region + ".myhuaweicloud.com"
		}
	case ServiceCTS:
		if region == "eu-west-101" {
			// The one region whose CTS endpoint is not on .com.
			return "https://cts.eu-west-101.myhuaweicloud.eu"
		}
		if region != "" {
			return "https://cts." + region + ".myhuaweicloud.com"
		}
	}
	return ""
}
