#!/usr/bin/env bash
# Runs every native Go fuzz target for a short, fixed time each.
#
#   bash .ci/fuzz.sh                 # FUZZTIME=10s per target (about 1.5 min)
#   FUZZTIME=30s bash .ci/fuzz.sh    # longer
#   FUZZTIME=1m bash .ci/fuzz.sh FuzzParse FuzzQuotas   # only these targets
#
# `go test -fuzz` takes one target per invocation, so they run one at a
# time. The committed seed corpora (testdata/fuzz/<FuzzName>/ of each
# package) also run in plain `go test ./...`. When a target fails, Go writes
# the failing input to testdata/fuzz/<FuzzName>/ in the package; it is
# printed below, and `go test -run '^FuzzName$/<file>' ./pkg` replays it.
# Exit status: 0 when every target passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

FUZZTIME="${FUZZTIME:-10s}"

# package target
targets=(
  "./internal/upstream FuzzParseDecimalString"
  "./internal/upstream FuzzParseInteger"
  "./internal/upstream FuzzAPIError"
  "./internal/upstream FuzzJSONCursor"
  "./internal/smh FuzzDecodeUsage"
  "./internal/smh FuzzTokenAnswer"
  "./internal/smh FuzzDecodeSpaceList"
  "./internal/smh FuzzDecodeLibraryUsage"
  "./internal/huawei FuzzQuotas"
  "./internal/huawei FuzzSignVerify"
  "./internal/huawei FuzzCanonical"
  "./internal/huawei FuzzDiscovery"
  "./internal/huawei FuzzSecurityKeyAnswer"
  "./config FuzzParse"
)

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w
  for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

# The failing inputs already there, so that new ones can be told apart.
list_corpus() { find "$1/testdata/fuzz/$2" -type f 2>/dev/null | sort || true; }

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

summary=()
failed=0
ran=0
for entry in "${targets[@]}"; do
  read -r pkg name <<<"$entry"
  selected "$name" || continue
  ran=$((ran + 1))
  before=$(list_corpus "$pkg" "$name")
  log="$log_dir/$name.log"
  printf '=== %s (%s, %s)\n' "$name" "$pkg" "$FUZZTIME"
  start=$SECONDS
  status=0
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1 || status=$?
  took=$((SECONDS - start))
  if [ "$status" -eq 0 ]; then
    # The last progress line says how many inputs were tried.
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
    summary+=("PASS  $name  ${pkg#./}  ${took}s  ${execs:-?} execs")
    continue
  fi
  new=$(comm -13 <(printf '%s\n' "$before") <(list_corpus "$pkg" "$name") | sed '/^$/d' || true)
  # Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a
  # failure, with no failing input (go.dev/issue/75804, fixed in Go 1.27):
  # that is not a finding of the target, so it passes, and says so.
  if [ -z "$new" ] && [ "$(grep -v '^fuzz: \|^--- FAIL\|^FAIL\|^exit status' "$log" | sed '/^[[:space:]]*$/d' | sed 's/^[[:space:]]*//')" = "context deadline exceeded" ]; then
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
    summary+=("PASS  $name  ${pkg#./}  ${took}s  ${execs:-?} execs (the coordinator's own deadline error at the end, go.dev/issue/75804; no failing input)")
    continue
  fi
  failed=1
  tail -n 40 "$log"
  if [ -n "$new" ]; then
    while IFS= read -r f; do
      summary+=("FAIL  $name  ${pkg#./}  ${took}s  failing input: $f")
      summary+=("      replay: go test -run '^${name}\$/$(basename "$f")\$' $pkg")
    done <<<"$new"
  else
    summary+=("FAIL  $name  ${pkg#./}  ${took}s  (no new input written; see the log above)")
  fi
done

if [ "$ran" -eq 0 ]; then
  echo "no fuzz target matches: ${want[*]}" >&2
  exit 2
fi

printf '\n=== fuzz summary (FUZZTIME=%s)\n' "$FUZZTIME"
printf '%s\n' "${summary[@]}"
exit "$failed"
