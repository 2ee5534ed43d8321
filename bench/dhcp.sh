#!/usr/bin/env bash
# bench/dhcp.sh — proxyDHCP: pixie vs dnsmasq (proxy mode, the guide's config),
# driven by perfdhcp with PXE options. Run as root: sudo bash bench/dhcp.sh
#
# Topology: perfdhcp in the client namespace, pixie and dnsmasq each in its
# own server namespace on the same private bridge (see bench/lib.sh).
# perfdhcp always acts as a relay (giaddr = its address, source port 67), so
# it binds $CLI_IP:67 (-l/-L) and both servers answer to giaddr:67.
#
# Two cases, one table each (MACS_LIST, default "1000 50000": perfdhcp -R).
# With 1,000 MACs each machine asks many times a second (pixie logs and
# records the same answer once a second per machine); with 50,000 distinct
# MACs almost every DISCOVER comes from a machine not heard from for seconds:
# a boot step of its own, logged and recorded. Per case and server, RUNS
# times alternating pixie / dnsmasq, median taken:
#   latency:    DISCOVER→OFFER at a fixed LAT_RATE/s for LAT_SECS seconds;
#               p50 / p99 from perfdhcp's per-exchange timers (-x t), and
#               the server's CPU time per offer over the same seconds;
#   mid-load:   perfdhcp's average delay at MID_RATE/s (default 5,000) for
#               MID_SECS seconds;
#   throughput: rate steps (STEPS, each STEP_SECS s); the figures are the
#               highest offers/s received at a step with <= 0.1 % loss and
#               with < 1 % loss, and perfdhcp's average delay at the latter
#               (queueing near the top shows there). Stepping stops past 5 %
#               loss, or when perfdhcp cannot send at the step's rate (the
#               table then says the result is generator-limited);
#   peak RSS:   VmHWM of each server over its share of the case (the mark is
#               reset through /proc/PID/clear_refs before each server's load).
# Env: QUICK=1 (short), RUNS, STEPS, STEP_SECS, LAT_RATE, LAT_SECS, MID_RATE,
#      MID_SECS, MACS_LIST (MACS=N runs that one case), PIXIE_BIN (skip the
#      build), RESULTS (append the markdown tables here).
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}; STEPS=${STEPS:-"1000 4000 8000 16000"}; STEP_SECS=${STEP_SECS:-1}
	LAT_RATE=${LAT_RATE:-500}; LAT_SECS=${LAT_SECS:-2}; MID_SECS=${MID_SECS:-1}
else
	RUNS=${RUNS:-3}; STEPS=${STEPS:-"1000 2000 3000 4000 6000 8000 12000 16000 20000 24000 28000 32000"}; STEP_SECS=${STEP_SECS:-2}
	LAT_RATE=${LAT_RATE:-500}; LAT_SECS=${LAT_SECS:-5}; MID_SECS=${MID_SECS:-3}
fi
MID_RATE=${MID_RATE:-5000}
MACS_LIST=${MACS:-${MACS_LIST:-"1000 50000"}}

require_root
need perfdhcp kea-admin
need dnsmasq dnsmasq-base
need xxd xxd

trap cleanup EXIT INT TERM
make_work
PIXIE=$(pixie_bin)
setup_net

# --- servers -----------------------------------------------------------------
mkdir -p "$WORK/data"
start_pixie "$WORK/data"

# The guide's dnsmasq.conf (proxy mode, BIOS chainload to iPXE, iPXE to HTTP),
# with DNS off and its log in a file.
guide_dnsmasq_conf "$WORK/dnsmasq.conf"
bg "$NS_REF" "$WORK/dnsmasq.out" dnsmasq -k -C "$WORK/dnsmasq.conf" --pid-file="$WORK/dnsmasq.pid"
DNSMASQ_PID=$LAST_PID
sleep 0.5
# cpu_ticks PID: user+system CPU time of PID in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# PXE options: 60 vendor class (BIOS PXE), 93 arch 0, 97 client UUID.
hex60=$(printf 'PXEClient:Arch:00000:UNDI:002001' | xxd -p | tr -d '\n')
PXEOPTS=(-o "60,$hex60" -o "93,0000" -o "97,00$(printf '%032x' 20261127)")


# perf SERVER RATE SECS OUT [extra]: one perfdhcp DISCOVER-OFFER run.
perf() {
	local server=$1 rate=$2 secs=$3 out=$4; shift 4
	in_ns "$NS_CLI" timeout $((secs + 15)) perfdhcp -4 -i -l "$CLI_IP" -L 67 -R "$CASE_MACS" \
		-r "$rate" -p "$secs" "${PXEOPTS[@]}" "$@" "$server" >"$out" 2>&1 || true
}
field() { awk -v k="$1" -F': *' '$1==k {print $2+0; exit}' "$2"; }
# avg_ms OUT: perfdhcp's average DISCOVER→OFFER delay over a run, in ms
avg_ms() { awk -F': *' '$1=="avg delay" {print $2+0; found=1; exit} END {if (!found) print "nan"}' "$1"; }
lossp() { awk -v s="${1:-0}" -v r="${2:-0}" 'BEGIN { if (s==0) print 100; else printf "%.3f", (s-r)*100/s }'; }
# peak RSS: reset a process's high-water mark (clear_refs 5), read it (kB)
hwm_reset() { echo 5 >"/proc/$1/clear_refs"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# latency SERVER PID -> "p50 p99 loss% cpu-µs-per-offer"
latency() {
	local out="$WORK/lat.$1.$RANDOM" c0 c1
	c0=$(cpu_ticks "$2")
	perf "$1" "$LAT_RATE" "$LAT_SECS" "$out" -x t
	c1=$(cpu_ticks "$2")
	local lat
	lat=$(awk '/^sent \/ received:/ { s=$4; r=$6; printf "%.4f\n", (r - s) * 1000 }' "$out" |
		sort -g | awk '{a[NR]=$1} END { if (NR==0) {print "nan nan"; exit}
			i50=int(NR*0.50+0.5); if (i50<1) i50=1; i99=int(NR*0.99+0.5); if (i99<1) i99=1; if (i99>NR) i99=NR
			print a[i50], a[i99] }')
	local sent recv
	sent=$(field "sent packets" "$out"); recv=$(field "received packets" "$out")
	echo "$lat $(lossp "$sent" "$recv") $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v r="${recv:-0}" 'BEGIN { if (r==0) print "nan"; else printf "%.1f", t/hz*1e6/r }')"
}

# mid SERVER -> "avg-delay-ms loss%" at MID_RATE/s
mid() {
	local out="$WORK/mid.$1.$RANDOM"
	perf "$1" "$MID_RATE" "$MID_SECS" "$out"
	echo "$(avg_ms "$out") $(lossp "$(field "sent packets" "$out")" "$(field "received packets" "$out")")"
}

# throughput SERVER -> "offers/s at <=0.1% loss" "offers/s at <1% loss"
#   "average delay (ms) at that step" "max offers/s seen"
throughput() {
	local best=0 best1=0 avg1=nan maxseen=0 rate out sent recv got loss
	for rate in $STEPS; do
		out="$WORK/thr.$1.$rate.$RANDOM"
		perf "$1" "$rate" "$STEP_SECS" "$out"
		sent=$(field "sent packets" "$out"); recv=$(field "received packets" "$out")
		sent=${sent:-0}; recv=${recv:-0}
		got=$(awk -v r="$recv" -v p="$STEP_SECS" 'BEGIN { printf "%.0f", r/p }')
		loss=$(lossp "$sent" "$recv")
		log "    $1 rate $rate/s: sent $sent received $recv ($got/s) loss $loss% avg delay $(avg_ms "$out") ms"
		awk -v g="$got" -v m="$maxseen" 'BEGIN { exit !(g>m) }' && maxseen=$got
		if awk -v l="$loss" 'BEGIN { exit !(l<=0.1) }'; then
			awk -v g="$got" -v b="$best" 'BEGIN { exit !(g>b) }' && best=$got
		fi
		if awk -v l="$loss" 'BEGIN { exit !(l<1) }'; then
			if awk -v g="$got" -v b="$best1" 'BEGIN { exit !(g>b) }'; then best1=$got; avg1=$(avg_ms "$out"); fi
		fi
		awk -v l="$loss" 'BEGIN { exit !(l>5) }' && break
		# perfdhcp itself could not send at this rate: higher steps measure
		# the generator, not the server
		if awk -v s="$sent" -v r="$rate" -v p="$STEP_SECS" 'BEGIN { exit !(s < 0.9*r*p) }'; then
			log "    perfdhcp sent only $sent of $((rate * STEP_SECS)): generator-limited, stopping"
			GENLIMIT=1
			break
		fi
	done
	echo "$best $best1 $avg1 $maxseen"
}

# sanity: both answer a PXE DISCOVER
CASE_MACS=1000
for s in "$PIX_IP" "$REF_IP"; do
	perf "$s" 10 1 "$WORK/sanity.$s"
	[ "$(field "received packets" "$WORK/sanity.$s")" -gt 0 ] 2>/dev/null ||
		{ cat "$WORK/sanity.$s" >&2; die "server $s does not answer perfdhcp's PXE DISCOVER"; }
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
maxof() { tr ' ' '\n' <<<"$1" | grep . | sort -g | tail -1; }
mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9.]+$/) printf "%.1f", k/1024; else print k }'; }
DNSMASQ_VER=$(dnsmasq -v | awk 'NR==1 {print $3}')

# run_case MACS: every run of one case, then its table
run_case() {
	CASE_MACS=$1
	GENLIMIT=0
	local run order who ip pid p50 p99 loss cpu best best1 avg1 maxs mavg mloss k load0 table
	local -A CPU P50 P99 BEST BEST1 AVG1 MAXS MAVG HWM M
	load0=$(cut -d' ' -f1 /proc/loadavg)
	log "== $CASE_MACS MACs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	for run in $(seq "$RUNS"); do
		order="pixie dnsmasq"; [ $((run % 2)) = 0 ] && order="dnsmasq pixie"
		for who in $order; do
			if [ $who = pixie ]; then ip=$PIX_IP pid=$PIXIE_PID; else ip=$REF_IP pid=$DNSMASQ_PID; fi
			log "  run $run $who"
			hwm_reset "$pid"
			read -r p50 p99 loss cpu < <(latency "$ip" "$pid")
			read -r mavg mloss < <(mid "$ip")
			throughput "$ip" >"$WORK/thr.result"
			read -r best best1 avg1 maxs <"$WORK/thr.result"
			HWM[$who]+="$(hwm_kb "$pid") "
			log "    p50 $p50 ms p99 $p99 ms at $LAT_RATE/s (loss $loss%), CPU $cpu µs/offer; average $mavg ms at $MID_RATE/s (loss $mloss%); offers/s at <=0.1% loss $best, <1% $best1 (average $avg1 ms), max seen $maxs; peak RSS $(hwm_kb "$pid") kB"
			P50[$who]+="$p50 "; P99[$who]+="$p99 "; CPU[$who]+="$cpu "; MAVG[$who]+="$mavg "
			BEST[$who]+="$best "; BEST1[$who]+="$best1 "; AVG1[$who]+="$avg1 "; MAXS[$who]+="$maxs "
		done
	done
	for who in pixie dnsmasq; do
		M[BEST.$who]=$(med "${BEST[$who]}"); M[BEST1.$who]=$(med "${BEST1[$who]}")
		M[AVG1.$who]=$(med "${AVG1[$who]}"); M[MAXS.$who]=$(med "${MAXS[$who]}")
		M[MAVG.$who]=$(med "${MAVG[$who]}"); M[P50.$who]=$(med "${P50[$who]}")
		M[P99.$who]=$(med "${P99[$who]}"); M[CPU.$who]=$(med "${CPU[$who]}")
		M[HWM.$who]=$(maxof "${HWM[$who]}")
	done
	table=$(
		r() { ratio "${M[$1.pixie]}" "${M[$1.dnsmasq]}"; }
		echo "| proxyDHCP (perfdhcp -i, PXE opts, $CASE_MACS MACs) | pixie | dnsmasq $DNSMASQ_VER | pixie/dnsmasq |"
		echo "| --- | ---: | ---: | ---: |"
		echo "| offers/s at < 1 % loss (steps: $STEPS) | ${M[BEST1.pixie]} | ${M[BEST1.dnsmasq]} | $(r BEST1) |"
		echo "| offers/s at <= 0.1 % loss | ${M[BEST.pixie]} | ${M[BEST.dnsmasq]} | $(r BEST) |"
		echo "| max offers/s received at any step | ${M[MAXS.pixie]} | ${M[MAXS.dnsmasq]} | $(r MAXS) |"
		echo "| average latency at $MID_RATE/s (ms) | ${M[MAVG.pixie]} | ${M[MAVG.dnsmasq]} | $(r MAVG) |"
		echo "| average latency at the highest rate with < 1 % loss (ms) | ${M[AVG1.pixie]} | ${M[AVG1.dnsmasq]} | $(r AVG1) |"
		echo "| latency p50 at $LAT_RATE/s (ms) | ${M[P50.pixie]} | ${M[P50.dnsmasq]} | $(r P50) |"
		echo "| latency p99 at $LAT_RATE/s (ms) | ${M[P99.pixie]} | ${M[P99.dnsmasq]} | $(r P99) |"
		echo "| server CPU time per offer at $LAT_RATE/s (µs, user+system) | ${M[CPU.pixie]} | ${M[CPU.dnsmasq]} | $(r CPU) |"
		echo "| peak RSS during the load (VmHWM, MiB, highest of the runs) | $(mib "${M[HWM.pixie]}") | $(mib "${M[HWM.dnsmasq]}") | $(r HWM) |"
		echo
		echo "Medians of $RUNS runs (alternating which server goes first), load average $load0 → $(cut -d' ' -f1 /proc/loadavg). Raw per run: offers/s at < 1 % loss pixie ${BEST1[pixie]}, dnsmasq ${BEST1[dnsmasq]}; average latency at $MID_RATE/s (ms) pixie ${MAVG[pixie]}, dnsmasq ${MAVG[dnsmasq]}; at the top passing rate pixie ${AVG1[pixie]}, dnsmasq ${AVG1[dnsmasq]}; peak RSS (kB) pixie ${HWM[pixie]}, dnsmasq ${HWM[dnsmasq]}. For latency, CPU and memory a ratio below 1 means pixie is better.$([ "$GENLIMIT" = 1 ] && echo " perfdhcp could not send at the highest rate stepped to (generator-limited): a server that reached it may be faster still.")"
	)
	echo
	echo "$table"
	if [ -n "${RESULTS:-}" ]; then { echo; echo "$table"; } >>"$RESULTS"; fi
}

for m in $MACS_LIST; do run_case "$m"; done
exit 0
