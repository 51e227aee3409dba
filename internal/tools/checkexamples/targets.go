package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// target is what the check needs of a configured target.
type target struct{ Name, Service string }

// sdGroup is one group of a Prometheus file_sd file.
type sdGroup struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// configTargets maps each target of an exporter configuration to its
// service.
func configTargets(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c struct {
		Targets []target `yaml:"targets"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	m := map[string]string{}
	for _, t := range c.Targets {
		m[t.Name] = t.Service
	}
	return m, nil
}

// targets checks that fileSD lists exactly the targets of the configuration
// all, each labelled with its service, and that every target of the other
// configurations is one of all's, with the same service.
func targets(all, fileSD string, others []string) error {
	want, err := configTargets(all)
	if err != nil {
		return err
	}
	groups, err := readFileSD(fileSD)
	if err != nil {
		return err
	}
	problems := fileSDProblems(want, all, fileSD, groups)
	for _, other := range others {
		p, err := otherProblems(want, all, other)
		if err != nil {
			return err
		}
		problems = append(problems, p...)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	fmt.Printf("%d targets in %s, all listed in %s with their service\n", len(want), all, fileSD)
	return nil
}

func readFileSD(path string) ([]sdGroup, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var groups []sdGroup
	if err := yaml.Unmarshal(data, &groups); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return groups, nil
}

// fileSDProblems compares the file_sd groups with the targets of all
// (want: name to service), both ways.
func fileSDProblems(want map[string]string, all, fileSD string, groups []sdGroup) []string {
	var problems []string
	seen := map[string]bool{}
	for _, g := range groups {
		for _, name := range g.Targets {
			seen[name] = true
			service, ok := want[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s lists %q, which %s does not define", fileSD, name, all))
			case g.Labels["service"] != service:
				problems = append(problems, fmt.Sprintf("%s: %q has service label %q, but it is a %s target in %s", fileSD, name, g.Labels["service"], service, all))
			}
		}
	}
	for name := range want {
		if !seen[name] {
			problems = append(problems, fmt.Sprintf("%s does not list target %q of %s", fileSD, name, all))
		}
	}
	return problems
}

// otherProblems lists the targets of the configuration other that are not
// targets of all with the same service.
func otherProblems(want map[string]string, all, other string) ([]string, error) {
	ts, err := configTargets(other)
	if err != nil {
		return nil, err
	}
	var problems []string
	for name, service := range ts {
		if want[name] != service {
			problems = append(problems, fmt.Sprintf("%s: target %q (%s) is not a %s target of %s", other, name, service, service, all))
		}
	}
	return problems, nil
}
