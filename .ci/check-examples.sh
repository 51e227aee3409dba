#!/usr/bin/env bash
# Checks the shipped examples and the Dockerfile without a Docker engine:
#   * every examples/cloudquota-*.yml passes the exporter's --config.check;
#   * examples/file_sd lists exactly the targets of examples/cloudquota-all.yml
#     (with their service), and every per-service example's targets are in it;
#   * promtool check config examples/prometheus.yml (which also checks the
#     rule file it names, dashboards/cloudquota-rules.yml, and the file_sd file);
#   * amtool check-config examples/alertmanager.yml, and its routes send
#     severity=critical to the pager and severity=warning to chat;
#   * the Dockerfile, statically: pinned builder tag matching go.mod's Go,
#     no :latest, CGO_ENABLED=0, non-root USER, EXPOSE 9784, exec-form
#     ENTRYPOINT, and every COPY source present in the build context;
#   * the Dockerfile's builder stage replayed outside Docker: the build
#     context is made from .dockerignore, the builder's WORKDIR, COPY, ARG
#     and RUN lines run in order, and the binary the runtime stage copies
#     must come out of it and report the build ARGs in --version.
# Needs go, promtool (Debian package prometheus) and amtool (Debian package
# prometheus-alertmanager). Prints PASS/FAIL per check; exits 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
section() { printf '\n=== %s\n' "$*"; }
# run_check DESCRIPTION COMMAND...: runs COMMAND, shows its output indented,
# and records PASS or FAIL.
run_check() {
  local what=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/      /'
  if [ "$rc" = 0 ]; then pass "$what"; else fail "$what (exit status $rc)"; fi
  return 0
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section "tools"
missing=0
for tool in go:golang promtool:prometheus amtool:prometheus-alertmanager; do
  if command -v "${tool%%:*}" >/dev/null; then
    pass "${tool%%:*} found: $(command -v "${tool%%:*}")"
  else
    fail "${tool%%:*} not found (Debian package ${tool#*:})"; missing=1
  fi
done
[ "$missing" = 0 ] || { echo "cannot go on without the tools above"; exit 1; }
printf '      %s\n' "$(go version)" "$(promtool --version 2>&1 | head -1)" "$(amtool --version 2>&1 | head -1)"

# A small helper for what bash cannot do reliably: YAML, .dockerignore
# patterns, and replaying Dockerfile instructions. It is built inside this
# module so that it can use the module's YAML package.
mkdir -p "$tmp/helper"
cat >"$tmp/helper/main.go" <<'GO'
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

func main() {
	var err error
	switch os.Args[1] {
	case "targets":
		err = targets(os.Args[2], os.Args[3], os.Args[4:])
	case "context":
		err = buildContext(os.Args[2], os.Args[3])
	case "replay":
		err = replay(os.Args[2], os.Args[3], os.Args[4], os.Args[5:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

// ---- targets: file_sd against the exporter configurations

type target struct{ Name, Service string }

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

func targets(all, fileSD string, others []string) error {
	want, err := configTargets(all)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(fileSD)
	if err != nil {
		return err
	}
	var groups []struct {
		Targets []string          `yaml:"targets"`
		Labels  map[string]string `yaml:"labels"`
	}
	if err := yaml.Unmarshal(data, &groups); err != nil {
		return fmt.Errorf("%s: %v", fileSD, err)
	}
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
	for _, other := range others {
		ts, err := configTargets(other)
		if err != nil {
			return err
		}
		for name, service := range ts {
			if want[name] != service {
				problems = append(problems, fmt.Sprintf("%s: target %q (%s) is not a %s target of %s", other, name, service, service, all))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	fmt.Printf("%d targets in %s, all listed in %s with their service\n", len(want), all, fileSD)
	return nil
}

// ---- context: the files of the build context after .dockerignore, with
// Docker's pattern rules (github.com/moby/patternmatcher): patterns are
// cleaned, '*' and '?' stop at '/', '**' spans directories, a pattern also
// matches the parent directories of a path, and the last matching line
// decides ('!' lets a path back in).

type pattern struct {
	re        *regexp.Regexp
	dirs      int
	exclusion bool
}

func compile(p string) (pattern, error) {
	var pt pattern
	if strings.HasPrefix(p, "!") {
		pt.exclusion = true
		p = strings.TrimSpace(p[1:])
	}
	p = strings.TrimPrefix(filepath.Clean(p), "/")
	pt.dirs = len(strings.Split(p, "/"))
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
			}
			if i+1 == len(p) {
				b.WriteString(".*")
			} else {
				b.WriteString("(.*/)?")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(string(p[i])))
		case strings.ContainsRune(".+()|{}$^", rune(c)):
			b.WriteString(`\` + string(c))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	pt.re = re
	return pt, err
}

func excluded(patterns []pattern, path string) bool {
	parents := strings.Split(filepath.Dir(path), "/")
	ex := false
	for _, p := range patterns {
		match := p.re.MatchString(path)
		if !match && filepath.Dir(path) != "." && p.dirs <= len(parents) {
			match = p.re.MatchString(strings.Join(parents[:p.dirs], "/"))
		}
		if match {
			ex = !p.exclusion
		}
	}
	return ex
}

func buildContext(root, out string) error {
	var patterns []pattern
	if f, err := os.Open(filepath.Join(root, ".dockerignore")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p, err := compile(line)
			if err != nil {
				return fmt.Errorf(".dockerignore: %q: %v", line, err)
			}
			patterns = append(patterns, p)
		}
		f.Close()
	}
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if excluded(patterns, rel) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		dst := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		n++
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
	fmt.Printf("build context: %d files\n", n)
	return err
}

// ---- replay: the builder stage outside Docker

type instr struct {
	cmd, args string
	line      int
}

func parseDockerfile(path string) ([][]instr, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var stages [][]instr
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() > 0) {
			continue // comments, and empty lines inside a continued instruction
		}
		if line == "" {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		in := instr{strings.ToUpper(cmd), strings.TrimSpace(args), start}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			continue // global ARGs: none used
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	return stages, nil
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		return env[varRef.FindStringSubmatch(m)[1]]
	})
}

func replay(dockerfile, ctx, root string, buildArgs []string) error {
	stages, err := parseDockerfile(dockerfile)
	if err != nil {
		return err
	}
	given := map[string]string{} // --build-arg NAME=VALUE
	for _, kv := range buildArgs {
		k, v, _ := strings.Cut(kv, "=")
		given[k] = v
	}
	if len(stages) < 2 {
		return fmt.Errorf("want a multi-stage build (builder, runtime), found %d stage(s)", len(stages))
	}
	builder, runtime := stages[0], stages[len(stages)-1]
	env := map[string]string{}
	osEnv := os.Environ()
	cwd := root
	for _, in := range builder[1:] {
		where := fmt.Sprintf("Dockerfile:%d %s", in.line, in.cmd)
		switch in.cmd {
		case "ARG", "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = strings.Trim(expand(v, env), `"`)
				if g, ok := given[k]; ok && in.cmd == "ARG" {
					env[k] = g
				}
			}
		case "WORKDIR":
			cwd = filepath.Join(root, expand(in.args, env))
			if err := os.MkdirAll(cwd, 0o755); err != nil {
				return err
			}
			fmt.Printf("%s %s\n", where, in.args)
		case "COPY", "ADD":
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) < 2 {
				return fmt.Errorf("%s: want sources and a destination", where)
			}
			dest := filepath.Join(cwd, f[len(f)-1])
			if strings.HasPrefix(f[len(f)-1], "/") {
				dest = filepath.Join(root, f[len(f)-1])
			}
			for _, src := range f[:len(f)-1] {
				matches, _ := filepath.Glob(filepath.Join(ctx, src))
				if len(matches) == 0 {
					return fmt.Errorf("%s: %q is not in the build context (missing, or left out by .dockerignore)", where, src)
				}
				for _, m := range matches {
					if err := copyInto(m, dest); err != nil {
						return err
					}
				}
			}
			fmt.Printf("%s %s\n", where, in.args)
		case "RUN":
			script := in.args
			// Absolute output paths are kept under the replay root.
			script = regexp.MustCompile(`(-o\s+)/`).ReplaceAllString(script, "${1}"+root+"/")
			c := exec.Command("sh", "-c", script)
			c.Dir = cwd
			c.Env = append([]string{}, osEnv...)
			for k, v := range env {
				c.Env = append(c.Env, k+"="+v)
			}
			c.Stdout, c.Stderr = os.Stdout, os.Stdout
			fmt.Printf("%s %s\n", where, in.args)
			if err := c.Run(); err != nil {
				return fmt.Errorf("%s failed: %v", where, err)
			}
		default:
			fmt.Printf("%s (not replayed)\n", where)
		}
	}

	// The runtime stage: distroless has no shell, so no RUN or shell-form
	// commands; its COPY --from=builder sources must have been built; the
	// ENTRYPOINT must be one of the copied files.
	copied := map[string]string{}
	var entrypoint []string
	for _, in := range runtime[1:] {
		where := fmt.Sprintf("Dockerfile:%d %s", in.line, in.cmd)
		switch in.cmd {
		case "RUN":
			return fmt.Errorf("%s: the runtime image has no shell", where)
		case "HEALTHCHECK":
			if !strings.Contains(in.args, "[") {
				return fmt.Errorf("%s: shell form needs a shell, which the runtime image lacks", where)
			}
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(in.args), &v); err != nil {
				return fmt.Errorf("%s: not exec (JSON) form, which the shell-less runtime image needs", where)
			}
			if in.cmd == "ENTRYPOINT" {
				entrypoint = v
			}
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) != 3 || !strings.HasPrefix(f[0], "--from=") {
				return fmt.Errorf("%s: expected COPY --from=builder SRC DEST", where)
			}
			built := filepath.Join(root, f[1])
			st, err := os.Stat(built)
			if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return fmt.Errorf("%s: %s was not produced as an executable by the builder stage", where, f[1])
			}
			copied[f[2]] = built
		}
	}
	if len(entrypoint) == 0 {
		return fmt.Errorf("runtime stage: no ENTRYPOINT")
	}
	bin, ok := copied[entrypoint[0]]
	if !ok {
		return fmt.Errorf("ENTRYPOINT %s is not a file the runtime stage copies", entrypoint[0])
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	fmt.Printf("%s --version (as built by the builder stage):\n%s", entrypoint[0], out)
	if err != nil {
		return fmt.Errorf("%s --version: %v", entrypoint[0], err)
	}
	for arg, v := range given {
		if _, declared := env[arg]; !declared {
			return fmt.Errorf("the builder stage has no ARG %s", arg)
		}
		if !strings.Contains(string(out), v) {
			return fmt.Errorf("--version does not show build ARG %s=%s: check the -X flags", arg, v)
		}
	}
	return nil
}

func copyInto(src, dest string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
		return copyFile(src, filepath.Join(dest, filepath.Base(src)), st.Mode())
	}
	// A directory source copies its contents.
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dest, rel), 0o755)
		}
		info, _ := d.Info()
		return copyFile(path, filepath.Join(dest, rel), info.Mode())
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode.Perm())
}
GO

section "build"
run_check "go build the exporter" go build -o "$tmp/cloudquota_exporter" .
run_check "go build the check helper" go build -o "$tmp/check-helper" "$tmp/helper/main.go"
[ -x "$tmp/cloudquota_exporter" ] && [ -x "$tmp/check-helper" ] || { echo "cannot go on without the builds above"; exit 1; }

section "exporter configurations: --config.check"
# Fake values for the configurations that read credentials from the
# environment (--config.expand-environment-variables).
export HUAWEICLOUD_ACCESS_KEY=EXAMPLEAKNOTREAL0003
export HUAWEICLOUD_SECRET_KEY=EXAMPLE-not-a-real-huaweicloud-secret-key-env
configs=(examples/cloudquota-*.yml)
[ -e "${configs[0]}" ] || fail "no examples/cloudquota-*.yml found"
for cfg in "${configs[@]}"; do
  [ -e "$cfg" ] || continue
  flags=(--config.check "--config.file=$cfg")
  if grep -q '\${[A-Za-z_]' "$cfg"; then flags+=(--config.expand-environment-variables); fi
  run_check "cloudquota_exporter ${flags[*]}" "$tmp/cloudquota_exporter" "${flags[@]}"
done
run_check "file_sd targets match examples/cloudquota-all.yml" "$tmp/check-helper" targets \
  examples/cloudquota-all.yml examples/file_sd/cloudquota-targets.yml \
  $(ls examples/cloudquota-*.yml | grep -v -- '-all\.yml$')

section "Prometheus: promtool check config"
if [ ! -f dashboards/cloudquota-rules.yml ]; then
  fail "dashboards/cloudquota-rules.yml, named in examples/prometheus.yml's rule_files, does not exist"
fi
run_check "promtool check config examples/prometheus.yml (with its rule and file_sd files)" \
  promtool check config examples/prometheus.yml

run_check "promtool check config examples/kubernetes/prometheus-sharded.yml" \
  promtool check config examples/kubernetes/prometheus-sharded.yml

section "Kubernetes example: the exporter configuration in its Secret"
k8s="$tmp/k8s"
mkdir -p "$k8s/secrets"
python3 - "$k8s" <<'PY'
import sys, yaml
out = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open("examples/kubernetes/cloudquota-exporter.yaml")) if d]
secret = next(d for d in docs if d["kind"] == "Secret")
sts = next(d for d in docs if d["kind"] == "StatefulSet")
paths = {i["key"]: i["path"] for i in sts["spec"]["template"]["spec"]["volumes"][0]["secret"]["items"]}
for key, value in secret["stringData"].items():
    with open(f"{out}/{paths[key]}", "w") as f:
        f.write(value)
PY
run_check "--config.check on the configuration mounted from the Secret" \
  "$tmp/cloudquota_exporter" --config.check --config.file="$k8s/cloudquota.yml"

section "Alertmanager: amtool"
run_check "amtool check-config examples/alertmanager.yml" amtool check-config examples/alertmanager.yml
route_is() { # labels... expected-receiver
  local want=${*: -1} got
  # (amtool warns on stderr that --config.file overrides --alertmanager.url.)
  got=$(amtool config routes test --config.file=examples/alertmanager.yml "${@:1:$#-1}" 2>/dev/null) || true
  if [ "$got" = "$want" ]; then pass "route ${*:1:$#-1} -> $want"; else fail "route ${*:1:$#-1}: got '$got', want '$want'"; fi
}
route_is alertname=CloudQuotaAlmostFull severity=critical target=media-prod pager
route_is alertname=CloudQuotaAlmostFull severity=warning target=media-prod chat
route_is alertname=Other chat

section "Dockerfile: static checks"
df=Dockerfile
if [ ! -f "$df" ]; then fail "$df does not exist"; else
  # Instructions with continuation lines joined, comments dropped.
  instrs=$(sed -e '/^[[:space:]]*#/d' "$df" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')
  from_images=$(printf '%s\n' "$instrs" | awk 'toupper($1)=="FROM" { for (i=2;i<=NF;i++) if ($i !~ /^--/) { print $i; break } }')
  go_mod_version=$(awk '$1=="go" { print $2 }' go.mod)
  builder=$(printf '%s\n' "$from_images" | head -1)
  if [[ "$builder" =~ ^golang:([0-9]+\.[0-9]+(\.[0-9]+)?)(-[a-z0-9]+)?$ ]]; then
    if [ "${BASH_REMATCH[1]}" = "$go_mod_version" ]; then
      pass "builder image $builder is pinned to go.mod's Go $go_mod_version"
    else
      fail "builder image $builder does not match go.mod's go $go_mod_version"
    fi
  else
    fail "builder image '$builder' is not a pinned golang:X.Y.Z[-variant] tag"
  fi
  while read -r image; do
    [ -n "$image" ] || continue
    case "$image" in
      *@sha256:*) pass "image $image pinned by digest" ;;
      *:latest) fail "image $image uses :latest" ;;
      */*:*|[!/]*:*) pass "image $image has an explicit tag" ;;
      *) fail "image $image has no tag (means :latest)" ;;
    esac
  done <<<"$from_images"
  [ "$(printf '%s\n' "$from_images" | wc -l)" -ge 2 ] && pass "multi-stage build ($(printf '%s\n' "$from_images" | wc -l) stages)" \
    || fail "not a multi-stage build"
  if printf '%s\n' "$instrs" | grep -Eq '^(RUN|ENV)\b.*CGO_ENABLED=0'; then pass "CGO_ENABLED=0"; else fail "CGO_ENABLED=0 not set"; fi
  if printf '%s\n' "$instrs" | grep -Eq '^RUN\b.*go build.*-trimpath'; then pass "go build -trimpath"; else fail "go build without -trimpath"; fi
  user=$(printf '%s\n' "$instrs" | awk 'toupper($1)=="USER" { u=$2 } END { print u }')
  case "${user%%:*}" in
    "") fail "no USER: the container would run as root" ;;
    0|root) fail "USER $user is root" ;;
    *) pass "runs as non-root USER $user" ;;
  esac
  if printf '%s\n' "$instrs" | grep -Eq '^EXPOSE\b.*\b9784\b'; then pass "EXPOSE 9784"; else fail "EXPOSE 9784 missing"; fi
  if printf '%s\n' "$instrs" | grep -Eq '^ENTRYPOINT \[ *"/bin/cloudquota_exporter" *\]'; then
    pass 'ENTRYPOINT ["/bin/cloudquota_exporter"]'
  else
    fail 'ENTRYPOINT ["/bin/cloudquota_exporter"] missing'
  fi
  if printf '%s\n' "$instrs" | grep -Eq '^CMD \[ *"--config.file=/etc/cloudquota_exporter/[^"]+" *\]'; then
    pass "CMD names a --config.file under /etc/cloudquota_exporter/"
  else
    fail "CMD [\"--config.file=/etc/cloudquota_exporter/...\"] missing"
  fi
  # Every COPY source (not --from) must exist in the repository.
  while read -r -a words; do
    [ "${#words[@]}" -gt 0 ] || continue
    args=("${words[@]:1}")
    while [ "${#args[@]}" -gt 0 ] && [[ "${args[0]}" == --* ]]; do
      [[ "${args[0]}" == --from=* ]] && continue 2
      args=("${args[@]:1}")
    done
    for src in "${args[@]:0:${#args[@]}-1}"; do
      # shellcheck disable=SC2086 # the source may be a glob
      if compgen -G "$src" >/dev/null; then pass "COPY source $src exists"; else fail "COPY source $src does not exist"; fi
    done
  done < <(printf '%s\n' "$instrs" | grep -E '^(COPY|ADD)\b')

  section "Dockerfile: builder stage replayed outside Docker"
  run_check ".dockerignore applied: build context made" "$tmp/check-helper" context . "$tmp/context"
  for kept_out in .git .ci examples dashboards README.md; do
    [ -e "$kept_out" ] || continue
    if [ -e "$tmp/context/$kept_out" ]; then fail "$kept_out is in the build context"; else pass "$kept_out is left out of the build context"; fi
  done
  # As with docker build --build-arg: distinctive values, so that --version
  # shows whether each -X flag names a real variable.
  run_check "builder stage (WORKDIR, COPY, ARG, RUN in order) builds what the runtime stage copies" \
    "$tmp/check-helper" replay "$df" "$tmp/context" "$tmp/replay" \
    VERSION=9.8.7-check REVISION=0123456789abcdef BRANCH=check-branch \
    BUILD_USER=check@ci BUILD_DATE=20990102-03:04:05
fi

section "summary"
if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
