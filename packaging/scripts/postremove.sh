#!/bin/sh
# Runs after the package's files are removed (deb postrm, rpm %postun).
# The user, the group and the configuration (with its secrets) stay, as
# with other daemons' packages; "apt-get purge" removes the configuration
# files that the package installed, not secrets added by hand.
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi
exit 0
