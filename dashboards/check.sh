#!/usr/bin/env bash
# Checks the Prometheus rules, their unit tests and the Grafana dashboard
# (check_dashboard.py, and tsc against @grafana/schema: schema-check/).
# Usage: bash dashboards/check.sh   (from any directory; needs promtool,
# python3, and node with npm for the schema check, which installs the
# package-lock.json versions of @grafana/schema and typescript into a
# temporary directory, never into the repository)
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

# The dashboard against @grafana/schema's types, with tsc (schema-check/schema.ts).
schema_check() {
  local dir rc=0
  if ! command -v npm >/dev/null 2>&1; then
    echo "check.sh: npm not found in PATH (Debian package npm)" >&2
    return 2
  fi
  dir=$(mktemp -d) || return 2
  cp dashboards/schema-check/package.json dashboards/schema-check/package-lock.json \
     dashboards/schema-check/tsconfig.json dashboards/schema-check/schema.ts "$dir/" &&
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) &&
    python3 dashboards/schema-check/make_check.py dashboards/cloudquota.json "$dir/dashboard.gen.ts" &&
    (cd "$dir" && ./node_modules/.bin/tsc --version && ./node_modules/.bin/tsc -p tsconfig.json) || rc=1
  rm -rf "$dir"
  [ "$rc" = 0 ] && echo "dashboards/cloudquota.json matches @grafana/schema (Dashboard, and each panel's options)"
  return "$rc"
}
run schema_check

if [ "$failed" -ne 0 ]; then
  echo "check.sh: FAILED" >&2
  exit 1
fi
echo "check.sh: all checks passed"
