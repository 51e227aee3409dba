package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	commonconfig "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// sentinel is the value of every inline or file secret in the bad
// fixtures, so that any error message leaking a secret is caught.
const sentinel = "S3CR3T-sentinel-7f9c"

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join("testdata", "secrets")
	// With no proxy key, the proxy comes from the environment.
	defaultHTTP := HTTPSettings{Proxy: commonconfig.ProxyConfig{ProxyFromEnvironment: true}}
	discovery := Duration(DefaultDiscoveryInterval)
	want := &Config{
		Global: Global{Timeout: Duration(10 * time.Second), CacheTTL: 0, SampleLimit: DefaultSampleLimit, DiscoveryInterval: discovery, HTTP: defaultHTTP},
		Credentials: []Credential{
			{
				Name:              "hw-prod",
				Type:              CredentialTypeHuaweiCloud,
				AccessKey:         "AKXXXXXXXX",
				SecretKey:         "hw-prod-secret-key", // file ends in "\n"
				SecretKeyFile:     filepath.Join(secrets, "hw-prod.sk"),
				SecurityToken:     "hw-security-token", // file ends in "\r\n"
				SecurityTokenFile: filepath.Join(secrets, "hw-token"),
				Source:            SourceStatic,
			},
			{
				Name:              "media",
				Type:              CredentialTypeTencentSMH,
				LibraryID:         "smh1a2b3c",
				LibrarySecret:     "media-library-secret", // file has no line ending
				LibrarySecretFile: filepath.Join(secrets, "media.secret"),
				Grant:             "admin",
				TokenPeriod:       Duration(24 * time.Hour),
				UserID:            "",
			},
		},
		Targets: []Target{
			{
				Name:              "media-prod",
				Service:           ServiceSMH,
				Credentials:       "media",
				SpaceIDs:          []string{"space1", "space2"},
				Endpoint:          "https://smh1a2b3c.api.tencentsmh.cn",
				Timeout:           Duration(10 * time.Second),
				CacheTTL:          0,
				SampleLimit:       DefaultSampleLimit,
				DiscoveryInterval: discovery,
				HTTP:              defaultHTTP,
			},
			{
				Name:              "desktops-cn-north-4",
				Service:           ServiceWorkspace,
				Credentials:       "hw-prod",
				Endpoint:          "https://workspace.cn-north-4.myhuaweicloud.com",
				Region:            "cn-north-4",
				ProjectID:         "0a1b2c3d4e5f",
				SiteIDs:           []string{"site-a"},
				AZCode:            "",
				Timeout:           Duration(10 * time.Second),
				CacheTTL:          0,
				SampleLimit:       DefaultSampleLimit,
				DiscoveryInterval: discovery,
				HTTP:              defaultHTTP,
			},
			{
				Name:              "audit-cn-north-4",
				Service:           ServiceCTS,
				Credentials:       "hw-prod",
				Endpoint:          "https://cts.cn-north-4.myhuaweicloud.com",
				Region:            "cn-north-4",
				ProjectID:         "0a1b2c3d4e5f",
				Timeout:           Duration(5 * time.Second),
				CacheTTL:          Duration(60 * time.Second),
				SampleLimit:       1000,
				DiscoveryInterval: discovery,
				HTTP:              defaultHTTP,
			},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(good.yml) =\n%s\nwant\n%s", dump(c), dump(want))
	}

	if got := c.Credential("media"); got != &c.Credentials[1] {
		t.Errorf("Credential(media) = %p, want %p", got, &c.Credentials[1])
	}
	if got := c.Credential("nope"); got != nil {
		t.Errorf("Credential(nope) = %v, want nil", got)
	}
	var nilConfig *Config
	if nilConfig.Credential("x") != nil {
		t.Error("lookups on a nil *Config must return nil")
	}
}

// dump shows secret values too, which only a test may do.
func dump(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global: %v %v\n", c.Global.Timeout, c.Global.CacheTTL)
	for _, cr := range c.Credentials {
		fmt.Fprintf(&b, "credential %+v ak=%q sk=%q tok=%q lib=%q\n", cr,
			cr.AccessKey.Value(), cr.SecretKey.Value(), cr.SecurityToken.Value(), cr.LibrarySecret.Value())
	}
	for _, t := range c.Targets {
		fmt.Fprintf(&b, "target %+v\n", t)
	}
	return b.String()
}

func TestDefaultsAndOverrides(t *testing.T) {
	const in = `
global:
  timeout: 30s
  cache_ttl: 2m
credentials:
  - {name: hw, type: huaweicloud, access_key: ak, secret_key: sk}
  - {name: media, type: tencent_smh, library_id: lib, library_secret: ls}
targets:
  - {name: smh-default, service: smh, credentials: media, space_ids: [s1]}
  - {name: smh-proxy, service: smh, credentials: media, space_ids: [s1], endpoint: "https://proxy.example.com/smh//"}
  - {name: ws, service: workspace, credentials: hw, project_id: p, region: ap-southeast-1}
  - {name: ws-eu, service: workspace, credentials: hw, project_id: p, region: eu-west-101}
  - {name: cts-eu, service: cts, credentials: hw, project_id: p, region: eu-west-101}
  - {name: cts-local, service: cts, credentials: hw, project_id: p, endpoint: "http://127.0.0.1:8080/", timeout: 1s, cache_ttl: 0s}
  - {name: cts-both, service: cts, credentials: hw, project_id: p, region: cn-north-4, endpoint: "https://cts.example.net"}
`
	c, err := Parse([]byte(in), "defaults.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.Timeout != Duration(30*time.Second) || c.Global.CacheTTL != Duration(2*time.Minute) {
		t.Errorf("global = %+v", c.Global)
	}
	want := []struct {
		endpoint          string
		timeout, cacheTTL time.Duration
	}{
		{"https://api.tencentsmh.cn", 30 * time.Second, 2 * time.Minute},
		{"https://proxy.example.com/smh", 30 * time.Second, 2 * time.Minute},
		{"https://workspace.ap-southeast-1.myhuaweicloud.com", 30 * time.Second, 2 * time.Minute},
		// Only CTS has the .eu exception.
		{"https://workspace.eu-west-101.myhuaweicloud.com", 30 * time.Second, 2 * time.Minute},
		{"https://cts.eu-west-101.myhuaweicloud.eu", 30 * time.Second, 2 * time.Minute},
		// An explicit 0s overrides a non-zero global cache_ttl.
		{"http://127.0.0.1:8080", time.Second, 0},
		{"https://cts.example.net", 30 * time.Second, 2 * time.Minute},
	}
	for i, w := range want {
		tg := c.Targets[i]
		if tg.Endpoint != w.endpoint || tg.Timeout.D() != w.timeout || tg.CacheTTL.D() != w.cacheTTL {
			t.Errorf("target %q: endpoint %q timeout %v cache_ttl %v; want %q %v %v",
				tg.Name, tg.Endpoint, tg.Timeout, tg.CacheTTL, w.endpoint, w.timeout, w.cacheTTL)
		}
	}
}

func TestGlobalDefaults(t *testing.T) {
	c, err := Parse([]byte("targets:\n  - {name: a, service: smh, credentials: m, space_ids: [s]}\ncredentials:\n  - {name: m, type: tencent_smh, library_id: l, library_secret: x}\n"), "x.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.Timeout.D() != DefaultTimeout || c.Global.CacheTTL != 0 {
		t.Errorf("global = %+v, want timeout 10s, cache_ttl 0s", c.Global)
	}
	if tg := c.Targets[0]; tg.Timeout.D() != DefaultTimeout || tg.CacheTTL != 0 {
		t.Errorf("target = %+v, want timeout 10s, cache_ttl 0s", tg)
	}
	if cr := c.Credentials[0]; cr.TokenPeriod != 0 || cr.Grant != "" {
		t.Errorf("credential = %+v, want no token_period or grant", cr)
	}
}

func TestEmptyConfigIsValid(t *testing.T) {
	for _, in := range []string{
		"",
		"# nothing configured yet\n",
		"---\n",
		"global:\n",
		"targets: []\ncredentials: []\n",
		"global: {timeout: 3s}\n---\n", // a trailing document marker adds nothing
	} {
		c, err := Parse([]byte(in), "empty.yml", false)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if len(c.Targets) != 0 || len(c.Credentials) != 0 || c.Global.Timeout == 0 {
			t.Errorf("Parse(%q) = %+v", in, c)
		}
	}
}

func TestSecretFilePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("sk", "relative-secret\r\n")
	abs := write("ak", "absolute-secret\n\n")
	cfgPath := write("cloudquota.yml", fmt.Sprintf(`
credentials:
  - name: hw
    type: huaweicloud
    access_key_file: %q
    secret_key_file: sk
`, abs))

	// Run from elsewhere: relative paths follow the config file, not the
	// working directory.
	t.Chdir(t.TempDir())
	c, err := Load(cfgPath, false)
	if err != nil {
		t.Fatal(err)
	}
	cr := c.Credentials[0]
	if cr.AccessKey != "absolute-secret" || cr.AccessKeyFile != abs {
		t.Errorf("access key %q from %q", cr.AccessKey.Value(), cr.AccessKeyFile)
	}
	if cr.SecretKey != "relative-secret" || cr.SecretKeyFile != filepath.Join(dir, "sk") {
		t.Errorf("secret key %q from %q", cr.SecretKey.Value(), cr.SecretKeyFile)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yml", false)
	want := `config file "testdata/does-not-exist.yml": cannot read: no such file or directory`
	if err == nil || err.Error() != want {
		t.Errorf("Load: %v\nwant %s", err, want)
	}
}

// badFixtures maps each testdata/bad-*.yml to the exact messages it must
// produce, in order.
var badFixtures = map[string][]string{
	"sample-limit": {
		`line 3: global: sample_limit: "-1" is not a whole number of samples, 0 (no limit) or more`,
		`line 14: target "media-prod": sample_limit: "1.5" is not a whole number of samples, 0 (no limit) or more`,
		`line 19: target "media-test": sample_limit: "many" is not a whole number of samples, 0 (no limit) or more`,
	},
	"target-name-missing":        {`target #2: name is required`},
	"credential-name-missing":    {`credential #1: name is required`},
	"target-name-duplicate":      {`target #2: name "media-prod" is already used by target #1`},
	"credential-name-duplicate":  {`credential #3: name "hw" is already used by credential #1`},
	"service-missing":            {`target "what": service is required (one of: smh, workspace, cts)`},
	"service-unknown":            {`target "buckets": service: unknown service "s3" (valid: smh, workspace, cts)`},
	"type-missing":               {`credential "hw": type is required (one of: huaweicloud, tencent_smh)`},
	"type-unknown":               {`credential "aws": type: unknown type "aws" (valid: huaweicloud, tencent_smh)`},
	"target-credentials-missing": {`target "audit": credentials is required`},
	"target-credentials-undefined": {
		`target "audit": credentials: no credential named "hw-staging" is defined`,
	},
	"target-credentials-wrong-type-smh": {
		`target "media-prod": credentials: credential "hw" is of type huaweicloud, but service smh needs type tencent_smh`,
	},
	"target-credentials-wrong-type-workspace": {
		`target "desktops": credentials: credential "media" is of type tencent_smh, but service workspace needs type huaweicloud`,
	},
	"huaweicloud-smh-keys": {
		`credential "hw": library_id: not valid for type huaweicloud (only for tencent_smh)`,
		`credential "hw": library_secret: not valid for type huaweicloud (only for tencent_smh)`,
		`credential "hw": grant: not valid for type huaweicloud (only for tencent_smh)`,
		`credential "hw": token_period: not valid for type huaweicloud (only for tencent_smh)`,
		`credential "hw": user_id: not valid for type huaweicloud (only for tencent_smh)`,
	},
	"smh-huaweicloud-keys": {
		`credential "media": access_key: not valid for type tencent_smh (only for huaweicloud)`,
		`credential "media": secret_key_file: not valid for type tencent_smh (only for huaweicloud)`,
		`credential "media": security_token: not valid for type tencent_smh (only for huaweicloud)`,
	},
	"smh-target-keys": {
		`target "media-prod": region: not valid for service smh (only for workspace and cts)`,
		`target "media-prod": project_id: not valid for service smh (only for workspace and cts)`,
		`target "media-prod": site_ids: not valid for service smh (only for workspace)`,
		`target "media-prod": az_code: not valid for service smh (only for workspace)`,
	},
	"cts-target-keys": {
		`target "audit": space_ids: not valid for service cts (only for smh)`,
		`target "audit": site_ids: not valid for service cts (only for workspace)`,
		`target "audit": az_code: not valid for service cts (only for workspace)`,
	},
	"workspace-space-ids": {`target "desktops": space_ids: not valid for service workspace (only for smh)`},
	"library-id-missing":  {`credential "media": library_id: required for type tencent_smh`},
	"library-secret-missing": {
		`credential "media": library_secret: required for type tencent_smh (set library_secret or library_secret_file)`,
	},
	"access-key-missing": {
		`credential "hw": access_key: required for type huaweicloud (set access_key or access_key_file)`,
	},
	"secret-key-missing": {
		`credential "hw": secret_key: required for type huaweicloud (set secret_key or secret_key_file)`,
	},
	"project-id-missing": {
		`target "desktops": project_id: required for service workspace unless region is set (the project is then looked up by the region's name)`,
		`target "audit": project_id: required for service cts unless region is set (the project is then looked up by the region's name)`,
	},
	"space-ids-missing": {`target "media-prod": space_ids: the list is empty; list the space ids, or omit the key to watch every space of the library`},
	"ids-empty": {
		`target "media-prod": space_ids: entry #2 is empty`,
		`target "desktops": site_ids: entry #1 is empty`,
	},
	"ids-duplicate": {
		`target "media-prod": space_ids: "space1" is listed more than once`,
		`target "desktops": site_ids: "site-a" is listed more than once`,
	},
	"space-ids-comma": {
		`target "media-prod": space_ids: "space1,space2" must not contain a comma; list each ID separately`,
	},
	"region-and-endpoint-missing": {
		`target "desktops": region: required for service workspace unless endpoint is set`,
		`target "audit": region: required for service cts unless endpoint is set`,
	},
	"region-characters": {`target "audit": region: "CN North 4" may only contain a-z, 0-9 and "-"`},
	"endpoint": {
		`target "scheme": endpoint: "ftp://api.tencentsmh.cn" is not an absolute http or https URL with a host`,
		`target "relative": endpoint: "api.tencentsmh.cn/v1" is not an absolute http or https URL with a host`,
		`target "no-host": endpoint: "https:///api" is not an absolute http or https URL with a host`,
		`target "query": endpoint: "https://api.tencentsmh.cn/" must not contain a query`,
		`target "fragment": endpoint: "https://api.tencentsmh.cn/" must not contain a fragment`,
		`target "userinfo": endpoint: must not contain user info; credentials belong in the credentials section`,
		`target "unparsable": endpoint: not a valid URL: invalid character " " in host name`,
	},
	"durations": {
		`line 3: global: timeout: must be greater than 0`,
		`line 4: global: cache_ttl: invalid duration "1 minute" (use a Go duration such as 10s, 1m30s or 1h)`,
		`line 10: credential "media": token_period: "1.5s" is not a whole number of seconds`,
		`line 16: target "media-prod": timeout: invalid duration "10" (use a Go duration such as 10s, 1m30s or 1h)`,
		`line 17: target "media-prod": cache_ttl: invalid duration "-5m": must not be negative`,
		`line 22: target "media-test": timeout: must be greater than 0`,
	},
	"secret-inline-and-file": {
		`credential "hw": secret_key: set both secret_key and secret_key_file; use only one`,
	},
	"secret-file-unreadable": {
		`credential "hw": access_key_file: cannot read "testdata/secrets/does-not-exist": no such file or directory`,
		`credential "hw": secret_key_file: "testdata/secrets/empty" is empty`,
		`credential "hw": security_token_file: "testdata/secrets/only-newline" is empty`,
		`credential "media": library_secret_file: cannot read "testdata/secrets": is a directory`,
	},
	"unknown-keys": {
		`line 3: global: unknown key "timout" (did you mean "timeout"?)`,
		`line 4: unknown key "scrape_interval" at the top level (valid: global, credentials, targets)`,
		`line 9: credential "hw": unknown key "secret_kye" (did you mean "secret_key"?)`,
		`line 14: target "media-prod": unknown key "space_id" (did you mean "space_ids"?)`,
	},
	"wrong-types": {
		`line 5: credential "hw": access_key: expected a string, got a list`,
		`line 6: credential "hw": secret_key: expected a string, got a mapping`,
		`line 11: target "media-prod": space_ids: expected a list of strings, got a string`,
		`line 12: target "media-prod": timeout: expected a duration such as 10s, got a list`,
	},
	"syntax": {`line 6: found unexpected end of stream`},
	"many": {
		`target "media-prod": space_ids: the list is empty; list the space ids, or omit the key to watch every space of the library`,
		`target #2: name is required`,
		`target "desktops": credentials: no credential named "hw-staging" is defined`,
		`target "desktops": project_id: required for service workspace unless region is set (the project is then looked up by the region's name)`,
		`target "desktops": region: required for service workspace unless endpoint is set`,
	},
}

func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(badFixtures) {
		t.Errorf("%d bad-*.yml fixtures but %d expectations; every fixture needs one", len(files), len(badFixtures))
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "bad-"), ".yml")
		t.Run(name, func(t *testing.T) {
			want, ok := badFixtures[name]
			if !ok {
				t.Fatalf("no expected messages for %s", file)
			}
			c, err := Load(file, false)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", file, c)
			}
			if c != nil {
				t.Errorf("Load(%s) returned a config along with the error", file)
			}
			prefix := fmt.Sprintf("config file %q: ", file)
			var wantLines []string
			for _, w := range want {
				wantLines = append(wantLines, prefix+w)
			}
			if got := err.Error(); got != strings.Join(wantLines, "\n") {
				t.Errorf("Load(%s) error:\n%s\nwant:\n%s", file, got, strings.Join(wantLines, "\n"))
			}
			if strings.Contains(err.Error(), sentinel) {
				t.Errorf("error for %s contains the secret:\n%s", file, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"top level not a mapping", "- a\n",
			`line 1: the file must be a mapping with the keys global, credentials and targets, not a list`},
		{"unknown key with no near match", "foo: 1\n",
			`line 1: unknown key "foo" at the top level (valid: global, credentials, targets)`},
		{"unknown key in an unnamed target", "targets:\n  - service: smh\n    bogus: 1\n",
			`line 3: target #1: unknown key "bogus"`},
		{"targets not a list", "targets: {name: a}\n",
			`line 1: targets: expected a list of targets, got a mapping`},
		{"key set twice", "global:\n  timeout: 1s\n  timeout: 2s\n",
			`line 3: global: key "timeout" is set more than once (first at line 2)`},
		{"syntax error on the first line", "a: b: c\n",
			`line 1: mapping values are not allowed in this context`},
		{"second document", "global: {}\n---\ntargets: []\n",
			`line 2: found a second YAML document; the file must hold only one`},
		{"endpoint with a port but no host", "credentials: [{name: m, type: tencent_smh, library_id: l, library_secret: s}]\ntargets: [{name: a, service: smh, credentials: m, space_ids: [x], endpoint: \"https://:443\"}]\n",
			`target "a": endpoint: "https://:443" is not an absolute http or https URL with a host`},
		{"endpoint with an empty query", "credentials: [{name: m, type: tencent_smh, library_id: l, library_secret: s}]\ntargets: [{name: a, service: smh, credentials: m, space_ids: [x], endpoint: \"https://h/?\"}]\n",
			`target "a": endpoint: "https://h/" must not contain a query`},
		{"credential with unknown type is not also reported on the target", "credentials: [{name: m, type: smh}]\ntargets: [{name: a, service: smh, credentials: m, space_ids: [x]}]\n",
			`credential "m": type: unknown type "smh" (valid: huaweicloud, tencent_smh)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "x.yml", false)
			want := `config file "x.yml": ` + tc.want
			if err == nil || err.Error() != want {
				t.Errorf("Parse: %v\nwant %s", err, want)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	const in = `
credentials:
  - name: hw
    type: huaweicloud
    access_key: "$CQ_TEST_AK"
    secret_key: ${CQ_TEST_SK}
targets:
  - name: audit
    service: cts
    credentials: hw
    region: ${CQ_TEST_REGION}
    project_id: p-${CQ_TEST_REGION}
`
	t.Setenv("CQ_TEST_AK", "not-used")
	t.Setenv("CQ_TEST_SK", "sk-from-env")
	t.Setenv("CQ_TEST_REGION", "cn-north-4")

	t.Run("set", func(t *testing.T) {
		c, err := Parse([]byte(in), "env.yml", true)
		if err != nil {
			t.Fatal(err)
		}
		cr, tg := c.Credentials[0], c.Targets[0]
		// Only the ${VAR} form expands.
		if cr.AccessKey != "$CQ_TEST_AK" {
			t.Errorf("access_key = %q, want it left alone", cr.AccessKey.Value())
		}
		if cr.SecretKey != "sk-from-env" || tg.Region != "cn-north-4" || tg.ProjectID != "p-cn-north-4" {
			t.Errorf("got secret_key %q, region %q, project_id %q", cr.SecretKey.Value(), tg.Region, tg.ProjectID)
		}
		if tg.Endpoint != "https://cts.cn-north-4.myhuaweicloud.com" {
			t.Errorf("endpoint = %q", tg.Endpoint)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		c, err := Parse([]byte(strings.ReplaceAll(in, "${CQ_TEST_REGION}", "cn-north-4")), "env.yml", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Credentials[0].SecretKey; got != "${CQ_TEST_SK}" {
			t.Errorf("secret_key = %q, want the text as written", got.Value())
		}
	})

	t.Run("unset", func(t *testing.T) {
		os.Unsetenv("CQ_TEST_SK")
		os.Unsetenv("CQ_TEST_REGION")
		_, err := Parse([]byte(in), "env.yml", true)
		want := strings.Join([]string{
			`config file "env.yml": line 6: environment variable "CQ_TEST_SK" is not set`,
			`config file "env.yml": line 11: environment variable "CQ_TEST_REGION" is not set`,
			`config file "env.yml": line 12: environment variable "CQ_TEST_REGION" is not set`,
		}, "\n")
		if err == nil || err.Error() != want {
			t.Errorf("Parse: %v\nwant:\n%s", err, want)
		}
	})

	t.Run("set but empty", func(t *testing.T) {
		t.Setenv("CQ_TEST_REGION", "cn-north-4")
		t.Setenv("CQ_TEST_SK", "")
		_, err := Parse([]byte(in), "env.yml", true)
		want := `config file "env.yml": credential "hw": secret_key: required for type huaweicloud (set secret_key or secret_key_file)`
		if err == nil || err.Error() != want {
			t.Errorf("Parse: %v\nwant %s", err, want)
		}
	})
}

// TestSecretsNeverInErrors puts a secret into places where the decoder or
// the validation would be tempted to quote it.
func TestSecretsNeverInErrors(t *testing.T) {
	t.Setenv("CQ_TEST_SECRET", sentinel)
	t.Setenv("CQ_TEST_SECRET_FILE", "secrets/sentinel")
	hw := "credentials:\n  - name: hw\n    type: huaweicloud\n"
	cases := []string{
		hw + "    access_key: ${CQ_TEST_SECRET}\n    access_key_file: ${CQ_TEST_SECRET_FILE}\n",
		hw + "    access_key: [${CQ_TEST_SECRET}]\n    secret_key: {${CQ_TEST_SECRET}: 1}\n",
		hw + "    access_key: ${CQ_TEST_SECRET}\n    secret_key: ${CQ_TEST_SECRET}\n    library_secret: ${CQ_TEST_SECRET}\n    library_secret_file: ${CQ_TEST_SECRET_FILE}\n",
		hw + "    secret_key: !!int ${CQ_TEST_SECRET}\n",
		hw + "    secret_key: ${CQ_TEST_SECRET}: oops\n",
		hw + "    secret_key: ${CQ_TEST_SECRET}\n    secret_kye: ${CQ_TEST_SECRET}\n",
		hw + "    secret_key: ${CQ_TEST_SECRET}\n    access_key: ${CQ_TEST_SECRET}\n    security_token_file: ${CQ_TEST_SECRET_FILE}\n" +
			"targets:\n  - name: t\n    service: smh\n    credentials: hw\n    space_ids: ${CQ_TEST_SECRET}\n",
		"credentials:\n  - name: m\n    type: tencent_smh\n    library_id: l\n    library_secret: ${CQ_TEST_SECRET}\n    access_key: ${CQ_TEST_SECRET}\n" +
			"targets:\n  - name: t\n    service: smh\n    credentials: m\n    space_ids: [a]\n    endpoint: https://u:${CQ_TEST_SECRET}@h\n",
		"global:\n  timeout: ${CQ_TEST_UNSET_FOR_TEST}\n  cache_ttl: ${CQ_TEST_SECRET}x\n",
	}
	files, _ := filepath.Glob("testdata/bad-*.yml")
	withSecret := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), sentinel) || strings.Contains(string(data), "secrets/sentinel") {
			withSecret++
		}
		cases = append(cases, string(data))
	}
	if withSecret < 10 {
		t.Errorf("only %d fixtures carry the sentinel secret; the test would prove little", withSecret)
	}
	for i, in := range cases {
		_, err := Parse([]byte(in), "testdata/secret.yml", true)
		if err == nil {
			if i < 9 {
				t.Errorf("case %d: no error", i)
			}
			continue
		}
		if strings.Contains(err.Error(), sentinel) || strings.Contains(err.Error(), sentinel[:7]) {
			t.Errorf("case %d: error leaks the secret:\n%s", i, err)
		}
	}
}

func TestSecretRedaction(t *testing.T) {
	c, err := Load("testdata/good.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"AKXXXXXXXX", "hw-prod-secret-key", "hw-security-token", "media-library-secret"}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var j strings.Builder
	enc := json.NewEncoder(&j)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s", c.Credentials, c.Credentials, c.Credentials, c.Credentials[0].SecretKey),
		fmt.Sprint(c.Credentials[1].LibrarySecret),
		string(y),
		j.String(),
	} {
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("output contains secret %q:\n%s", v, out)
			}
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("output does not show <secret>:\n%s", out)
		}
	}
	if got := c.Credentials[0].SecretKey.Value(); got != "hw-prod-secret-key" {
		t.Errorf("Value() = %q", got)
	}
	// The dump is itself a valid configuration shape (durations in Go form).
	if !strings.Contains(string(y), "token_period: 24h0m0s") || !strings.Contains(string(y), "timeout: 5s") {
		t.Errorf("YAML dump:\n%s", y)
	}
}

// A Duration is written back in the form the file uses; reading goes
// through rawDuration, whose messages the bad-durations fixture checks.
func TestDurationYAML(t *testing.T) {
	out, err := yaml.Marshal(struct{ D Duration }{Duration(90 * time.Second)})
	if err != nil || string(out) != "d: 1m30s\n" {
		t.Errorf("Marshal: %q, %v", out, err)
	}
}

func TestEndpointMessagesHoldNoSecret(t *testing.T) {
	for _, endpoint := range []string{
		"https://api.tencentsmh.cn/?access_token=SECRETVALUE1",
		"https://api.tencentsmh.cn/#SECRETVALUE1",
		"user:SECRETVALUE1@api.tencentsmh.cn",
		"https://user:SECRETVALUE1@api.tencentsmh.cn",
	} {
		yaml := "credentials: [{name: m, type: tencent_smh, library_id: l, library_secret: s}]\n" +
			"targets: [{name: a, service: smh, credentials: m, space_ids: [x], endpoint: \"" + endpoint + "\"}]\n"
		_, err := Parse([]byte(yaml), "x.yml", false)
		if err == nil {
			t.Errorf("endpoint %q accepted", endpoint)
			continue
		}
		if strings.Contains(err.Error(), "SECRETVALUE1") {
			t.Errorf("endpoint %q: message shows the secret: %v", endpoint, err)
		}
	}
}
