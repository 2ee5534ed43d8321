#!/usr/bin/env bash
# Installing Debian's postgresql creates and starts a cluster ("main",
# listening on localhost:5432). pixie's tests start their own throwaway
# cluster instead, so this stops the distribution's and keeps it from
# starting on boot (start.conf "manual"). Nothing to do when there is none.
set -euo pipefail
command -v pg_lsclusters >/dev/null || exit 0
pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
  pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
  conf="/etc/postgresql/$ver/$name/start.conf"
  if [ -f "$conf" ]; then echo manual >"$conf"; fi
done
exit 0
