package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"

	commonconfig "github.com/prometheus/common/config"

	"go.yaml.in/yaml/v3"
)

// The raw* types mirror the file. They exist so that validation can tell an
// unset key from a zero one and report durations with their line, before
// building the public types, which only hold effective values.
type rawConfig struct {
	Global      rawGlobal       `yaml:"global"`
	Credentials []rawCredential `yaml:"credentials"`
	Targets     []rawTarget     `yaml:"targets"`
}

type rawGlobal struct {
	Timeout           rawDuration `yaml:"timeout"`
	CacheTTL          rawDuration `yaml:"cache_ttl"`
	SampleLimit       rawCount    `yaml:"sample_limit"`
	DiscoveryInterval rawDuration `yaml:"discovery_interval"`
	rawHTTP           `yaml:",inline"`
}

// rawHTTP is how global and each target reach the clouds, with the keys
// and meaning of Prometheus's own configuration. Pointers tell an unset
// key from a false or empty one: a target that sets any of them replaces
// the global block.
type rawHTTP struct {
	TLSConfig            *commonconfig.TLSConfig  `yaml:"tls_config"`
	ProxyURL             *commonconfig.URL        `yaml:"proxy_url"`
	NoProxy              *string                  `yaml:"no_proxy"`
	ProxyFromEnvironment *bool                    `yaml:"proxy_from_environment"`
	ProxyConnectHeader   commonconfig.ProxyHeader `yaml:"proxy_connect_header"`
}

type rawCredential struct {
	Name              string      `yaml:"name"`
	Type              string      `yaml:"type"`
	AccessKey         string      `yaml:"access_key"`
	AccessKeyFile     string      `yaml:"access_key_file"`
	SecretKey         string      `yaml:"secret_key"`
	SecretKeyFile     string      `yaml:"secret_key_file"`
	SecurityToken     string      `yaml:"security_token"`
	SecurityTokenFile string      `yaml:"security_token_file"`
	LibraryID         string      `yaml:"library_id"`
	LibrarySecret     string      `yaml:"library_secret"`
	LibrarySecretFile string      `yaml:"library_secret_file"`
	Grant             string      `yaml:"grant"`
	TokenPeriod       rawDuration `yaml:"token_period"`
	UserID            string      `yaml:"user_id"`
	Source            string      `yaml:"source"`
	ProfileFile       string      `yaml:"profile_file"`
	MetadataEndpoint  string      `yaml:"metadata_endpoint"`
}

type rawTarget struct {
	Name              string      `yaml:"name"`
	Service           string      `yaml:"service"`
	Credentials       string      `yaml:"credentials"`
	SpaceIDs          *[]string   `yaml:"space_ids"`
	LibraryUsage      bool        `yaml:"library_usage"`
	Endpoint          string      `yaml:"endpoint"`
	Region            string      `yaml:"region"`
	ProjectID         string      `yaml:"project_id"`
	IAMEndpoint       string      `yaml:"iam_endpoint"`
	SiteIDs           []string    `yaml:"site_ids"`
	DiscoverSites     bool        `yaml:"discover_sites"`
	AZCode            string      `yaml:"az_code"`
	Timeout           rawDuration `yaml:"timeout"`
	CacheTTL          rawDuration `yaml:"cache_ttl"`
	SampleLimit       rawCount    `yaml:"sample_limit"`
	DiscoveryInterval rawDuration `yaml:"discovery_interval"`
	rawHTTP           `yaml:",inline"`
}

// rawDuration keeps the text and line of a duration so that a bad one is
// reported with its target, key, line and value, and so that every bad one
// is reported, which failing inside the decoder would not do.
type rawDuration struct {
	set  bool
	line int
	text string
}

func (d *rawDuration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// A TypeError lets the decoder go on, and describeDecodeErrors
		// words it like the decoder's own type errors.
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: cannot unmarshal %s into duration", n.Line, n.ShortTag()),
		}}
	}
	*d = rawDuration{set: true, line: n.Line, text: n.Value}
	return nil
}

// rawCount is a whole number as the file wrote it, kept with its line like
// rawDuration, so that 1.5 or 1e3 is refused rather than truncated.
type rawCount struct {
	set  bool
	line int
	text string
	tag  string
}

func (c *rawCount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: cannot unmarshal %s into int", n.Line, n.ShortTag()),
		}}
	}
	*c = rawCount{set: true, line: n.Line, text: n.Value, tag: n.ShortTag()}
	return nil
}

// Load reads the configuration file at path and parses it with Parse.
func Load(path string, expandEnv bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// The path is already in the prefix; PathError would repeat it.
			err = pe.Err
		}
		return nil, fmt.Errorf("config file %q: cannot read: %w", path, err)
	}
	return Parse(data, path, expandEnv)
}

// Parse decodes and validates a configuration file's contents. path names
// the file in error messages and is the base for relative *_file paths; it
// need not exist. With expandEnv, each ${VAR} in data is first replaced by
// the environment variable VAR, everywhere in the text, comments included,
// and an unset variable is an error. The substitution is textual, so a value
// with YAML syntax in it (": ", a leading "*", quotes) belongs in a *_file
// key or must be quoted accordingly.
//
// The error, if any, is an errors.Join of one-line errors, each starting
// with `config file "<path>": `, covering every problem found. No message
// contains a secret value.
func Parse(data []byte, path string, expandEnv bool) (*Config, error) {
	p := &problems{path: path}
	if expandEnv {
		data = expandEnvVars(data, p)
		if p.failed() {
			return nil, p.err()
		}
	}
	raw, ok := decode(data, p)
	if !ok {
		return nil, p.err()
	}
	c := build(raw, p)
	if p.failed() {
		return nil, p.err()
	}
	return c, nil
}

// envRef is the only expansion form, so that a "$" alone (common in
// secrets) is never touched.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// EnvReferences lists the distinct ${VAR} names in data, in order, so that
// --config.check can warn when they would be taken literally.
func EnvReferences(data []byte) []string {
	var names []string
	seen := map[string]bool{}
	for _, m := range envRef.FindAllSubmatch(data, -1) {
		if name := string(m[1]); !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

func expandEnvVars(data []byte, p *problems) []byte {
	matches := envRef.FindAllSubmatchIndex(data, -1)
	if matches == nil {
		return data
	}
	var out bytes.Buffer
	last := 0
	for _, m := range matches {
		name := string(data[m[2]:m[3]])
		val, ok := os.LookupEnv(name)
		if !ok {
			p.addLine(lineAt(data, m[0]), "environment variable %q is not set", name)
			continue
		}
		out.Write(data[last:m[0]])
		out.WriteString(val)
		last = m[1]
	}
	out.Write(data[last:])
	return out.Bytes()
}

func lineAt(data []byte, offset int) int {
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// decode reads the single YAML document in data strictly. An empty file (or
// one with only comments) is an empty configuration.
func decode(data []byte, p *problems) (*rawConfig, bool) {
	raw := &rawConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(raw)
	switch {
	case errors.Is(err, io.EOF):
		return raw, true
	case err != nil:
		var te *yaml.TypeError
		var ue *url.Error
		switch {
		case errors.As(err, &te):
			for _, msg := range describeDecodeErrors(data, te.Errors) {
				p.add("%s", msg)
			}
		case errors.As(err, &ue):
			// prometheus/common's URL (proxy_url) fails with url.Parse's
			// error, which quotes the whole URL, password included.
			p.add("%s", badURLError(data, ue))
		default:
			p.add("%s", syntaxError(err))
		}
		return nil, false
	}
	// A second document would be silently ignored by Decode; a user who
	// wrote one expects it to count.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return raw, true
	case err != nil:
		p.add("%s", syntaxError(err))
	case isEmptyDocument(&extra):
		// A trailing "---" adds nothing.
		return raw, true
	default:
		p.addLine(extra.Line, "found a second YAML document; the file must hold only one")
	}
	return nil, false
}

// badURLError words a URL that does not parse without quoting it: where
// it is (the first URL-valued key whose value does not parse) and url's
// own reason.
func badURLError(data []byte, ue *url.Error) string {
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	for _, e := range flatten(&root) {
		if e.key == nil || e.value == nil || e.value.Kind != yaml.ScalarNode || !strings.HasSuffix(e.key.Value, "_url") {
			continue
		}
		if _, err := url.Parse(e.value.Value); err != nil {
			return fmt.Sprintf("line %d: %s: not a valid URL: %v", e.value.Line, e.where(), ue.Err)
		}
	}
	return fmt.Sprintf("a URL is not valid: %v", ue.Err)
}

func isEmptyDocument(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return true
	}
	c := n.Content[0]
	return c.Kind == yaml.ScalarNode && c.ShortTag() == "!!null"
}

var (
	reHasLine    = regexp.MustCompile(`^line \d+: `)
	reAnchorName = regexp.MustCompile(`(?s)anchor '.*'`)
)

// lineless lists the starts of decoder messages that carry no line because
// they are not about a position (bad encoding, aliases, explicit tags).
var lineless = []string{
	"input error", "invalid leading UTF-8", "invalid trailing UTF-8", "incomplete UTF-8",
	"invalid length of a UTF-8", "invalid Unicode", "incomplete UTF-16", "unexpected low surrogate",
	"expected low surrogate", "control characters", "attempted to go past", "unknown anchor",
	"document contains excessive aliasing", "cannot decode", "anchor value", "!!binary",
	"invalid array", "invalid map key", "map merge requires",
}

// syntaxError words a parser error like the others. The parser leaves out
// the line when the problem is on the first one, so it is added back.
func syntaxError(err error) string {
	// Some messages quote a value ("cannot decode !!str `...` as a !!int"),
	// which may be a secret.
	msg := reQuotedValue.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
	// Anchor names too ("unknown anchor 'x' referenced"): an unquoted
	// secret that starts with "*" is read as an alias.
	msg = reAnchorName.ReplaceAllString(msg, "anchor")
	if reHasLine.MatchString(msg) {
		return msg
	}
	for _, l := range lineless {
		if strings.HasPrefix(msg, l) {
			return msg
		}
	}
	return "line 1: " + msg
}

// problems collects every error found in one file.
type problems struct {
	path string
	errs []error
}

func (p *problems) add(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("config file %q: %s", p.path, fmt.Sprintf(format, args...)))
}

func (p *problems) addLine(line int, format string, args ...any) {
	p.add("line %d: %s", line, fmt.Sprintf(format, args...))
}

func (p *problems) failed() bool { return len(p.errs) > 0 }

func (p *problems) err() error { return errors.Join(p.errs...) }
