#!/usr/bin/env bash
# bench/footprint.sh — binary size, idle memory and start-up time of pixie,
# next to dnsmasq (the guide's proxyDHCP + TFTP server).
# Run as root: sudo bash bench/footprint.sh
#
# Start-up: the wall time from launching the server (ip netns exec … in its
# namespace) to its first answer, seen from the client namespace by
# bench/pxload probes started at the same moment: a relayed PXE DISCOVER every
# 5 ms until an OFFER comes back, and for pixie also GET /boot.ipxe every 2 ms
# until it answers 200. Restarts on an existing data directory (the database
# exists); RUNS runs, median. Idle RSS: VmRSS 2 s after the first answer.
# Env: QUICK=1, RUNS, PIXIE_BIN, RESULTS.
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then RUNS=${RUNS:-2}; else RUNS=${RUNS:-5}; fi

require_root
need dnsmasq dnsmasq-base

trap cleanup EXIT INT TERM
make_work
PIXIE=$(pixie_bin)
PXLOAD=$(helper_bin)
setup_net

guide_dnsmasq_conf "$WORK/dnsmasq.conf" enable-tftp "tftp-root=$WORK/tftp"
mkdir -p "$WORK/tftp" "$WORK/data"

now_ns() { date +%s%N; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# anon_kb PID: the part of RSS that is the process's own memory (the rest
# is pages of its executable and libraries, shared with the page cache)
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }

# first start creates the database; not timed
start_pixie "$WORK/data"
stop_pid "$PIXIE_PID"

declare -A V
for run in $(seq "$RUNS"); do
	# pixie
	t0=$(now_ns)
	in_ns "$NS_CLI" "$PXLOAD" first-offer -server "$PIX_IP" -local "$CLI_IP" >"$WORK/offer.t" &
	po=$!
	in_ns "$NS_CLI" "$PXLOAD" first-http -url "http://$PIX_IP:8080/boot.ipxe" >"$WORK/http.t" &
	ph=$!
	bg "$NS_PIX" "$WORK/pixie.$run.log" "$PIXIE" serve --interface eth0 --address "$PIX_IP" \
		--data-dir "$WORK/data" --http-port 8080 --socket "$WORK/pixie.sock"
	pid=$LAST_PID
	wait "$po" || die "pixie: no offer"
	wait "$ph" || die "pixie: no /boot.ipxe"
	V[pixie.offer]+="$(( ($(cat "$WORK/offer.t") - t0) / 1000000 )) "
	V[pixie.http]+="$(( ($(cat "$WORK/http.t") - t0) / 1000000 )) "
	sleep 2
	V[pixie.rss]+="$(rss_kb "$pid") "
	V[pixie.anon]+="$(anon_kb "$pid") "
	stop_pid "$pid"

	# dnsmasq
	t0=$(now_ns)
	in_ns "$NS_CLI" "$PXLOAD" first-offer -server "$REF_IP" -local "$CLI_IP" >"$WORK/offer.t" &
	po=$!
	bg "$NS_REF" "$WORK/dnsmasq.$run.out" dnsmasq -k -C "$WORK/dnsmasq.conf" --pid-file="$WORK/dnsmasq.pid"
	pid=$LAST_PID
	wait "$po" || die "dnsmasq: no offer"
	V[dnsmasq.offer]+="$(( ($(cat "$WORK/offer.t") - t0) / 1000000 )) "
	sleep 2
	V[dnsmasq.rss]+="$(rss_kb "$pid") "
	V[dnsmasq.anon]+="$(anon_kb "$pid") "
	stop_pid "$pid"
	log "  run $run: pixie offer ${V[pixie.offer]}ms http ${V[pixie.http]}ms rss ${V[pixie.rss]}kB; dnsmasq offer ${V[dnsmasq.offer]}ms rss ${V[dnsmasq.rss]}kB"
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
pix_size=$(stat -c %s "$PIXIE")
strip -o "$WORK/pixie.stripped" "$PIXIE" 2>/dev/null && pix_strip=$(stat -c %s "$WORK/pixie.stripped") || pix_strip=n/a
dm=$(command -v dnsmasq)
dm_size=$(stat -c %s "$dm")
dm_libs=$(ldd "$dm" | awk '$3 ~ /^\// {print $3}' | xargs -r stat -L -c %s | awk '{s+=$1} END {print s+0}')
mb() { awk -v b="$1" 'BEGIN { if (b ~ /^[0-9]+$/) printf "%.1f MB", b/1e6; else print b }'; }
po=$(med "${V[pixie.offer]}"); do_=$(med "${V[dnsmasq.offer]}")
pr=$(med "${V[pixie.rss]}"); dr=$(med "${V[dnsmasq.rss]}")
pa=$(med "${V[pixie.anon]}"); da=$(med "${V[dnsmasq.anon]}")
table=$(
	echo "| Footprint | pixie | dnsmasq $(dnsmasq -v | awk 'NR==1 {print $3}') | pixie/dnsmasq |"
	echo "| --- | ---: | ---: | ---: |"
	echo "| binary size | $(mb "$pix_size") (stripped: $(mb "$pix_strip")) | $(mb "$dm_size") (+ $(mb "$dm_libs") shared libraries) | $(ratio "$pix_size" "$dm_size") |"
	echo "| idle RSS 2 s after the first answer | $(awk -v k="$pr" 'BEGIN {printf "%.1f MB", k/1024}') | $(awk -v k="$dr" 'BEGIN {printf "%.1f MB", k/1024}') | $(ratio "$pr" "$dr") |"
	echo "| of which its own memory (RssAnon; the rest is pages of the binary and libraries) | $(awk -v k="$pa" 'BEGIN {printf "%.1f MB", k/1024}') | $(awk -v k="$da" 'BEGIN {printf "%.1f MB", k/1024}') | $(ratio "$pa" "$da") |"
	echo "| start-up to first proxy OFFER | $po ms | $do_ ms | $(ratio "$po" "$do_") |"
	echo "| start-up to first 200 on /boot.ipxe | $(med "${V[pixie.http]}") ms | — (no HTTP) | |"
	echo
	echo "pixie's binary embeds SQLite (cgo) and, when built after \`make firmware\`, the iPXE firmware ($(du -cb "$ROOT"/assets/firmware/*.efi "$ROOT"/assets/firmware/*.kpxe 2>/dev/null | tail -1 | cut -f1) bytes here); dnsmasq serves DHCP/TFTP only (no HTTP, no database). Start-up: restart on an existing data directory, median of $RUNS runs; raw: pixie offer ${V[pixie.offer]}ms, /boot.ipxe ${V[pixie.http]}ms, dnsmasq offer ${V[dnsmasq.offer]}ms."
)
echo
echo "$table"
[ -n "${RESULTS:-}" ] && { echo; echo "$table"; } >>"$RESULTS"
exit 0
