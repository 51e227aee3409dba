#!/usr/bin/env bash
# Checks the Helm chart charts/cloudquota-exporter:
#   * helm lint --strict and helm template over the default values and each
#     charts/cloudquota-exporter/ci/*-values.yaml (chart-testing's layout);
#   * helm package, and the packaged chart carries dashboards/cloudquota-rules.yml
#     and dashboards/cloudquota.json byte for byte: files/ in the chart holds
#     symbolic links to them (one source of truth), which helm follows when
#     it loads or packages a chart directory;
#   * tools/chartcheck (its own Go module, so that the exporter's go.mod
#     stays free of Kubernetes): every rendered object decoded strictly into
#     the k8s.io/api and prometheus-operator types, restricted Pod Security,
#     probes, the sharded layout's hashmod, the Secret checksum, the rules
#     through promtool check rules, the configuration through --config.check,
#     and the same Pod Security checks on examples/kubernetes/.
# Needs go and promtool (Debian package prometheus); installs helm v3 with
# go install from the Go module proxy. Not verified here: a real cluster
# (admission, the operator turning the objects into Prometheus
# configuration, Grafana's sidecar).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

HELM_VERSION=v3.22.0
# helm built with go install does not know its Kubernetes version (it says
# 1.20); render for a current one.
KUBE_VERSION=1.31.0
chart=charts/cloudquota-exporter

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
lap() { printf '      (%ss)\n' "$((SECONDS - t0))"; t0=$SECONDS; }

echo "--- helm $HELM_VERSION"
if ! helm version --template '{{.Version}}' 2>/dev/null | grep -qx "${HELM_VERSION%.0}\(\.0\)\?"; then
  go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
helm version --short
lap

values=("")
for f in "$chart"/ci/*-values.yaml; do values+=("$f"); done

echo "--- helm lint --strict"
for v in "${values[@]}"; do
  args=(); [ -n "$v" ] && args=(-f "$v")
  echo "    ${v:-default values}"
  # helm warns on stderr that files/ holds symbolic links; that is intended.
  helm lint --strict --kube-version "$KUBE_VERSION" "$chart" "${args[@]}" 2> >(grep -v 'found symbolic link in path' >&2) | sed 's/^/      /'
done
lap

echo "--- helm template"
for v in "${values[@]}"; do
  args=(); [ -n "$v" ] && args=(-f "$v")
  out="$tmp/$(basename "${v:-default}").rendered.yaml"
  helm template cq "$chart" --namespace monitoring --kube-version "$KUBE_VERSION" "${args[@]}" >"$out" 2> >(grep -v 'found symbolic link in path' >&2)
  printf '      %s: %s\n' "${v:-default values}" "$(grep '^kind:' "$out" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}' | sed 's/, $//')"
done
lap

echo "--- helm package: the rules and the dashboard are in the package, unchanged"
helm package "$chart" -d "$tmp/pkg" 2> >(grep -v 'found symbolic link in path' >&2) | sed 's/^/      /'
mkdir -p "$tmp/unpacked"
tar -mxzf "$tmp"/pkg/cloudquota-exporter-*.tgz -C "$tmp/unpacked"
for pair in cloudquota-rules.yml:dashboards/cloudquota-rules.yml cloudquota.json:dashboards/cloudquota.json; do
  packaged="$tmp/unpacked/cloudquota-exporter/files/${pair%%:*}"
  if [ -L "$packaged" ] || ! cmp -s "$packaged" "${pair#*:}"; then
    echo "FAIL: files/${pair%%:*} in the packaged chart is not ${pair#*:}"; exit 1
  fi
  echo "      files/${pair%%:*} = ${pair#*:} ($(wc -c <"${pair#*:}") bytes)"
done
for excluded in ci; do
  if [ -e "$tmp/unpacked/cloudquota-exporter/$excluded" ]; then echo "FAIL: $excluded/ is in the package (.helmignore)"; exit 1; fi
done
lap

echo "--- tools/chartcheck: strict decoding, Pod Security, rules (promtool), --config.check"
go build -o "$tmp/cloudquota_exporter" .
(
  cd tools/chartcheck
  unformatted=$(gofmt -l .)
  if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
  go mod tidy -diff
  go vet ./...
  CHARTCHECK_STRICT=1 HELM="$(command -v helm)" PROMTOOL="$(command -v promtool)" \
    EXPORTER="$tmp/cloudquota_exporter" KUBE_VERSION="$KUBE_VERSION" \
    go test -count=1 -v ./... 2>&1 | grep -v '^=== RUN'
)
lap
echo "chart checks passed"
