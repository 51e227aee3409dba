package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The official Huawei Cloud SDKs' environment variables and profile.
const (
	EnvAccessKey       = "HUAWEICLOUD_SDK_AK"
	EnvSecretKey       = "HUAWEICLOUD_SDK_SK"
	EnvSecurityToken   = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
	EnvCredentialsFile = "HUAWEICLOUD_SDK_CREDENTIALS_FILE"
	// profileSection is the section of the profile with regional keys.
	profileSection = "basic"
)

var validSources = strings.Join([]string{SourceStatic, SourceEnvironment, SourceProfile, SourceMetadata}, ", ")

// huaweiKeys fills a huaweicloud credential's keys from its source.
func (b *builder) huaweiKeys(label string, rc *rawCredential, c *Credential) {
	c.Source = rc.Source
	if c.Source == "" {
		c.Source = SourceStatic
	}
	static := []setKey{
		{"access_key", rc.AccessKey != ""}, {"access_key_file", rc.AccessKeyFile != ""},
		{"secret_key", rc.SecretKey != ""}, {"secret_key_file", rc.SecretKeyFile != ""},
		{"security_token", rc.SecurityToken != ""}, {"security_token_file", rc.SecurityTokenFile != ""},
	}
	profile := setKey{"profile_file", rc.ProfileFile != ""}
	metadata := setKey{"metadata_endpoint", rc.MetadataEndpoint != ""}
	what := "source " + c.Source
	switch c.Source {
	case SourceStatic:
		b.notValid(label, what, "source profile", profile)
		b.notValid(label, what, "source metadata", metadata)
		c.AccessKey, c.AccessKeyFile = b.secret(label, rc.Type, "access_key", rc.AccessKey, rc.AccessKeyFile, true)
		c.SecretKey, c.SecretKeyFile = b.secret(label, rc.Type, "secret_key", rc.SecretKey, rc.SecretKeyFile, true)
		c.SecurityToken, c.SecurityTokenFile = b.secret(label, rc.Type, "security_token", rc.SecurityToken, rc.SecurityTokenFile, false)
	case SourceEnvironment:
		b.notValid(label, what, "source static", static...)
		b.notValid(label, what, "source profile", profile)
		b.notValid(label, what, "source metadata", metadata)
		c.AccessKey = b.env(label, EnvAccessKey, true)
		c.SecretKey = b.env(label, EnvSecretKey, true)
		c.SecurityToken = b.env(label, EnvSecurityToken, false)
	case SourceProfile:
		b.notValid(label, what, "source static", static...)
		b.notValid(label, what, "source metadata", metadata)
		b.profile(label, rc.ProfileFile, c)
	case SourceMetadata:
		b.notValid(label, what, "source static", static...)
		b.notValid(label, what, "source profile", profile)
		c.MetadataEndpoint = DefaultMetadataEndpoint
		if rc.MetadataEndpoint != "" {
			c.MetadataEndpoint = b.url(label, "metadata_endpoint", rc.MetadataEndpoint)
		}
	default:
		b.p.add("%s: source: unknown source %q (valid: %s)", label, rc.Source, validSources)
	}
}

// env reads a key from the environment, as the official SDK does. A
// variable that is set but empty is an error: it is a mistake, not a wish
// to go without.
func (b *builder) env(label, name string, required bool) Secret {
	v, set := os.LookupEnv(name)
	switch {
	case set && v == "":
		b.p.add("%s: source environment: %s is set but empty", label, name)
	case !set && required:
		b.p.add("%s: source environment: %s is not set", label, name)
	}
	return Secret(v)
}

// profile reads the [basic] section of the SDK's credentials file: the
// configured profile_file, else $HUAWEICLOUD_SDK_CREDENTIALS_FILE, else
// ~/.huaweicloud/credentials.
func (b *builder) profile(label, configured string, c *Credential) {
	path, from := configured, "profile_file"
	switch {
	case path != "":
		if !filepath.IsAbs(path) {
			path = filepath.Join(b.baseDir, path)
		}
	case os.Getenv(EnvCredentialsFile) != "":
		path, from = os.Getenv(EnvCredentialsFile), EnvCredentialsFile
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			b.p.add("%s: source profile: no profile_file, no %s and no home directory: %v", label, EnvCredentialsFile, err)
			return
		}
		path, from = filepath.Join(home, ".huaweicloud", "credentials"), "the default profile"
	}
	c.ProfileFile = path
	data, err := readSecretFile(path)
	if err != nil {
		b.p.add("%s: source profile (%s): %v", label, from, err)
		return
	}
	keys, err := iniSection([]byte(data), profileSection)
	if err != nil {
		b.p.add("%s: source profile (%s): %q: %v", label, from, path, err)
		return
	}
	for _, k := range []struct {
		name     string
		to       *Secret
		required bool
	}{{"ak", &c.AccessKey, true}, {"sk", &c.SecretKey, true}, {"security_token", &c.SecurityToken, false}} {
		v, ok := keys[k.name]
		switch {
		case ok && v == "":
			b.p.add("%s: source profile: %q: [%s] %s is empty", label, path, profileSection, k.name)
		case !ok && k.required:
			b.p.add("%s: source profile: %q: [%s] has no %s", label, path, profileSection, k.name)
		}
		*k.to = Secret(v)
	}
}

// iniSection returns the keys of one section of an INI file, in the subset
// of the format the SDK's profiles use: [section] headers, key = value
// lines, and comments starting with ; or #. Errors name lines, never
// values.
func iniSection(data []byte, section string) (map[string]string, error) {
	var (
		keys    map[string]string
		current string
		line    int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || text[0] == ';' || text[0] == '#':
		case text[0] == '[':
			if !strings.HasSuffix(text, "]") {
				return nil, fmt.Errorf("line %d: a section header must end with ]", line)
			}
			current = strings.TrimSpace(text[1 : len(text)-1])
			if current == section && keys == nil {
				keys = map[string]string{}
			}
		default:
			k, v, ok := strings.Cut(text, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: not a key = value line", line)
			}
			if current == section {
				keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	if keys == nil {
		return nil, fmt.Errorf("no [%s] section", section)
	}
	return keys, nil
}
