#!/bin/sh
# Boot-storm benchmark: builds pixie and the storm simulator, then for each
# client count boots that many simulated PXE clients (BIOS and UEFI) through
# the whole chain against pixie on a throw-away network-namespace LAN, and
# prints completions, failures by stage, time to Ignition, pixie's peak RSS
# and CPU time. Needs root; nothing leaves the namespaces it creates.
#
#   bench/storm.sh                 # 50 200 1000 clients
#   bench/storm.sh 1000            # one storm
#   STORM_FLAGS='-ramp 5s -uefi 1 -json /tmp/storm.json' bench/storm.sh 200
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 50 200 1000
if [ "$(id -u)" != 0 ]; then
	echo "bench/storm.sh: needs root (network namespaces); try: sudo $0 $*" >&2
	exit 1
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/pixie-storm-bin.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM
CGO_ENABLED=1 go build -trimpath -o "$out/pixie" ./cmd/pixie
go build -o "$out/storm" ./bench/storm/cmd/storm
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r); load:$(uptime | sed 's/.*load average://')"
# shellcheck disable=SC2086
"$out/storm" -pixie "$out/pixie" ${STORM_FLAGS:-} "$@"
