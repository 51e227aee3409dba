#!/bin/sh
# Runs before the package's files are unpacked (deb preinst, rpm %pre):
# creates the system user and group the service runs as, so that the
# configuration directory can be given to that group.
set -e
user=cloudquota_exporter
if ! getent group "$user" >/dev/null 2>&1; then
  if command -v groupadd >/dev/null 2>&1; then
    groupadd --system "$user"
  else
    addgroup --system "$user"
  fi
fi
if ! getent passwd "$user" >/dev/null 2>&1; then
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --gid "$user" --no-create-home --home-dir /nonexistent \
      --shell "$nologin" --comment "cloudquota_exporter" "$user"
  else
    adduser --system --ingroup "$user" --no-create-home --home /nonexistent \
      --shell "$nologin" --gecos "cloudquota_exporter" "$user"
  fi
fi
exit 0
