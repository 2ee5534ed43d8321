#!/usr/bin/env bash
# bench/tftp.sh — TFTP: pixie vs tftpd-hpa (in.tftpd), N concurrent clients
# fetching ipxe.efi and undionly.kpxe with blksize 1468.
# Run as root: sudo bash bench/tftp.sh
#
# Both servers serve byte-identical files: the ones pixie serves (fetched from
# its /firmware/ endpoint) are copied into in.tftpd's root. The client is
# bench/pxload (pin/tftp v3, blksize 1468), run in the client namespace.
# Each "case" is N clients, each fetching both files ROUNDS times; the
# figure is the wall time of the whole case. RUNS runs alternating pixie /
# in.tftpd; median. With each case: the server's CPU time (user+system,
# in.tftpd's per-transfer children included, from /proc/PID/stat), which
# moves less than wall time when other work shares the cores.
#
# Windowed case (RFC 7440): atftp (the pin/tftp client cannot ask for a
# window) fetching both files WROUNDS times with windowsize $WINDOW, from
# pixie and from in.tftpd, which does not support windowsize (tftpd-hpa 5.2)
# and so answers in lock-step; pixie with atftp asking windowsize 1 runs
# beside them, to separate the window's gain from the client's.
#
# Peak RSS over all TFTP runs: pixie's VmHWM (reset through clear_refs once
# the server is up); in.tftpd's daemon VmHWM and, as it forks a process
# per transfer, the highest sum of VmRSS over the daemon and its children,
# sampled every 50 ms.
# PIN=N runs both servers on CPU N only (taskset; Go then sees one CPU),
# as a busy or small machine would; the clients stay free.
# Env: QUICK=1, RUNS, CLIENTS ("1 10 50"), WINDOW (8), PIN, PIXIE_BIN, RESULTS.
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then RUNS=${RUNS:-1}; else RUNS=${RUNS:-3}; fi
CLIENTS=${CLIENTS:-"1 10 50"}
FILES=ipxe.efi,undionly.kpxe
# rounds per client: keeps every case long enough to time, short enough to run
rounds_for() {
	if [ "$QUICK" = 1 ]; then
		case $1 in 1) echo 10 ;; 10) echo 3 ;; *) echo 1 ;; esac
	else
		case $1 in 1) echo 50 ;; 10) echo 10 ;; *) echo 4 ;; esac
	fi
}

WINDOW=${WINDOW:-8}
if [ "$QUICK" = 1 ]; then WROUNDS=5; else WROUNDS=20; fi

require_root
need in.tftpd tftpd-hpa
need curl curl
need atftp atftp

# CPU time per server: each server runs in a cgroup of its own (cgroup v2,
# cpu.stat usage_usec), which also counts in.tftpd's per-transfer children:
# they are not waited for, so /proc/PID/stat's child times miss them.
# Without a writable cgroup v2 hierarchy, /proc/PID/stat (children missed).
CG_BASE=""
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ] && [ -w "$d/cgroup.procs" ]; then CG_BASE=$d; break; fi
done
CGS=()
declare -A CG
# cg_join NAME PID: put PID in this run's cgroup NAME.
cg_join() {
	[ -n "$CG_BASE" ] || return 0
	local d="$CG_BASE/$NS_TAG-$1"
	mkdir -p "$d" && CGS+=("$d") && echo "$2" >"$d/cgroup.procs" && CG[$2]=$d
}
# cpu_ms PID: CPU time (user+system) of PID's cgroup, else of PID, in ms.
cpu_ms() {
	local d=${CG[$1]:-}
	if [ -n "$d" ]; then
		awk '/^usage_usec/ {printf "%d\n", $2 / 1000}' "$d/cpu.stat"
	else
		awk -v t="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15 + $16 + $17) * 1000 / t}' "/proc/$1/stat"
	fi
}
# status_kb PID FIELD: VmRSS or VmHWM of PID in kB (0 when gone), no forks.
status_kb() {
	local k v rest
	{ while read -r k v rest; do
		[ "$k" = "$2:" ] && { echo "$v"; return; }
	done <"/proc/$1/status"; } 2>/dev/null
	echo 0
}
# pss_kb PID: proportional set size (shared pages split between the
# processes sharing them), so a sum over forked children counts libc once.
pss_kb() {
	local k v rest
	{ while read -r k v rest; do
		[ "$k" = "Pss:" ] && { echo "$v"; return; }
	done <"/proc/$1/smaps_rollup"; } 2>/dev/null
	echo 0
}
# sample_tree PID OUT: until OUT.stop exists, the highest Pss sum of PID
# and its children goes to OUT (kB).
sample_tree() {
	local max=0 sum p
	while [ ! -e "$2.stop" ]; do
		sum=0
		for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
			sum=$((sum + $(pss_kb "$p")))
		done
		[ "$sum" -gt "$max" ] && { max=$sum; echo "$max" >"$2"; }
		sleep 0.05
	done
}
tftp_cleanup() {
	local rc=$? d
	for d in "${CGS[@]}"; do echo 1 >"$d/cgroup.kill" 2>/dev/null; done
	sleep 0.2
	for d in "${CGS[@]}"; do rmdir "$d" 2>/dev/null; done
	(exit $rc)
	cleanup
}

trap tftp_cleanup EXIT INT TERM
make_work
PIXIE=$(pixie_bin)
PIXIE_REAL=$PIXIE
PINNED=()
if [ -n "${PIN:-}" ]; then
	need taskset util-linux
	PINNED=(taskset -c "$PIN")
fi
PXLOAD=$(helper_bin)
setup_net

mkdir -p "$WORK/data" "$WORK/tftp"
if [ -n "${PIN:-}" ]; then
	# start_pixie runs one command: a wrapper that execs, so the pid stays pixie's
	printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$PIN" "$PIXIE_REAL" >"$WORK/pixie-pinned"
	chmod +x "$WORK/pixie-pinned"
	PIXIE=$WORK/pixie-pinned
fi
start_pixie "$WORK/data"
for f in ${FILES//,/ }; do
	in_ns "$NS_CLI" curl -sf -o "$WORK/tftp/$f" "http://$PIX_IP:8080/firmware/$f" || die "pixie does not serve $f"
done
chmod -R a+rX "$WORK/tftp"
sizes=$(for f in ${FILES//,/ }; do printf '%s %s bytes; ' "$f" "$(stat -c %s "$WORK/tftp/$f")"; done)

bg "$NS_REF" "$WORK/tftpd.log" "${PINNED[@]}" in.tftpd -L -a "$REF_IP:69" -u root -s "$WORK/tftp"
TFTPD_PID=$LAST_PID
sleep 0.3
[ "$(cat /proc/$TFTPD_PID/comm)" = in.tftpd ] || die "in.tftpd is not process $TFTPD_PID"
[ "$(cat /proc/$PIXIE_PID/comm)" = "$(basename "$PIXIE_REAL" | cut -c1-15)" ] || die "pixie is not process $PIXIE_PID"
cg_join pix "$PIXIE_PID"
cg_join ref "$TFTPD_PID"

# sanity: one fetch of each file from each server
for s in "$PIX_IP" "$REF_IP"; do
	in_ns "$NS_CLI" "$PXLOAD" tftp -server "$s:69" -files "$FILES" -clients 1 >/dev/null ||
		die "TFTP fetch from $s failed"
	for f in ${FILES//,/ }; do
		in_ns "$NS_CLI" atftp --option "blksize 1468" --option "windowsize $WINDOW" -g -r "$f" -l "$WORK/atftp.out" "$s" 69 ||
			die "atftp fetch of $f from $s failed"
		cmp -s "$WORK/atftp.out" "$WORK/tftp/$f" || die "atftp got a different $f from $s"
	done
done

# atftp_case SERVER WINDOW: seconds for one client fetching both files
# WROUNDS times, one atftp process per file.
atftp_case() {
	in_ns "$NS_CLI" bash -c '
		s=$1 w=$2 r=$3 out=$4; shift 4
		t0=$(date +%s%N)
		for i in $(seq "$r"); do
			for f in "$@"; do
				atftp --option "blksize 1468" --option "windowsize $w" -g -r "$f" -l "$out" "$s" 69 || exit 1
			done
		done
		echo $(( ($(date +%s%N) - t0) / 1000000 ))' _ "$1" "$2" "$WROUNDS" "$WORK/atftp.out" ${FILES//,/ } |
		awk '{printf "%.4f\n", $1 / 1000}'
}

# Peak memory is measured from here on.
pixie_start=$(status_kb "$PIXIE_PID" VmRSS)
pixie_start_split="$(status_kb "$PIXIE_PID" RssAnon) kB anonymous, $(status_kb "$PIXIE_PID" RssFile) kB file-backed"
echo 5 >"/proc/$PIXIE_PID/clear_refs"
echo 5 >"/proc/$TFTPD_PID/clear_refs"
sample_tree "$TFTPD_PID" "$WORK/tftpd.rss" &
SAMPLER=$!
PIDS+=("$SAMPLER")
sample_tree "$PIXIE_PID" "$WORK/pixie.rss" &
SAMPLER2=$!
PIDS+=("$SAMPLER2")

declare -A T C
for run in $(seq "$RUNS"); do
	for n in $CLIENTS; do
		r=$(rounds_for "$n")
		order="pixie tftpd"; [ $((run % 2)) = 0 ] && order="tftpd pixie"
		for who in $order; do
			if [ $who = pixie ]; then ip=$PIX_IP pid=$PIXIE_PID; else ip=$REF_IP pid=$TFTPD_PID; fi
			c0=$(cpu_ms "$pid")
			out=$(in_ns "$NS_CLI" "$PXLOAD" tftp -server "$ip:69" -files "$FILES" -clients "$n" -rounds "$r" -blksize 1468) ||
				die "$who: $out"
			cpu=$(awk -v a="$c0" -v b="$(cpu_ms "$pid")" 'BEGIN {print b - a}')
			secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
			log "  run $run $who clients=$n rounds=$r: $out cpu_ms=$cpu load=$(cut -d' ' -f1 /proc/loadavg)"
			T[$who.$n]+="$secs "
			C[$who.$n]+="$cpu "
		done
	done
	order="pixie pixie1 tftpd"; [ $((run % 2)) = 0 ] && order="tftpd pixie1 pixie"
	for who in $order; do
		case $who in
		pixie) ip=$PIX_IP w=$WINDOW pid=$PIXIE_PID ;;
		pixie1) ip=$PIX_IP w=1 pid=$PIXIE_PID ;;
		tftpd) ip=$REF_IP w=$WINDOW pid=$TFTPD_PID ;;
		esac
		c0=$(cpu_ms "$pid")
		secs=$(atftp_case "$ip" "$w") || die "$who: atftp failed"
		cpu=$(awk -v a="$c0" -v b="$(cpu_ms "$pid")" 'BEGIN {print b - a}')
		log "  run $run $who atftp windowsize=$w rounds=$WROUNDS: seconds=$secs cpu_ms=$cpu load=$(cut -d' ' -f1 /proc/loadavg)"
		T[$who.w]+="$secs "
		C[$who.w]+="$cpu "
	done
done
touch "$WORK/tftpd.rss.stop" "$WORK/pixie.rss.stop"
wait "$SAMPLER" "$SAMPLER2" 2>/dev/null || true
pixie_hwm=$(status_kb "$PIXIE_PID" VmHWM)
pixie_end_split="$(status_kb "$PIXIE_PID" RssAnon) kB anonymous, $(status_kb "$PIXIE_PID" RssFile) kB file-backed, $(ls /proc/"$PIXIE_PID"/task | wc -l) threads"
tftpd_hwm=$(status_kb "$TFTPD_PID" VmHWM)
tftpd_tree=$(cat "$WORK/tftpd.rss" 2>/dev/null || echo 0)
pixie_pss=$(cat "$WORK/pixie.rss" 2>/dev/null || echo 0)
cpu_how="cgroup v2 cpu.stat, children included"
[ -n "$CG_BASE" ] || cpu_how="/proc/PID/stat: in.tftpd's unreaped children are missing"

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
table=$(
	echo "| TFTP (blksize 1468, both files per client per round) | transfers | pixie s | in.tftpd s | pixie/in.tftpd time | pixie MB/s | in.tftpd MB/s | pixie CPU ms | in.tftpd CPU ms | CPU ratio |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	total_bytes_per_round=$(for f in ${FILES//,/ }; do stat -c %s "$WORK/tftp/$f"; done | awk '{s+=$1} END {print s}')
	for n in $CLIENTS; do
		r=$(rounds_for "$n")
		tp=$(med "${T[pixie.$n]}"); tr_=$(med "${T[tftpd.$n]}")
		mb=$(awk -v n="$n" -v r="$r" -v b="$total_bytes_per_round" 'BEGIN {print n*r*b/1e6}')
		cp=$(med "${C[pixie.$n]}"); cr=$(med "${C[tftpd.$n]}")
		echo "| $n clients x $r rounds | $((n * r * 2)) | $tp | $tr_ | $(ratio "$tp" "$tr_") | $(awk -v m="$mb" -v t="$tp" 'BEGIN {printf "%.1f", m/t}') | $(awk -v m="$mb" -v t="$tr_" 'BEGIN {printf "%.1f", m/t}') | $cp | $cr | $(ratio "$cp" "$cr") |"
	done
	echo
	echo "| atftp, 1 client x $WROUNDS rounds, blksize 1468 | pixie s | CPU ms |"
	echo "| --- | ---: | ---: |"
	echo "| pixie, windowsize $WINDOW | $(med "${T[pixie.w]}") | $(med "${C[pixie.w]}") |"
	echo "| pixie, windowsize 1 | $(med "${T[pixie1.w]}") | $(med "${C[pixie1.w]}") |"
	echo "| in.tftpd, asked for windowsize $WINDOW (unsupported: lock-step) | $(med "${T[tftpd.w]}") | $(med "${C[tftpd.w]}") |"
	echo
	echo "Windowed vs in.tftpd time: $(ratio "$(med "${T[pixie.w]}")" "$(med "${T[tftpd.w]}")"); pixie windowsize $WINDOW vs 1: $(ratio "$(med "${T[pixie.w]}")" "$(med "${T[pixie1.w]}")"). Each atftp run is a process start per file."
	echo
	mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
	echo "Peak memory during all TFTP runs: pixie $(mb "$pixie_hwm") MB RSS (VmHWM; $(mb "$pixie_start") MB before the first run), $(mb "$pixie_pss") MB PSS (sampled); in.tftpd daemon $(mb "$tftpd_hwm") MB RSS (VmHWM), with its per-transfer children $(mb "$tftpd_tree") MB PSS at most (sum, sampled every 50 ms). CPU: $cpu_how. pixie's RSS before the runs: $pixie_start_split; after: $pixie_end_split."
	echo
	[ -n "${PIN:-}" ] && echo "Both servers pinned to CPU $PIN (taskset)."
	echo "Files: $sizes median of $RUNS runs, alternating. A time ratio below 1 means pixie is faster."
)
echo
echo "$table"
[ -n "${RESULTS:-}" ] && { echo; echo "$table"; } >>"$RESULTS"
exit 0
