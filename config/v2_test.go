package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hwTarget is a cts target of credential hw, for the credential tests.
const hwTarget = `targets:
  - name: audit
    service: cts
    credentials: hw
    project_id: p1
    region: cn-north-4
`

func parseErr(t *testing.T, yaml string) string {
	t.Helper()
	c, err := Parse([]byte(yaml), filepath.Join(t.TempDir(), "x.yml"), false)
	if err == nil {
		t.Fatalf("no error; config %+v", c)
	}
	return err.Error()
}

func mustParse(t *testing.T, yaml string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml), filepath.Join(t.TempDir(), "x.yml"), false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantAll(t *testing.T, msg string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
	}
}

func TestSourceEnvironment(t *testing.T) {
	const cred = "credentials:\n  - name: hw\n    type: huaweicloud\n    source: environment\n"
	t.Setenv(EnvAccessKey, "AKENV")
	t.Setenv(EnvSecretKey, "env-secret-key-7d1")
	t.Setenv(EnvSecurityToken, "env-token-99")
	c := mustParse(t, cred+hwTarget)
	if got := c.Credentials[0]; got.AccessKey != "AKENV" || got.SecretKey != "env-secret-key-7d1" || got.SecurityToken != "env-token-99" || got.Source != SourceEnvironment {
		t.Errorf("credential from the environment: %+v", got)
	}

	t.Setenv(EnvSecretKey, "")
	os.Unsetenv(EnvSecurityToken)
	os.Unsetenv(EnvAccessKey)
	msg := parseErr(t, cred+hwTarget)
	wantAll(t, msg, `credential "hw": source environment: HUAWEICLOUD_SDK_AK is not set`,
		`credential "hw": source environment: HUAWEICLOUD_SDK_SK is set but empty`)
	if strings.Contains(msg, "SECURITY_TOKEN") {
		t.Errorf("the optional token is reported missing: %s", msg)
	}

	msg = parseErr(t, cred+"    secret_key: inline-secret-5f\n    profile_file: p.ini\n"+hwTarget)
	wantAll(t, msg, `secret_key: not valid for source environment (only for source static)`,
		`profile_file: not valid for source environment (only for source profile)`)
	if strings.Contains(msg, "inline-secret-5f") {
		t.Errorf("message shows the secret: %s", msg)
	}
}

func TestSourceProfile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.ini", "; the SDK's profile\n[global]\nak = AKGLOBAL\nsk = global-sk\n\n[basic]\nak = AKBASIC\nsk = basic-secret-key-31\nsecurity_token = basic-token-42\nproject_id = p9\n")
	cred := func(extra string) string {
		return "credentials:\n  - name: hw\n    type: huaweicloud\n    source: profile\n" + extra + hwTarget
	}
	c := mustParse(t, cred("    profile_file: "+good+"\n"))
	if got := c.Credentials[0]; got.AccessKey != "AKBASIC" || got.SecretKey != "basic-secret-key-31" || got.SecurityToken != "basic-token-42" || got.ProfileFile != good {
		t.Errorf("credential from profile_file: %+v", got)
	}

	// No profile_file: the SDK's variable, else ~/.huaweicloud/credentials.
	t.Setenv(EnvCredentialsFile, good)
	if c := mustParse(t, cred("")); c.Credentials[0].AccessKey != "AKBASIC" {
		t.Errorf("credential from $%s: %+v", EnvCredentialsFile, c.Credentials[0])
	}
	os.Unsetenv(EnvCredentialsFile)
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".huaweicloud"), 0o700)
	os.WriteFile(filepath.Join(home, ".huaweicloud", "credentials"), []byte("[basic]\nak=AKHOME\nsk=home-sk-77\n"), 0o600)
	if c := mustParse(t, cred("")); c.Credentials[0].AccessKey != "AKHOME" || c.Credentials[0].SecurityToken != "" {
		t.Errorf("credential from the home profile: %+v", c.Credentials[0])
	}

	for _, tc := range []struct{ name, text, want string }{
		{"no basic section", "[global]\nak = AKG\nsk = sk-hidden-1\n", `no [basic] section`},
		{"no sk", "[basic]\nak = AKB\n", `[basic] has no sk`},
		{"empty ak", "[basic]\nak =\nsk = sk-hidden-2\n", `[basic] ak is empty`},
		{"not INI", "ak: AKB\nsk-hidden-3\n", `line 1: not a key = value line`},
		{"empty file", "", `is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(tc.name, " ", "-")+".ini", tc.text)
			msg := parseErr(t, cred("    profile_file: "+path+"\n"))
			wantAll(t, msg, `credential "hw": source profile`, tc.want)
			if strings.Contains(msg, "sk-hidden") {
				t.Errorf("message shows the secret: %s", msg)
			}
		})
	}
	msg := parseErr(t, cred("    profile_file: "+filepath.Join(dir, "missing.ini")+"\n"))
	wantAll(t, msg, `source profile (profile_file): cannot read`, "missing.ini")
}

func TestSourceMetadata(t *testing.T) {
	cred := "credentials:\n  - name: hw\n    type: huaweicloud\n    source: metadata\n"
	if c := mustParse(t, cred+hwTarget); c.Credentials[0].MetadataEndpoint != DefaultMetadataEndpoint {
		t.Errorf("default metadata endpoint: %q", c.Credentials[0].MetadataEndpoint)
	}
	if c := mustParse(t, cred+"    metadata_endpoint: http://127.0.0.1:8080/\n"+hwTarget); c.Credentials[0].MetadataEndpoint != "http://127.0.0.1:8080" {
		t.Errorf("metadata endpoint: %q", c.Credentials[0].MetadataEndpoint)
	}
	msg := parseErr(t, cred+"    metadata_endpoint: ftp://x\n    access_key: AK1\n"+hwTarget)
	wantAll(t, msg, `metadata_endpoint: "ftp://x" is not an absolute http or https URL with a host`,
		`access_key: not valid for source metadata (only for source static)`)
	msg = parseErr(t, "credentials:\n  - name: hw\n    type: huaweicloud\n    source: vault\n"+hwTarget)
	wantAll(t, msg, `source: unknown source "vault" (valid: static, environment, profile, metadata)`)
	msg = parseErr(t, "credentials:\n  - name: m\n    type: tencent_smh\n    library_id: l\n    library_secret: s\n    source: environment\n")
	wantAll(t, msg, `credential "m": source: not valid for type tencent_smh`)
}

const discoveryCreds = `credentials:
  - name: hw
    type: huaweicloud
    access_key: AK1
    secret_key: sk-1
  - name: media
    type: tencent_smh
    library_id: lib1
    library_secret: ls-1
`

func TestDiscoveryKeys(t *testing.T) {
	c := mustParse(t, discoveryCreds+`global:
  discovery_interval: 30m
targets:
  - name: all-spaces
    service: smh
    credentials: media
    library_usage: true
  - name: listed
    service: smh
    credentials: media
    space_ids: [s1]
  - name: desktops
    service: workspace
    credentials: hw
    region: cn-north-4
    discover_sites: true
    discovery_interval: 5m
  - name: audit-eu
    service: cts
    credentials: hw
    region: eu-west-101
  - name: audit-own-iam
    service: cts
    credentials: hw
    region: ap-southeast-1
    iam_endpoint: https://iam.example.test/
`)
	byName := map[string]Target{}
	for _, tg := range c.Targets {
		byName[tg.Name] = tg
	}
	if tg := byName["all-spaces"]; !tg.DiscoverSpaces || !tg.LibraryUsage || tg.DiscoveryInterval.D().Minutes() != 30 {
		t.Errorf("smh without space_ids: %+v", tg)
	}
	if tg := byName["listed"]; tg.DiscoverSpaces {
		t.Errorf("smh with space_ids discovers: %+v", tg)
	}
	if tg := byName["desktops"]; !tg.DiscoverSites || tg.DiscoveryInterval.D().Minutes() != 5 || tg.IAMEndpoint != "https://iam.cn-north-4.myhuaweicloud.com" {
		t.Errorf("workspace with discover_sites and no project_id: %+v", tg)
	}
	if tg := byName["audit-eu"]; tg.IAMEndpoint != "https://iam.myhuaweicloud.eu" || tg.Endpoint != "https://cts.eu-west-101.myhuaweicloud.eu" {
		t.Errorf("eu-west-101: %+v", tg)
	}
	if tg := byName["audit-own-iam"]; tg.IAMEndpoint != "https://iam.example.test" {
		t.Errorf("iam_endpoint: %q", tg.IAMEndpoint)
	}

	msg := parseErr(t, discoveryCreds+`targets:
  - name: w1
    service: workspace
    credentials: hw
    project_id: p1
    region: cn-north-4
    site_ids: [a]
    discover_sites: true
    iam_endpoint: https://iam.example.test
  - name: c1
    service: cts
    credentials: hw
    project_id: p1
    region: cn-north-4
    discover_sites: true
    library_usage: true
    discovery_interval: 5m
  - name: s1
    service: smh
    credentials: media
    space_ids: [x]
    discovery_interval: 0s
`)
	wantAll(t, msg,
		`target "w1": discover_sites: not valid together with site_ids; set one of them`,
		`target "w1": iam_endpoint: only used to look the project up; not valid with project_id`,
		`target "c1": library_usage: not valid for service cts (only for smh)`,
		`target "c1": discover_sites: not valid for service cts (only for workspace)`,
		`target "c1": discovery_interval: only used with discover_sites or without space_ids`,
		`target "s1": discovery_interval: must be greater than 0`)
}

func TestHTTPSettings(t *testing.T) {
	c := mustParse(t, discoveryCreds+`global:
  tls_config:
    ca_file: ca.pem
    server_name: api.internal
  proxy_url: http://proxy.internal:3128
  no_proxy: 10.0.0.0/8
targets:
  - name: inherits
    service: smh
    credentials: media
    space_ids: [s1]
  - name: own
    service: cts
    credentials: hw
    project_id: p1
    region: cn-north-4
    tls_config:
      insecure_skip_verify: true
    proxy_from_environment: true
`)
	g, inherits, own := c.Global.HTTP, c.Targets[0].HTTP, c.Targets[1].HTTP
	if g.TLS.ServerName != "api.internal" || !strings.HasSuffix(g.TLS.CAFile, string(filepath.Separator)+"ca.pem") || g.Proxy.ProxyURL.String() != "http://proxy.internal:3128" || g.Proxy.ProxyFromEnvironment {
		t.Errorf("global: %+v", g)
	}
	if inherits.Key() != g.Key() {
		t.Errorf("a target without its own settings does not inherit the global ones")
	}
	if own.TLS.ServerName != "" || !own.TLS.InsecureSkipVerify || !own.Proxy.ProxyFromEnvironment || own.Proxy.ProxyURL.URL != nil || own.Key() == g.Key() {
		t.Errorf("a target's blocks replace the global ones: %+v", own)
	}
	msg := parseErr(t, discoveryCreds+`targets:
  - name: a
    service: smh
    credentials: media
    space_ids: [s1]
    no_proxy: 10.0.0.0/8
`)
	wantAll(t, msg, `target "a": if no_proxy is configured, proxy_url must also be configured`)
	msg = parseErr(t, discoveryCreds+`targets:
  - name: b
    service: smh
    credentials: media
    space_ids: [s2]
    tls_config:
      ca_fiel: x.pem
`)
	wantAll(t, msg, `line 16: target "b": tls_config: unknown key "ca_fiel"`)
}

// A proxy URL that does not parse is reported with its key and line, and
// without its password (url.Parse's error would quote the whole URL).
func TestBadProxyURLHidesItsPassword(t *testing.T) {
	msg := parseErr(t, discoveryCreds+`global:
  proxy_url: "http://user:Sup3rS3cret-proxy@proxy:3128/%zz"
targets:
  - {name: a, service: smh, credentials: media, space_ids: [s1]}
`)
	wantAll(t, msg, `line 11: global: proxy_url: not a valid URL: invalid URL escape "%zz"`)
	for _, s := range []string{"Sup3rS3cret-proxy", "user:"} {
		if strings.Contains(msg, s) {
			t.Errorf("the message shows %q: %s", s, msg)
		}
	}
}
