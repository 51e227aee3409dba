package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// A native fuzz target for Parse. The committed corpus under
// testdata/fuzz/FuzzParse/ runs as an ordinary test; .ci/fuzz.sh runs it
// with -fuzz for a short time.

// fzPath names the fuzzed file. It is in testdata, so *_file keys such as
// secrets/sentinel resolve to the fixtures, and has no digit, so it can
// never look like a secret in a message.
const fzPath = "testdata/fuzz.yml"

// fzSecretKeys are the keys whose values are secrets.
var fzSecretKeys = map[string]bool{
	"access_key": true, "secret_key": true, "security_token": true, "library_secret": true,
}

// fzSecretLine finds a secret key in block style and the text after it.
var fzSecretLine = regexp.MustCompile(`(?m)^[ \t-]*(access_key|secret_key|security_token|library_secret)[ \t]*:[ \t]+([^\n]*)$`)

// FuzzParse feeds Parse arbitrary bytes. Invariants:
//   - it never panics, and returns a config or an error, never both;
//   - every line of the error starts with `config file "<path>": `;
//   - no error holds the content of a secret file (unless the input
//     also holds it, say as a type), nor a secret value
//     written in the input under access_key, secret_key, security_token or
//     library_secret (found by decoding the YAML, and by reading block-style
//     lines as text, so that a value the decoder rejects counts too, with
//     any leading YAML indicator such as "*", "&" or "!" removed); values
//     are checked when distinctive: 8+ bytes, a letter and a digit, no
//     white space, and not also written elsewhere in the input;
//   - a parsed config holds its own invariants: unique non-empty
//     credential and target names, known types and services, each target's
//     credential defined with the type its service needs, required secrets
//     set, smh targets with valid unique space ids, timeouts > 0, cache TTLs
//     >= 0, endpoints absolute http(s) URLs without trailing slash;
//   - printing or marshalling a parsed config shows no secret value.
func FuzzParse(f *testing.F) {
	f.Add([]byte("credentials:\n  - name: hw\n    type: huaweicloud\n    access_key: AK0123456789\n    secret_key: *Secret0123456789\n"))
	fileSecret, err := os.ReadFile(filepath.Join("testdata", "secrets", "sentinel"))
	if err != nil {
		f.Fatal(err)
	}
	fileSecrets := []string{strings.TrimSpace(string(fileSecret)), "hw-prod-secret-key", "hw-security-token", "media-library-secret"}
	f.Fuzz(func(t *testing.T, data []byte) {
		// *_file keys open what they name: stay away from files that
		// could block (a terminal, a FIFO) or are not ours to read, also
		// when spelt with escapes, tags or !!binary.
		for _, avoid := range []string{"dev", "proc", "sys", "fd", "run", "var", "binary", "%", "\\"} {
			if bytes.Contains(bytes.ToLower(data), []byte(avoid)) && bytes.Contains(data, []byte("_file")) {
				return
			}
		}
		c, err := Parse(data, fzPath, false)
		if err != nil {
			if c != nil {
				t.Fatalf("error %v came with a config", err)
			}
			msg := err.Error()
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, `config file "`+fzPath+`": `) {
					t.Fatalf("error line without the file prefix: %q", line)
				}
			}
			for _, s := range fileSecrets {
				if strings.Contains(msg, s) && !bytes.Contains(data, []byte(s)) {
					t.Fatalf("error contains the content of a secret file %q:\n%s", s, msg)
				}
			}
			for _, s := range fzInputSecrets(data) {
				if strings.Contains(msg, s) {
					t.Fatalf("error contains the secret value %q:\n%s\ninput:\n%s", s, msg, data)
				}
			}
			return
		}
		if c == nil {
			t.Fatal("no error and no config")
		}
		fzCheckConfig(t, c)
		fzCheckRedaction(t, c)
	})
}

// fzDistinctive tells whether s cannot occur in a message's own words.
func fzDistinctive(s string) bool {
	return len(s) >= 8 && !strings.ContainsFunc(s, unicode.IsSpace) &&
		strings.ContainsFunc(s, unicode.IsLetter) && strings.ContainsFunc(s, unicode.IsDigit)
}

// fzInputSecrets lists the distinctive secret values written in data.
func fzInputSecrets(data []byte) []string {
	counts := map[string]int{} // value -> times written as a secret
	add := func(v string) {
		if fzDistinctive(v) {
			counts[v]++
		}
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) == nil {
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k, v := n.Content[i], n.Content[i+1]; fzSecretKeys[k.Value] && v.Kind == yaml.ScalarNode {
						add(v.Value)
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&root)
	}
	textCounts := map[string]int{}
	for _, m := range fzSecretLine.FindAllSubmatch(data, -1) {
		v := string(m[2])
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		// An alias, anchor or tag: the name is the value the user meant.
		v = strings.TrimLeft(v, "*&!")
		if i := strings.IndexFunc(v, unicode.IsSpace); i >= 0 {
			v = v[:i]
		}
		if fzDistinctive(v) {
			textCounts[v] += strings.Count(string(m[0]), v)
		}
	}
	for v, n := range textCounts {
		counts[v] = max(counts[v], n)
	}
	var out []string
	for v, n := range counts {
		// Written somewhere else too (as a name, a key, an id): then the
		// message may rightly quote that other place.
		if strings.Count(string(data), v) <= n {
			out = append(out, v)
		}
	}
	return out
}

func fzCheckConfig(t *testing.T, c *Config) {
	t.Helper()
	if c.Global.Timeout <= 0 || c.Global.CacheTTL < 0 {
		t.Fatalf("global timeout %v, cache_ttl %v", c.Global.Timeout, c.Global.CacheTTL)
	}
	creds := map[string]*Credential{}
	for i := range c.Credentials {
		cr := &c.Credentials[i]
		if cr.Name == "" || creds[cr.Name] != nil {
			t.Fatalf("credential #%d: empty or duplicate name %q", i+1, cr.Name)
		}
		creds[cr.Name] = cr
		switch cr.Type {
		case CredentialTypeHuaweiCloud:
			if cr.AccessKey == "" || cr.SecretKey == "" {
				t.Fatalf("credential %q: huaweicloud without access_key or secret_key", cr.Name)
			}
			if cr.LibraryID != "" || cr.LibrarySecret != "" {
				t.Fatalf("credential %q: huaweicloud with tencent_smh fields", cr.Name)
			}
		case CredentialTypeTencentSMH:
			if cr.LibraryID == "" || cr.LibrarySecret == "" {
				t.Fatalf("credential %q: tencent_smh without library_id or library_secret", cr.Name)
			}
			if cr.AccessKey != "" || cr.SecretKey != "" || cr.SecurityToken != "" {
				t.Fatalf("credential %q: tencent_smh with huaweicloud fields", cr.Name)
			}
			if cr.TokenPeriod < 0 || cr.TokenPeriod.D()%1e9 != 0 {
				t.Fatalf("credential %q: token_period %v", cr.Name, cr.TokenPeriod)
			}
		default:
			t.Fatalf("credential %q: type %q", cr.Name, cr.Type)
		}
	}
	targets := map[string]bool{}
	for i, tg := range c.Targets {
		if tg.Name == "" || targets[tg.Name] {
			t.Fatalf("target #%d: empty or duplicate name %q", i+1, tg.Name)
		}
		targets[tg.Name] = true
		want, ok := credentialTypeFor[tg.Service]
		if !ok {
			t.Fatalf("target %q: service %q", tg.Name, tg.Service)
		}
		cr := creds[tg.Credentials]
		if cr == nil || cr.Type != want {
			t.Fatalf("target %q: service %s with credential %q, which is %+v", tg.Name, tg.Service, tg.Credentials, cr)
		}
		if c.Credential(tg.Credentials) != cr {
			t.Fatalf("target %q: lookup by name finds another item", tg.Name)
		}
		if tg.Timeout <= 0 || tg.CacheTTL < 0 {
			t.Fatalf("target %q: timeout %v, cache_ttl %v", tg.Name, tg.Timeout, tg.CacheTTL)
		}
		u, err := url.Parse(tg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
			u.RawQuery != "" || strings.HasSuffix(tg.Endpoint, "/") {
			t.Fatalf("target %q: endpoint %q", tg.Name, tg.Endpoint)
		}
		switch tg.Service {
		case ServiceSMH:
			if len(tg.SpaceIDs) == 0 != tg.DiscoverSpaces {
				t.Fatalf("target %q: smh without space ids but not discovering them, or both", tg.Name)
			}
			seen := map[string]bool{}
			for _, id := range tg.SpaceIDs {
				if id == "" || strings.Contains(id, ",") || seen[id] {
					t.Fatalf("target %q: space id %q empty, with a comma or repeated", tg.Name, id)
				}
				seen[id] = true
			}
			if tg.Region != "" || tg.ProjectID != "" || len(tg.SiteIDs) > 0 || tg.AZCode != "" {
				t.Fatalf("target %q: smh with Huawei fields", tg.Name)
			}
		case ServiceWorkspace, ServiceCTS:
			if (tg.ProjectID == "" && (tg.Region == "" || tg.IAMEndpoint == "")) || len(tg.SpaceIDs) > 0 || tg.DiscoverSpaces {
				t.Fatalf("target %q: %s without project_id or region and IAM endpoint, or with space_ids", tg.Name, tg.Service)
			}
			if tg.Service == ServiceCTS && (len(tg.SiteIDs) > 0 || tg.AZCode != "") {
				t.Fatalf("target %q: cts with Workspace fields", tg.Name)
			}
		}
	}
}

// fzCheckRedaction fails when a dump of c shows a secret value that a dump
// with every secret blanked does not show anyway (as part of a name, an
// id, an endpoint).
func fzCheckRedaction(t *testing.T, c *Config) {
	t.Helper()
	blank := *c
	blank.Credentials = append([]Credential(nil), c.Credentials...)
	var secrets []string
	for i := range blank.Credentials {
		cr := &blank.Credentials[i]
		for _, s := range []*Secret{&cr.AccessKey, &cr.SecretKey, &cr.SecurityToken, &cr.LibrarySecret} {
			if len(*s) >= 4 {
				secrets = append(secrets, s.Value())
			}
			*s = ""
		}
	}
	if len(secrets) == 0 {
		return
	}
	dumpOf := func(c *Config) string {
		y, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("yaml.Marshal: %v", err)
		}
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		return fmt.Sprintf("%v\n%+v\n%#v\n%s\n%s", *c, *c, *c, y, j)
	}
	dump, blankDump := dumpOf(c), dumpOf(&blank)
	for _, s := range secrets {
		if strings.Contains(dump, s) && !strings.Contains(blankDump, s) {
			t.Fatalf("a dump of the config shows the secret %q:\n%s", s, dump)
		}
	}
}
