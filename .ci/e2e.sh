#!/usr/bin/env bash
# End-to-end check: the demo exporter's /metrics passes promtool; a real
# Prometheus scraping it (/metrics and /probe) sees cloudquota_up 1 for every
# demo target and all seven quota metric families; with the shipped rules
# loaded, the demo's near-full quota makes CloudQuotaAlmostFull arrive at a
# real Alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."

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
exporter_port=$(free_port)
"$work/cloudquota_exporter" --demo --web.listen-address="127.0.0.1:$exporter_port" >"$work/exporter.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$exporter_port/-/ready" "the demo exporter" || { cat "$work/exporter.log"; exit 1; }

echo "--- promtool check metrics on the demo's /metrics"
curl -fsS "http://127.0.0.1:$exporter_port/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt"
for family in smh_space_capacity_bytes smh_space_available_bytes smh_space_used_bytes \
              workspace_quota_limit workspace_quota_used cts_quota_limit cts_quota_used; do
  grep -q "^cloudquota_${family}{" "$work/metrics.txt" || { echo "missing cloudquota_${family}"; exit 1; }
done
if grep -E '^cloudquota_up\{.*\} 0$' "$work/metrics.txt"; then echo "a demo target is down"; cat "$work/exporter.log"; exit 1; fi
echo "promtool: clean; all seven quota families present; every demo target up"

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

echo "--- a real Prometheus with the shipped rules scrapes the demo exporter"
# The shipped rules, with every 'for' shortened so that the run stays short;
# promtool's rule unit tests cover the real durations.
sed -E 's/^([[:space:]]*)for: .*/\1for: 5s/' dashboards/cloudquota-rules.yml >"$work/rules.yml"
promtool check rules "$work/rules.yml"
prom_port=$(free_port)
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 1s
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
promtool check config "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$prom_port/-/ready" "Prometheus" || { cat "$work/prometheus.log"; exit 1; }

python3 .ci/assert_prometheus.py "http://127.0.0.1:$prom_port" "http://127.0.0.1:$am_port" || {
  echo "--- exporter log"; tail -50 "$work/exporter.log"
  echo "--- prometheus log"; tail -50 "$work/prometheus.log"
  echo "--- alertmanager log"; tail -50 "$work/alertmanager.log"
  exit 1
}

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
