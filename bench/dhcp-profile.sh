#!/usr/bin/env bash
# bench/dhcp-profile.sh — one fixed-rate perfdhcp run against pixie or
# dnsmasq, with the figures that explain a proxyDHCP result: loss and where
# the packets were dropped (each namespace's UDP receive-buffer errors),
# server CPU time and context switches per answer, and optionally a perf
# or strace profile of the server. Run as root:
#
#   sudo bash bench/dhcp-profile.sh [RATE [SECS]]        # default 500/s, 4 s
#   sudo TARGET=dnsmasq bash bench/dhcp-profile.sh 24000 3
#   sudo PROFILE=perf bash bench/dhcp-profile.sh 16000  # then: perf report -i $PERF_DATA
#   sudo PROFILE=sched bash bench/dhcp-profile.sh        # who switches out, and why
#   sudo PROFILE=strace bash bench/dhcp-profile.sh       # system calls per answer
#
# Same LAN, same perfdhcp options and same dnsmasq.conf as bench/dhcp.sh.
# Env: TARGET (pixie|dnsmasq), PROFILE (perf|sched|strace), MACS (perfdhcp -R), PERF_DATA
# (default /tmp/pixie-dhcp.perf), PIXIE_BIN, PIXIE_LOG_LEVEL; GOGC and
# GOMAXPROCS pass through to pixie.
source "$(dirname "$0")/lib.sh"

RATE=${1:-500}; SECS=${2:-4}
TARGET=${TARGET:-pixie}; PROFILE=${PROFILE:-}; PERF_DATA=${PERF_DATA:-/tmp/pixie-dhcp.perf}
case $TARGET in pixie | dnsmasq) ;; *) die "TARGET=$TARGET: use pixie or dnsmasq" ;; esac
case $PROFILE in "" | perf | sched | strace) ;; *) die "PROFILE=$PROFILE: use perf, sched or strace" ;; esac

require_root
need perfdhcp kea-admin
need xxd xxd
[ "$TARGET" = dnsmasq ] && need dnsmasq dnsmasq-base
[ -n "$PROFILE" ] && need "${PROFILE/sched/perf}" "$([ "$PROFILE" = strace ] && echo strace || echo linux-perf)"

trap cleanup EXIT INT TERM
make_work
setup_net

if [ "$TARGET" = pixie ]; then
	PIXIE=$(pixie_bin)
	mkdir -p "$WORK/data"
	start_pixie "$WORK/data"
	SERVER_PID=$PIXIE_PID SERVER_IP=$PIX_IP SERVER_NS=$NS_PIX
else
	guide_dnsmasq_conf "$WORK/dnsmasq.conf"
	bg "$NS_REF" "$WORK/dnsmasq.out" dnsmasq -k -C "$WORK/dnsmasq.conf" --pid-file="$WORK/dnsmasq.pid"
	SERVER_PID=$LAST_PID SERVER_IP=$REF_IP SERVER_NS=$NS_REF
	sleep 0.5
fi

hex60=$(printf 'PXEClient:Arch:00000:UNDI:002001' | xxd -p | tr -d '\n')
PXEOPTS=(-o "60,$hex60" -o "93,0000" -o "97,00$(printf '%032x' 20261127)")
perf_run() { # RATE SECS OUT
	in_ns "$NS_CLI" timeout $(($2 + 15)) perfdhcp -4 -i -l "$CLI_IP" -L 67 -R "${MACS:-1000}" -r "$1" -p "$2" \
		"${PXEOPTS[@]}" "$SERVER_IP" >"$3" 2>&1 || true
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
udp() { in_ns "$1" awk '/^Udp:/ {n++; if (n == 2) print "in " $2 ", receive-buffer drops " $6 ", send-buffer drops " $7}' /proc/net/snmp; }

perf_run 100 1 "$WORK/warmup" # first answers warm the server up
c0=$(cpu_ticks "$SERVER_PID"); s0=$(switches "$SERVER_PID")
case $PROFILE in
perf) perf record -F 1999 -g -p "$SERVER_PID" -o "$PERF_DATA" -- sleep "$SECS" >/dev/null 2>&1 & PROF=$! ;;
sched) perf record -e sched:sched_switch -g -p "$SERVER_PID" -o "$PERF_DATA" -- sleep "$SECS" >/dev/null 2>&1 & PROF=$! ;;
strace) timeout $((SECS + 1)) strace -c -f -p "$SERVER_PID" -o "$WORK/strace" & PROF=$! ;;
esac
perf_run "$RATE" "$SECS" "$WORK/out"
c1=$(cpu_ticks "$SERVER_PID"); s1=$(switches "$SERVER_PID")
[ -n "$PROFILE" ] && { wait "$PROF" 2>/dev/null || true; }

field() { awk -v k="$1" -F': *' '$1==k {print $2+0; exit}' "$WORK/out"; }
sent=$(field "sent packets"); recv=$(field "received packets")
[ "${recv:-0}" -gt 0 ] || { cat "$WORK/out" >&2; die "$TARGET answered nothing"; }
HZ=$(getconf CLK_TCK)
echo "$TARGET at $RATE DISCOVERs/s for $SECS s: sent $sent, answered $recv ($(awk -v s="$sent" -v r="$recv" 'BEGIN {printf "%.3f", (s-r)*100/s}') % lost)"
echo "  server namespace UDP: $(udp "$SERVER_NS")"
echo "  client namespace UDP: $(udp "$NS_CLI")"
echo "  server CPU per answer: $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v r="$recv" 'BEGIN {printf "%.1f", t/hz*1e6/r}') µs (user+system, $HZ Hz ticks)"
echo "  server context switches per answer: $(awk -v a="$s0" -v b="$s1" -v r="$recv" 'BEGIN {printf "%.2f", (b-a)/r}')"
echo "  server $(grep -E '^VmRSS' /proc/"$SERVER_PID"/status | tr -s '\t ' ' '), threads $(ls /proc/"$SERVER_PID"/task | wc -l)"
case $PROFILE in
perf | sched) echo "  profile: perf report -i $PERF_DATA --no-children --sort sym" ;;
strace) echo "  system calls:"; head -14 "$WORK/strace" | sed 's/^/    /' ;;
esac
