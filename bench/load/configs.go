package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/demo"
)

// extraTarget is the target that only config B has; the reloader probes it
// after every successful reload to check which configuration is running.
const extraTarget = "audit-prod-extra"

// variant is one content of the configuration file the reloader writes.
type variant struct {
	name  string
	yaml  string
	valid bool
	// hasExtra tells whether extraTarget is configured (valid variants).
	hasExtra bool
}

// variants holds every configuration file the driver writes.
type variants struct {
	a, b                  variant // the two valid configurations
	badSyntax, badUnknown variant // two invalid ones
	// targets are the demo targets, present in both valid configurations,
	// that /probe asks for.
	targets []string
	// naiveRequests is how many upstream data requests one /metrics scrape
	// of config A costs without poll sharing and caching.
	naiveRequests int
}

// buildVariants derives the four files from the demo configuration and
// checks in-process that the valid ones parse and the invalid ones do not,
// so that a wrong expectation is the driver's fault, found before any load.
func buildVariants(cloudURL string) (*variants, error) {
	a := demo.ConfigYAML(cloudURL)
	cfgA, err := config.Parse([]byte(a), "config A", false)
	if err != nil {
		return nil, fmt.Errorf("demo configuration does not parse: %w", err)
	}
	v := &variants{a: variant{name: "valid A (demo, 6 targets)", yaml: a, valid: true}}

	var projectID string
	for _, t := range cfgA.Targets {
		v.targets = append(v.targets, t.Name)
		switch t.Service {
		case config.ServiceSMH:
			v.naiveRequests += (len(t.SpaceIDs) + 49) / 50
		case config.ServiceWorkspace:
			v.naiveRequests += max(1, len(t.SiteIDs))
		case config.ServiceCTS:
			v.naiveRequests++
			if t.Name == "audit-prod" {
				projectID = t.ProjectID
			}
		}
	}
	if projectID == "" {
		return nil, fmt.Errorf("demo configuration has no target audit-prod to copy")
	}

	// B: another global timeout, which changes every target's fingerprint
	// so that each swap rebuilds every target, and one more target.
	const globalA, globalB = "global:\n  timeout: 5s\n", "global:\n  timeout: 6s\n"
	if !strings.HasPrefix(a, globalA) {
		return nil, fmt.Errorf("demo configuration does not start with %q; update bench/load/configs.go", globalA)
	}
	b := globalB + strings.TrimPrefix(a, globalA) + fmt.Sprintf(`  - name: %s
    service: cts
    credentials: hw-prod
    project_id: %s
    endpoint: %s
`, extraTarget, projectID, cloudURL)
	cfgB, err := config.Parse([]byte(b), "config B", false)
	if err != nil {
		return nil, fmt.Errorf("config B does not parse: %w", err)
	}
	if len(cfgB.Targets) != len(cfgA.Targets)+1 || cfgB.Global.Timeout == cfgA.Global.Timeout {
		return nil, fmt.Errorf("config B is not different enough from A")
	}
	v.b = variant{name: "valid B (timeout 6s, +1 target)", yaml: b, valid: true, hasExtra: true}

	// Invalid: a YAML syntax error, and an unknown key.
	v.badSyntax = variant{name: "invalid (syntax error)", yaml: a + "  - name: [unterminated\n"}
	v.badUnknown = variant{name: "invalid (unknown key)", yaml: strings.Replace(a, globalA, globalA+"  scrape_everything: true\n", 1)}
	for _, bad := range []variant{v.badSyntax, v.badUnknown} {
		if _, err := config.Parse([]byte(bad.yaml), bad.name, false); err == nil {
			return nil, fmt.Errorf("%s parses without error", bad.name)
		}
	}
	return v, nil
}

// writeAtomic replaces path with content through a temporary file and a
// rename, so that the exporter never reads a half-written file.
func writeAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
