#!/bin/sh
# Runs before the package's files are removed (deb prerm, rpm %preun):
# stops and disables the service on removal, not on an upgrade.
set -e
remove=0
case "$1" in
  remove|purge|0) remove=1 ;;
esac
if [ "$remove" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl stop cloudquota_exporter.service || true
  systemctl disable cloudquota_exporter.service || true
fi
exit 0
