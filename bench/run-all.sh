#!/usr/bin/env bash
# bench/run-all.sh — every side-by-side benchmark, one after the other, with a
# markdown report (machine, tool versions, load average, tables).
# Run as root:  sudo bash bench/run-all.sh            (~7-8 min on 2 cores)
#               sudo QUICK=1 bash bench/run-all.sh    (~1-1.5 min, smoke run)
# Env: QUICK=1; OUT=FILE also writes the markdown report to FILE (it always
# goes to stdout); ONLY="dhcp tftp" runs a subset (names: dhcp tftp http
# footprint storm). Builds bin/pixie and bin/pxload first.
source "$(dirname "$0")/lib.sh"

require_root
start=$(date +%s)
PIXIE_BIN=$(pixie_bin)
PXLOAD_BIN=$(helper_bin)
export PIXIE_BIN PXLOAD_BIN QUICK

REPORT=$(mktemp /tmp/pxbench-report.XXXXXX)
trap 'rm -f "$REPORT" "$REPORT".*' EXIT
export RESULTS=$REPORT

ver() { "$@" 2>&1 | head -1; }
{
	echo "### Run $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo " (QUICK=1)")"
	echo
	machine_info
	echo "- pixie: $(cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null || echo dev), $(go version | awk '{print $3}'), built with \`CGO_ENABLED=1 go build -trimpath -o bin/pixie ./cmd/pixie\`"
	echo "- tools: perfdhcp $(ver perfdhcp -v), $(ver dnsmasq -v | cut -d' ' -f1-3), $(ver in.tftpd -V | cut -d, -f1), $(ver nginx -v | sed 's/nginx version: //'), $(ver wrk -v | cut -d' ' -f1-2)"
	echo "- command: \`$([ "$QUICK" = 1 ] && echo "QUICK=1 ")bash bench/run-all.sh\`"
} >>"$REPORT"

failed=()
section() { # NAME SCRIPT [ARGS...]
	local name=$1 script=$2; shift 2
	case " ${ONLY:-dhcp tftp http footprint storm} " in *" $name "*) ;; *) return 0 ;; esac
	log "=== $name ($script) — load average $(cut -d' ' -f1-3 /proc/loadavg)"
	{ echo; echo "#### $name — load average before: $(cut -d' ' -f1-3 /proc/loadavg)"; } >>"$REPORT"
	local t0=$(date +%s)
	local outf=$REPORT.$name rc=0
	bash "$BENCH_DIR/$script" "$@" | tee "$outf" || rc=$?
	if [ "$name" = storm ]; then
		# storm.sh prints its own report: keep it in ours, verbatim
		{ echo; echo '```'; grep -v '^[0-9/]* [0-9:]* storm:' "$outf"; echo '```'; } >>"$REPORT"
	fi
	rm -f "$outf"
	if [ "$rc" != 0 ]; then
		failed+=("$name")
		{ echo; echo "**$name failed** (exit $rc; see the log above)"; } >>"$REPORT"
	fi
	echo "($name took $(( $(date +%s) - t0 )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg))" >>"$REPORT"
}

section dhcp dhcp.sh
section tftp tftp.sh
section http http.sh
section footprint footprint.sh
# --- hook: the boot-storm benchmark (bench/storm.sh, owned by the storm
# engineer) runs here when it exists; QUICK=1 runs one 200-client storm
# (its arguments are client counts). Keep this line.
[ -f "$BENCH_DIR/storm.sh" ] && { if [ "$QUICK" = 1 ]; then section storm storm.sh 200; else section storm storm.sh; fi; }

echo >>"$REPORT"
echo "Total: $(( $(date +%s) - start )) s." >>"$REPORT"
echo
echo "================ report ================"
cat "$REPORT"
[ -n "${OUT:-}" ] && cp "$REPORT" "$OUT"
[ ${#failed[@]} = 0 ] || { log "failed: ${failed[*]}"; exit 1; }
