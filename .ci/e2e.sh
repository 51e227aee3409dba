#!/usr/bin/env bash
# End-to-end check: the demo exporter's /metrics passes promtool; two real
# Prometheus servers, Debian's 2.42 and a Prometheus 3 built from source
# (go install github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS3,
# kept in $CLOUDQUOTA_CI_CACHE between runs), scrape it (/metrics and /probe)
# with the shipped rules loaded, and each must show the same: cloudquota_up 1
# for every demo target, all eleven quota metric families, the recording
# rules, no alert about the chain breaking, and the demo's near-full quota
# making CloudQuotaAlmostFull arrive at a real Alertmanager (Debian's 0.25).
# Then the exporter reloads on SIGHUP, exits cleanly on SIGTERM, and, with it
# gone, both must fire CloudQuotaExporterDown and deliver it to Alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

PROMETHEUS3=${PROMETHEUS3:-v0.316.0}   # the Go module version of Prometheus 3.x
cache=${CLOUDQUOTA_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cloudquota-ci}
prom3="$cache/prometheus-$PROMETHEUS3/prometheus"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # url, what
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "timed out waiting for $2 at $1"; return 1
}

go build -o "$work/cloudquota_exporter" .

if [ ! -x "$prom3" ]; then
  echo "--- building Prometheus 3 ($PROMETHEUS3) from source, once (cached in $cache)"
  start=$(date +%s)
  mkdir -p "$(dirname "$prom3")"
  GOBIN="$work/prom3-bin" GOFLAGS=-buildvcs=false go install "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS3"
  # Copied next to its final name first, so that an interrupted run never
  # leaves a truncated binary in the cache.
  cp "$work/prom3-bin/prometheus" "$prom3.tmp"
  mv "$prom3.tmp" "$prom3"
  echo "built Prometheus 3 in $(( $(date +%s) - start ))s"
fi
go version -m "$prom3" | awk '$1 == "mod" { print "Prometheus 3:", $2, $3 }'
echo "Debian's: $(prometheus --version 2>&1 | head -1)"
exporter_port=$(free_port)
"$work/cloudquota_exporter" --demo --web.listen-address="127.0.0.1:$exporter_port" >"$work/exporter.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$exporter_port/-/ready" "the demo exporter" || { cat "$work/exporter.log"; exit 1; }

echo "--- promtool check metrics on the demo's /metrics"
curl -fsS "http://127.0.0.1:$exporter_port/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt"
for family in smh_space_capacity_bytes smh_space_available_bytes smh_space_used_bytes \
              smh_library_used_bytes smh_library_capacity_bytes smh_library_available_bytes smh_library_allocated_bytes \
              workspace_quota_limit workspace_quota_used cts_quota_limit cts_quota_used; do
  grep -q "^cloudquota_${family}{" "$work/metrics.txt" || { echo "missing cloudquota_${family}"; exit 1; }
done
if grep -E '^cloudquota_up\{.*\} 0$' "$work/metrics.txt"; then echo "a demo target is down"; cat "$work/exporter.log"; exit 1; fi
echo "promtool: clean; all eleven quota families present; every demo target up"

echo "--- a real Alertmanager"
am_port=$(free_port)
cat >"$work/alertmanager.yml" <<YAML
route:
  receiver: default
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: default
YAML
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$work/alertmanager.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$am_port/-/ready" "Alertmanager" || { cat "$work/alertmanager.log"; exit 1; }

echo "--- real Prometheus servers with the shipped rules scrape the demo exporter"
# The shipped rules, with every 'for' shortened so that the run stays short;
# promtool's rule unit tests cover the real durations.
sed -E 's/^([[:space:]]*)for: .*/\1for: 5s/' dashboards/cloudquota-rules.yml >"$work/rules.yml"
promtool check rules "$work/rules.yml"

declare -A prom_url
start_prometheus() { # name binary
  local name=$1 bin=$2 port dir="$work/$1"
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 1s
  # Tells the alerts of the two servers apart at the shared Alertmanager.
  external_labels:
    ci_prometheus: $name
rule_files: ['$work/rules.yml']
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$am_port']
scrape_configs:
  - job_name: cloudquota
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
  - job_name: cloudquota-probe
    metrics_path: /probe
    static_configs:
      - targets: [media-prod, desktops-prod, audit-prod]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '127.0.0.1:$exporter_port'
YAML
  promtool check config "$dir/prometheus.yml" >/dev/null
  "$bin" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
  pids+=($!)
  prom_url[$name]="http://127.0.0.1:$port"
  wait_for "${prom_url[$name]}/-/ready" "Prometheus $name" || { cat "$dir/prometheus.log"; exit 1; }
}
start_prometheus debian-2.42 prometheus
start_prometheus v3 "$prom3"
servers=(debian-2.42 v3)

show_logs() {
  echo "--- exporter log"; tail -50 "$work/exporter.log"
  for name in "${servers[@]}"; do echo "--- prometheus $name log"; tail -30 "$work/$name/prometheus.log"; done
  echo "--- alertmanager log"; tail -50 "$work/alertmanager.log"
}
for name in "${servers[@]}"; do
  echo "--- Prometheus $name"
  python3 .ci/assert_prometheus.py "${prom_url[$name]}" "http://127.0.0.1:$am_port" up "$name" || { show_logs; exit 1; }
done

echo "--- SIGHUP reloads, SIGTERM shuts down cleanly"
exporter_pid=${pids[0]}
kill -HUP "$exporter_pid"
for _ in $(seq 1 50); do grep -q 'msg="Configuration reloaded"' "$work/exporter.log" && break; sleep 0.1; done
grep -q 'msg="Configuration reloaded"' "$work/exporter.log" || { echo "SIGHUP did not reload"; cat "$work/exporter.log"; exit 1; }
kill -TERM "$exporter_pid"
status=0
wait "$exporter_pid" || status=$?
if [ "$status" != 0 ] || ! grep -q 'msg="Shutting down"' "$work/exporter.log"; then
  echo "exporter exit status $status after SIGTERM"; cat "$work/exporter.log"; exit 1
fi
echo "SIGHUP reloaded the configuration; SIGTERM: clean exit 0"

echo "--- with the exporter gone, CloudQuotaExporterDown fires and reaches Alertmanager"
for name in "${servers[@]}"; do
  echo "--- Prometheus $name"
  python3 .ci/assert_prometheus.py "${prom_url[$name]}" "http://127.0.0.1:$am_port" down "$name" || { show_logs; exit 1; }
done
echo "e2e: both Prometheus servers passed"
