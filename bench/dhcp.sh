#!/usr/bin/env bash
# bench/dhcp.sh — proxyDHCP: pixie vs dnsmasq (proxy mode, the guide's config),
# driven by perfdhcp with PXE options. Run as root: sudo bash bench/dhcp.sh
#
# Topology: perfdhcp in the client namespace, pixie and dnsmasq each in its
# own server namespace on the same private bridge (see bench/lib.sh).
# perfdhcp always acts as a relay (giaddr = its address, source port 67), so
# it binds $CLI_IP:67 (-l/-L) and both servers answer to giaddr:67.
#
# Method, per server, RUNS times alternating pixie / dnsmasq, median taken:
#   latency:    DISCOVER→OFFER at a fixed LAT_RATE/s for LAT_SECS seconds;
#               p50 / p99 from perfdhcp's per-exchange timers (-x t).
#   throughput: rate steps (STEPS, each STEP_SECS s, -R $MACS distinct MACs,
#               default 1000: each machine asks many times a second, which
#               pixie logs and records once a second per machine; MACS=1000000
#               makes every DISCOVER a new machine, logged and recorded);
#               the figure is the highest offers/s received at a step with
#               <= 0.1 % loss (stepping stops past 5 % loss, or when perfdhcp
#               cannot send at the step's rate: then the table says so).
# Env: QUICK=1 (short), RUNS, STEPS, STEP_SECS, LAT_RATE, LAT_SECS, MACS,
#      PIXIE_BIN (skip the build), RESULTS (append a markdown table here).
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}; STEPS=${STEPS:-"1000 2000 4000 8000"}; STEP_SECS=${STEP_SECS:-1}
	LAT_RATE=${LAT_RATE:-500}; LAT_SECS=${LAT_SECS:-2}
else
	RUNS=${RUNS:-3}; STEPS=${STEPS:-"1000 2000 3000 4000 6000 8000 12000 16000 20000 24000 28000 32000"}; STEP_SECS=${STEP_SECS:-2}
	LAT_RATE=${LAT_RATE:-500}; LAT_SECS=${LAT_SECS:-5}
fi

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
	in_ns "$NS_CLI" timeout $((secs + 15)) perfdhcp -4 -i -l "$CLI_IP" -L 67 -R "${MACS:-1000}" \
		-r "$rate" -p "$secs" "${PXEOPTS[@]}" "$@" "$server" >"$out" 2>&1 || true
}
field() { awk -v k="$1" -F': *' '$1==k {print $2+0; exit}' "$2"; }

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
	echo "$lat $(awk -v s="${sent:-0}" -v r="${recv:-0}" 'BEGIN { if (s==0) print "nan"; else printf "%.2f", (s-r)*100/s }') $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v r="${recv:-0}" 'BEGIN { if (r==0) print "nan"; else printf "%.1f", t/hz*1e6/r }')"
}

# throughput SERVER -> "offers/s at <=0.1% loss" "max offers/s seen"
throughput() {
	local best=0 maxseen=0 rate out sent recv got loss
	for rate in $STEPS; do
		out="$WORK/thr.$1.$rate.$RANDOM"
		perf "$1" "$rate" "$STEP_SECS" "$out"
		sent=$(field "sent packets" "$out"); recv=$(field "received packets" "$out")
		sent=${sent:-0}; recv=${recv:-0}
		got=$(awk -v r="$recv" -v p="$STEP_SECS" 'BEGIN { printf "%.0f", r/p }')
		loss=$(awk -v s="$sent" -v r="$recv" 'BEGIN { if (s==0) print 100; else printf "%.3f", (s-r)*100/s }')
		log "    $1 rate $rate/s: sent $sent received $recv ($got/s) loss $loss%"
		awk -v g="$got" -v m="$maxseen" 'BEGIN { exit !(g>m) }' && maxseen=$got
		if awk -v l="$loss" 'BEGIN { exit !(l<=0.1) }'; then
			awk -v g="$got" -v b="$best" 'BEGIN { exit !(g>b) }' && best=$got
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
	echo "$best $maxseen"
}

# sanity: both answer a PXE DISCOVER
for s in "$PIX_IP" "$REF_IP"; do
	perf "$s" 10 1 "$WORK/sanity.$s"
	[ "$(field "received packets" "$WORK/sanity.$s")" -gt 0 ] 2>/dev/null ||
		{ cat "$WORK/sanity.$s" >&2; die "server $s does not answer perfdhcp's PXE DISCOVER"; }
done

GENLIMIT=0
declare -A CPU P50 P99 LOSS BEST MAXS
for run in $(seq "$RUNS"); do
	order="pixie dnsmasq"; [ $((run % 2)) = 0 ] && order="dnsmasq pixie"
	for who in $order; do
		if [ $who = pixie ]; then ip=$PIX_IP pid=$PIXIE_PID; else ip=$REF_IP pid=$DNSMASQ_PID; fi
		log "  run $run $who"
		read -r p50 p99 loss cpu < <(latency "$ip" "$pid")
		throughput "$ip" >"$WORK/thr.result"
		read -r best maxs <"$WORK/thr.result"
		log "    latency p50 ${p50} ms p99 ${p99} ms (loss $loss%), CPU $cpu µs/offer, offers/s at <=0.1% loss: $best, max seen $maxs"
		P50[$who]+="$p50 "; CPU[$who]+="$cpu "; P99[$who]+="$p99 "; LOSS[$who]+="$loss "; BEST[$who]+="$best "; MAXS[$who]+="$maxs "
	done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
for who in pixie dnsmasq; do
	eval "m_best_$who=\$(med \"\${BEST[$who]}\")"
	eval "m_maxs_$who=\$(med \"\${MAXS[$who]}\")"
	eval "m_p50_$who=\$(med \"\${P50[$who]}\")"
	eval "m_p99_$who=\$(med \"\${P99[$who]}\")"
	eval "m_cpu_$who=\$(med \"\${CPU[$who]}\")"
done

table=$(cat <<EOF
| proxyDHCP (perfdhcp -i, PXE opts, ${MACS:-1000} MACs) | pixie | dnsmasq $(dnsmasq -v | awk 'NR==1 {print $3}') | pixie/dnsmasq |
| --- | ---: | ---: | ---: |
| offers/s at <= 0.1 % loss (steps: $STEPS) | $m_best_pixie | $m_best_dnsmasq | $(ratio "$m_best_pixie" "$m_best_dnsmasq") |
| max offers/s received at any step | $m_maxs_pixie | $m_maxs_dnsmasq | $(ratio "$m_maxs_pixie" "$m_maxs_dnsmasq") |
| latency p50 at $LAT_RATE/s (ms) | $m_p50_pixie | $m_p50_dnsmasq | $(ratio "$m_p50_pixie" "$m_p50_dnsmasq") |
| latency p99 at $LAT_RATE/s (ms) | $m_p99_pixie | $m_p99_dnsmasq | $(ratio "$m_p99_pixie" "$m_p99_dnsmasq") |
| server CPU time per offer at $LAT_RATE/s (µs, user+system) | $m_cpu_pixie | $m_cpu_dnsmasq | $(ratio "$m_cpu_pixie" "$m_cpu_dnsmasq") |

Medians of $RUNS runs (alternating which server goes first). Raw per run: pixie offers/s ${BEST[pixie]}, dnsmasq ${BEST[dnsmasq]}; pixie p99 ${P99[pixie]}, dnsmasq p99 ${P99[dnsmasq]}. For latency and CPU a ratio below 1 means pixie is better.$([ "$GENLIMIT" = 1 ] && echo " perfdhcp could not send at the highest rate stepped to (generator-limited): a server that reached it may be faster still.") CPU time per offer is the least noise-sensitive row on a shared machine.
EOF
)
echo
echo "$table"
[ -n "${RESULTS:-}" ] && { echo; echo "$table"; } >>"$RESULTS"
exit 0
