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
# in.tftpd; median.
# Env: QUICK=1, RUNS, CLIENTS ("1 10 50"), PIXIE_BIN, RESULTS.
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

require_root
need in.tftpd tftpd-hpa
need curl curl

trap cleanup EXIT INT TERM
make_work
PIXIE=$(pixie_bin)
PXLOAD=$(helper_bin)
setup_net

mkdir -p "$WORK/data" "$WORK/tftp"
start_pixie "$WORK/data"
for f in ${FILES//,/ }; do
	in_ns "$NS_CLI" curl -sf -o "$WORK/tftp/$f" "http://$PIX_IP:8080/firmware/$f" || die "pixie does not serve $f"
done
chmod -R a+rX "$WORK/tftp"
sizes=$(for f in ${FILES//,/ }; do printf '%s %s bytes; ' "$f" "$(stat -c %s "$WORK/tftp/$f")"; done)

bg "$NS_REF" "$WORK/tftpd.log" in.tftpd -L -a "$REF_IP:69" -u root -s "$WORK/tftp"
sleep 0.3

# sanity: one fetch of each file from each server
for s in "$PIX_IP" "$REF_IP"; do
	in_ns "$NS_CLI" "$PXLOAD" tftp -server "$s:69" -files "$FILES" -clients 1 >/dev/null ||
		die "TFTP fetch from $s failed"
done

declare -A T
for run in $(seq "$RUNS"); do
	for n in $CLIENTS; do
		r=$(rounds_for "$n")
		order="pixie tftpd"; [ $((run % 2)) = 0 ] && order="tftpd pixie"
		for who in $order; do
			[ $who = pixie ] && ip=$PIX_IP || ip=$REF_IP
			out=$(in_ns "$NS_CLI" "$PXLOAD" tftp -server "$ip:69" -files "$FILES" -clients "$n" -rounds "$r" -blksize 1468) ||
				die "$who: $out"
			secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
			log "  run $run $who clients=$n rounds=$r: $out"
			T[$who.$n]+="$secs "
		done
	done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
table=$(
	echo "| TFTP (blksize 1468, both files per client per round) | transfers | pixie s | in.tftpd s | pixie/in.tftpd time | pixie MB/s | in.tftpd MB/s |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	total_bytes_per_round=$(for f in ${FILES//,/ }; do stat -c %s "$WORK/tftp/$f"; done | awk '{s+=$1} END {print s}')
	for n in $CLIENTS; do
		r=$(rounds_for "$n")
		tp=$(med "${T[pixie.$n]}"); tr_=$(med "${T[tftpd.$n]}")
		mb=$(awk -v n="$n" -v r="$r" -v b="$total_bytes_per_round" 'BEGIN {print n*r*b/1e6}')
		echo "| $n clients x $r rounds | $((n * r * 2)) | $tp | $tr_ | $(ratio "$tp" "$tr_") | $(awk -v m="$mb" -v t="$tp" 'BEGIN {printf "%.1f", m/t}') | $(awk -v m="$mb" -v t="$tr_" 'BEGIN {printf "%.1f", m/t}') |"
	done
	echo
	echo "Files: $sizes median of $RUNS runs, alternating. A time ratio below 1 means pixie is faster."
)
echo
echo "$table"
[ -n "${RESULTS:-}" ] && { echo; echo "$table"; } >>"$RESULTS"
exit 0
