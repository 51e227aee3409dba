// Package benchutil holds what the benchmark programs share: finding the
// repository, building the exporter from it, running it as a process on a
// loopback port, and reading and summing up what it answers and logs.
package benchutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RepoRoot is flagValue made absolute, or the directory of `go env GOMOD`.
func RepoRoot(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module; run from the repository or pass -repo")
	}
	return filepath.Dir(gomod), nil
}

// BuildExporter builds the exporter in root into dir/cloudquota_exporter
// (see BuildPackage) and returns the binary's path.
func BuildExporter(root, dir string) (string, error) {
	return BuildPackage(root, dir, ".", "cloudquota_exporter")
}

// BuildPackage builds pkg in root as the release builds the exporter
// (.goreleaser.yaml: static, CGO_ENABLED=0, -trimpath, -ldflags "-s -w"),
// so that what is measured is what ships, into dir/name, and returns the
// binary's path, for the exporter and for the programs measured beside it.
func BuildPackage(root, dir, pkg, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}
