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
# The Go helper for YAML, .dockerignore and the replay is
# internal/tools/checkexamples.
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

section "build"
run_check "go build the exporter" go build -o "$tmp/cloudquota_exporter" .
# The helper does what bash cannot do reliably: YAML, .dockerignore patterns,
# and replaying Dockerfile instructions.
run_check "go build the check helper" go build -o "$tmp/check-helper" ./internal/tools/checkexamples
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

run_check "promtool check config examples/quickstart/prometheus.yml (README's quick start)" \
  promtool check config examples/quickstart/prometheus.yml

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
    # The builder may be a newer patch release of go.mod's Go (go.mod asks
    # for the lowest that works; the image should carry the fixes).
    tag=${BASH_REMATCH[1]}
    if [ "${tag%.*}" = "${go_mod_version%.*}" ] && [ "${tag##*.}" -ge "${go_mod_version##*.}" ]; then
      pass "builder image $builder is go.mod's Go $go_mod_version or a later patch of it"
    else
      fail "builder image $builder is not go.mod's Go $go_mod_version or a later patch of it"
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
