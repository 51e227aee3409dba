#!/usr/bin/env bash
# Checks the release configuration (.goreleaser.yaml) and the packages:
#   * installs goreleaser v2 with go install from the Go module proxy;
#   * goreleaser check;
#   * a snapshot release (nothing is published) of linux/amd64: the archive,
#     sha256sums.txt, the .deb and the .rpm. RELEASE_ALL=1 builds every
#     target of the configuration instead (linux, darwin, windows on amd64
#     and arm64: some minutes more);
#   * the archive: its files, and the binary's --version (the version, the
#     revision and a branch, none empty) and --config.check of the sample
#     configuration;
#   * the .deb unpacked with dpkg -x into a throw-away root: the binary in
#     /usr/bin, the systemd unit, /etc/cloudquota_exporter/cloudquota.yml and
#     /etc/default/cloudquota_exporter marked as conffiles, the maintainer
#     scripts; the packaged binary runs (--version, --config.check on the
#     packaged configuration); the unit has the hardening it promises;
#   * the .rpm: its file list and config files (rpm, if installed);
#   * systemd-analyze verify on the unit, inside the throw-away root, when
#     systemd-analyze is there (Debian package systemd; it is installed if
#     apt-get can). Without it the unit is checked only by the grep below.
# Not verified: installing the packages for real (dpkg -i, the scripts'
# useradd, systemctl enable/start under a running systemd), rpm-based
# systems, and the darwin/windows binaries running.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

GORELEASER_VERSION=v2.15.1
tmp=$(mktemp -d)
# goreleaser's ./dist (which --clean empties anyway) is moved away or removed.
trap 'rm -rf "$tmp" dist' EXIT
t0=$SECONDS
lap() { printf '      (%ss)\n' "$((SECONDS - t0))"; t0=$SECONDS; }
fail() { echo "FAIL: $*"; exit 1; }

echo "--- goreleaser $GORELEASER_VERSION"
if ! goreleaser --version 2>/dev/null | grep -q "GitVersion:.*${GORELEASER_VERSION#v}"; then
  go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi
goreleaser --version 2>/dev/null | sed -n 's/^GitVersion:/      goreleaser/p'
lap

# goreleaser reads the remote's URL (git ls-remote --get-url) even for a
# snapshot; a clone without a remote gets the project's, through the
# environment only (nothing is written to .git/config, nothing is fetched).
if [ -z "$(git remote)" ]; then
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url \
    GIT_CONFIG_VALUE_0=https://github.com/cloudquota/cloudquota_exporter.git
fi

echo "--- goreleaser check"
goreleaser check 2>&1 | sed 's/^/      /'
lap

echo "--- goreleaser release --snapshot"
config=.goreleaser.yaml
if [ "${RELEASE_ALL:-0}" != 1 ]; then
  # The same configuration with the build matrix cut to linux/amd64.
  config="$tmp/goreleaser-linux-amd64.yaml"
  python3 - .goreleaser.yaml "$config" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
for b in c["builds"]:
    b["goos"], b["goarch"] = ["linux"], ["amd64"]
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY
fi
dist="$tmp/dist"
# goreleaser writes to ./dist (ignored by git); it is moved out of the
# work tree afterwards.
rc=0
goreleaser release --snapshot --clean --skip=publish --config "$config" >"$tmp/goreleaser.log" 2>&1 || rc=$?
sed 's/^/      /' "$tmp/goreleaser.log"
[ "$rc" = 0 ] || fail "goreleaser release --snapshot (exit status $rc)"
[ -d dist ] || fail "goreleaser made no dist/"
mv dist "$dist"
ls -l "$dist" | sed 's/^/      /'
lap

version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
[ -n "$version" ] || fail "no version in dist/metadata.json"
archive="$dist/cloudquota_exporter-$version.linux-amd64.tar.gz"
deb=$(ls "$dist"/cloudquota-exporter_*_amd64.deb 2>/dev/null | head -1)
rpm=$(ls "$dist"/cloudquota-exporter-*.x86_64.rpm 2>/dev/null | head -1)
for f in "$archive" "$deb" "$rpm" "$dist/sha256sums.txt"; do
  [ -n "$f" ] && [ -f "$f" ] || fail "missing from dist: ${f:-a package} (version $version)"
done

echo "--- checksums"
(cd "$dist" && sha256sum -c sha256sums.txt) | sed 's/^/      /'

echo "--- archive $(basename "$archive")"
tar -tzf "$archive" >"$tmp/archive.list"
sed 's/^/      /' "$tmp/archive.list"
top="cloudquota_exporter-$version.linux-amd64"
for f in cloudquota_exporter LICENSE README.md CHANGELOG.md cloudquota.yml; do
  grep -qx "$top/$f" "$tmp/archive.list" || fail "$top/$f is not in the archive"
done
mkdir -p "$tmp/archive"
tar -xzf "$archive" -C "$tmp/archive"
bin="$tmp/archive/$top/cloudquota_exporter"
"$bin" --version 2>&1 | sed 's/^/      /'
v=$("$bin" --version 2>&1); v=${v%%$'\n'*}
[[ "$v" == *"version $version "* ]] || fail "--version does not report $version: $v"
[[ "$v" != *"branch: ,"* && "$v" != *"revision: )"* && "$v" != *"revision: unknown"* ]] ||
  fail "--version has an empty or unknown branch or revision: $v"
kind=$(file "$bin" 2>/dev/null || true)$(ldd "$bin" 2>&1 || true)
[[ "$kind" == *"statically linked"* || "$kind" == *"not a dynamic executable"* ]] || fail "the binary is not statically linked: $kind"
echo "      statically linked"
"$bin" --config.check --config.file="$tmp/archive/$top/cloudquota.yml" | sed 's/^/      /'
lap

echo "--- .deb $(basename "$deb"), unpacked into a throw-away root"
root="$tmp/root"
dpkg-deb --info "$deb" | sed 's/^/      /'
dpkg-deb --contents "$deb" | sed 's/^/      /'
dpkg -x "$deb" "$root"
mkdir -p "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
for f in usr/bin/cloudquota_exporter usr/lib/systemd/system/cloudquota_exporter.service \
  etc/cloudquota_exporter/cloudquota.yml etc/default/cloudquota_exporter usr/share/doc/cloudquota-exporter/LICENSE; do
  [ -f "$root/$f" ] || fail "/$f is not in the .deb"
done
[ -d "$root/etc/cloudquota_exporter/secrets" ] || fail "/etc/cloudquota_exporter/secrets is not in the .deb"
for f in /etc/cloudquota_exporter/cloudquota.yml /etc/default/cloudquota_exporter; do
  grep -qx "$f" "$tmp/control/conffiles" || fail "$f is not a conffile (kept on upgrade)"
done
for s in preinst postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "maintainer script $s missing"
done
grep -q 'useradd --system\|adduser --system' "$tmp/control/preinst" || fail "preinst does not create the system user"
cmp -s "$root/etc/cloudquota_exporter/cloudquota.yml" packaging/etc/cloudquota.yml || fail "packaged cloudquota.yml differs from packaging/etc/cloudquota.yml"
[ "$(stat -c %a "$root/etc/cloudquota_exporter/cloudquota.yml")" = 640 ] || fail "cloudquota.yml is not mode 0640"
pv=$("$root/usr/bin/cloudquota_exporter" --version 2>&1); echo "      packaged binary: ${pv%%$'\n'*}"
"$root/usr/bin/cloudquota_exporter" --config.check --config.file="$root/etc/cloudquota_exporter/cloudquota.yml" | sed 's/^/      /'

unit="$root/usr/lib/systemd/system/cloudquota_exporter.service"
for want in '^User=cloudquota_exporter$' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' '^ProtectHome=yes$' \
  '^PrivateTmp=yes$' '^CapabilityBoundingSet=$' '^ExecReload=/bin/kill -HUP \$MAINPID$' \
  '^EnvironmentFile=-/etc/default/cloudquota_exporter$' \
  '^ExecStart=/usr/bin/cloudquota_exporter --config.file=/etc/cloudquota_exporter/cloudquota.yml \$ARGS$'; do
  grep -Eq "$want" "$unit" || fail "the unit lacks a line matching $want"
done
echo "      unit: user, hardening, ExecReload, EnvironmentFile present"
lap

echo "--- systemd-analyze verify"
if ! command -v systemd-analyze >/dev/null && command -v apt-get >/dev/null; then
  (apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null; }) ||
    echo "      (could not install systemd)"
fi
if command -v systemd-analyze >/dev/null; then
  # In the throw-away root, so that ExecStart's binary is the packaged one
  # (the user need not exist for verify). The units it depends on
  # (sysinit.target, ...) and /bin/kill of ExecReload come from the host.
  mkdir -p "$root/bin" "$root/etc/systemd/system"
  cp -an /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/" 2>/dev/null || true
  for k in /bin/kill /usr/bin/kill; do
    [ -x "$k" ] && { cp "$k" "$root/bin/kill"; break; }
  done
  out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --root="$root" --man=no \
    /usr/lib/systemd/system/cloudquota_exporter.service 2>&1) || { echo "$out" | sed 's/^/      /'; fail "systemd-analyze verify"; }
  # Warnings about the host (no running systemd, other units) are not ours.
  if echo "$out" | grep -i 'cloudquota_exporter.service' | grep -v 'Failed to connect\|not found\.$' | grep .; then
    fail "systemd-analyze verify complains about the unit"
  fi
  echo "      $(systemd-analyze --version | head -1): cloudquota_exporter.service verified"
  # What the hardening amounts to, by systemd's own measure (informational).
  systemd-analyze security --offline=true --root="$root" \
    /usr/lib/systemd/system/cloudquota_exporter.service 2>/dev/null | tail -1 | sed 's/^/      security: /' || true
else
  echo "      systemd-analyze not available: the unit's syntax is NOT verified (only the lines checked above)"
fi
lap

echo "--- .rpm $(basename "$rpm")"
if command -v rpm >/dev/null; then
  rpm -qlp "$rpm" 2>/dev/null | sed 's/^/      /'
  conf=$(rpm -qcp "$rpm" 2>/dev/null)
  grep -qx /etc/cloudquota_exporter/cloudquota.yml <<<"$conf" || fail "cloudquota.yml is not a %config file in the .rpm"
  grep -qx /etc/sysconfig/cloudquota_exporter <<<"$conf" || fail "/etc/sysconfig/cloudquota_exporter is not a %config file in the .rpm"
  grep -q 'useradd --system' <<<"$(rpm -qp --scripts "$rpm" 2>/dev/null)" || fail "the .rpm's scripts do not create the user"
else
  echo "      rpm not installed: only its presence and checksum are checked ($(stat -c %s "$rpm") bytes)"
fi
lap
echo "release checks passed"
