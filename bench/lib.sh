# bench/lib.sh — shared helpers for pixie's side-by-side benchmarks.
# Sourced by bench/*.sh; not run by itself.
#
# Network safety (see TESTNET.md): every DHCP/TFTP/HTTP server and client of
# the benchmarks runs inside network namespaces created here and deleted on
# exit (trap). Nothing binds an interface of the default namespace and no
# packet leaves these namespaces.
#
# Topology (one private /24 that exists only inside the namespaces):
#
#   $NS_LAN   bridge br0 (the switch)
#   $NS_CLI   10.78.0.10  load generators (perfdhcp, wrk, tftp clients)
#   $NS_PIX   10.78.0.2   pixie
#   $NS_REF   10.78.0.3   the reference server (dnsmasq, in.tftpd, nginx)
#
# Each host namespace sees its end of the LAN as eth0.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
QUICK=${QUICK:-0}

SUBNET_PREFIX=10.78.0
CLI_IP=$SUBNET_PREFIX.10
PIX_IP=$SUBNET_PREFIX.2
REF_IP=$SUBNET_PREFIX.3

NS_PREFIX=pxbench
NS_TAG="$NS_PREFIX-$$"
NS_LAN="$NS_TAG-lan"
NS_CLI="$NS_TAG-cli"
NS_PIX="$NS_TAG-pix"
NS_REF="$NS_TAG-ref"

WORK=""          # temp dir of this run, removed on exit
PIDS=()          # processes started by this run, killed on exit

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# need CMD PACKAGE: fail with an install hint when CMD is missing.
need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: install it with 'apt-get install $2'"
}

require_root() {
	[ "$(id -u)" = 0 ] || die "the benchmarks build network namespaces: run them as root"
	need ip iproute2
	need busybox busybox
}

# clean_stale removes namespaces of earlier runs of this script family whose
# process is gone (a crashed run that could not run its trap).
clean_stale() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX-" || true); do
		pid=${ns#"$NS_PREFIX"-}; pid=${pid%%-*}
		if ! kill -0 "$pid" 2>/dev/null; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
}

cleanup() {
	local rc=$?
	set +e
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	local ns
	for ns in "$NS_CLI" "$NS_PIX" "$NS_REF" "$NS_LAN"; do
		if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns"; then
			# anything still running in our own namespaces (e.g. a daemon
			# that forked) goes too: these namespaces are ours alone.
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
			ip netns del "$ns" 2>/dev/null
		fi
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit $rc
}

# setup_net builds the LAN. Call once, after setting the trap.
setup_net() {
	require_root
	clean_stale
	ip netns add "$NS_LAN"
	ip -n "$NS_LAN" link set lo up
	ip -n "$NS_LAN" link add br0 type bridge
	ip -n "$NS_LAN" link set br0 up
	local ns ip name
	for pair in "$NS_CLI:$CLI_IP:c" "$NS_PIX:$PIX_IP:p" "$NS_REF:$REF_IP:r"; do
		ns=${pair%%:*}; ip=${pair#*:}; ip=${ip%%:*}; name=${pair##*:}
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# create the pair inside the LAN namespace, then move one end
		ip -n "$NS_LAN" link add "v$name" type veth peer name eth0 netns "$ns"
		ip -n "$NS_LAN" link set "v$name" master br0 up
		ip -n "$ns" addr add "$ip/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
	# wait for the bridge ports to forward (no STP: immediate, but the
	# links come up asynchronously)
	local i
	for i in $(seq 50); do
		ip netns exec "$NS_CLI" busybox ping -c1 -W1 "$PIX_IP" >/dev/null 2>&1 &&
			ip netns exec "$NS_CLI" busybox ping -c1 -W1 "$REF_IP" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "namespace LAN did not come up"
}

# in NS CMD...: run CMD inside namespace NS (one of ours).
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# bg NS LOGFILE CMD...: start CMD in NS in the background, remember its pid.
bg() {
	local ns=$1 logf=$2; shift 2
	ip netns exec "$ns" "$@" >"$logf" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

stop_pid() {
	local p=$1
	kill "$p" 2>/dev/null || true
	local i
	for i in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
}

make_work() {
	WORK=$(mktemp -d /tmp/pxbench.XXXXXX)
	chmod 755 "$WORK"
}

# pixie_bin builds bin/pixie (the Makefile's build flags) unless $PIXIE_BIN
# names one already.
pixie_bin() {
	if [ -n "${PIXIE_BIN:-}" ]; then echo "$PIXIE_BIN"; return; fi
	need go golang
	(cd "$ROOT" && CGO_ENABLED=1 go build -trimpath -o bin/pixie ./cmd/pixie) >&2 || die "building pixie failed"
	echo "$ROOT/bin/pixie"
}

# helper_bin builds the Go load generators in bench/pxload.
helper_bin() {
	if [ -n "${PXLOAD_BIN:-}" ]; then echo "$PXLOAD_BIN"; return; fi
	need go golang
	mkdir -p "$ROOT/bin"
	(cd "$ROOT" && go build -trimpath -o bin/pxload ./bench/pxload) >&2 || die "building bench/pxload failed"
	echo "$ROOT/bin/pxload"
}

# start_pixie DATADIR [extra flags...]: pixie serve in $NS_PIX; waits for
# /healthz. Sets PIXIE_PID and PIXIE_SOCK.
start_pixie() {
	local data=$1; shift
	PIXIE_SOCK="$WORK/pixie.sock"
	bg "$NS_PIX" "$WORK/pixie.log" "$PIXIE" serve --interface eth0 --address "$PIX_IP" \
		--data-dir "$data" --http-port 8080 --socket "$PIXIE_SOCK" --log-level "${PIXIE_LOG_LEVEL:-info}" "$@"
	PIXIE_PID=$LAST_PID
	wait_http "http://$PIX_IP:8080/healthz" || { tail -20 "$WORK/pixie.log" >&2; die "pixie did not start"; }
}

# wait_http URL: poll from the client namespace until URL answers 200 (10 s).
wait_http() {
	local i
	for i in $(seq 200); do
		in_ns "$NS_CLI" curl -sf -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.05
	done
	return 1
}

# guide_dnsmasq_conf FILE [LINE...]: the guide's dnsmasq.conf (proxy mode,
# BIOS chainload to iPXE, iPXE to HTTP on the reference server), with DNS off,
# its log in $WORK/dnsmasq.log, and any extra LINEs (e.g. enable-tftp).
guide_dnsmasq_conf() {
	local f=$1 l
	shift
	{
		echo "port=0"
		echo "interface=eth0"
		echo "bind-interfaces"
		echo "dhcp-range=$SUBNET_PREFIX.0,proxy"
		echo "log-facility=$WORK/dnsmasq.log"
		for l in "$@"; do echo "$l"; done
		echo "dhcp-userclass=set:ipxe,iPXE"
		echo "dhcp-boot=tag:!ipxe,undionly.kpxe"
		echo 'pxe-service=tag:!ipxe,x86PC,"PXE chainload to iPXE",undionly.kpxe'
		echo "dhcp-boot=tag:ipxe,http://$REF_IP:8080/boot.ipxe"
		echo "pxe-service=tag:ipxe,x86PC,\"Run iPXE boot\",http://$REF_IP:8080/boot.ipxe"
	} >"$f"
}

# median of numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ratio A B: A/B with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0==0) print "n/a"; else printf "%.2f\n", a/b }'; }

machine_info() {
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- CPU: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "- kernel: $(uname -r)"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}
