#!/bin/sh
# Runs after the package's files are in place (deb postinst, rpm %post).
# The configuration directory may hold secrets: root owns it, the service's
# group may read it, nobody else. The service is enabled and started on a
# new install, restarted on an upgrade if it was running.
set -e
user=cloudquota_exporter
dir=/etc/cloudquota_exporter
if [ -d "$dir" ]; then
  chown root:"$user" "$dir" "$dir/cloudquota.yml" 2>/dev/null || true
  chmod 0750 "$dir"
  chmod 0640 "$dir/cloudquota.yml" 2>/dev/null || true
  mkdir -p "$dir/secrets"
  chown root:"$user" "$dir/secrets"
  chmod 0750 "$dir/secrets"
fi

# deb passes "configure" (then the old version on an upgrade); rpm passes
# the number of installed versions (1: new install, 2: upgrade).
upgrade=0
case "$1" in
  configure) [ -n "$2" ] && upgrade=1 ;;
  [2-9]*) upgrade=1 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
  if [ "$upgrade" = 1 ]; then
    systemctl try-restart cloudquota_exporter.service || true
  else
    systemctl enable cloudquota_exporter.service || true
    systemctl start cloudquota_exporter.service || true
  fi
fi
exit 0
