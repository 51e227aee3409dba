#!/usr/bin/env bash
# Checks the Prometheus rules, their unit tests and the Grafana dashboard.
# Usage: bash dashboards/check.sh   (from any directory; needs promtool, python3)
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

if ! command -v promtool >/dev/null 2>&1; then
  echo "check.sh: promtool not found in PATH" >&2
  exit 2
fi

failed=0
run() {
  echo "==> $*"
  if ! "$@"; then
    echo "FAILED: $*" >&2
    failed=1
  fi
}

run promtool check rules dashboards/cloudquota-rules.yml
run promtool test rules dashboards/cloudquota-rules.test.yml
run python3 dashboards/check_dashboard.py dashboards/cloudquota.json

if [ "$failed" -ne 0 ]; then
  echo "check.sh: FAILED" >&2
  exit 1
fi
echo "check.sh: all checks passed"
