#!/usr/bin/env bash
# bench/http.sh — HTTP: pixie's /assets vs nginx for large images, and
# pixie's per-machine iPXE script and Ignition rendering with 1,000 machines.
# Run as root: sudo bash bench/http.sh
#
# Images: a 100 MB and a 1 GB sparse file (truncate -s, in a temp dir,
# deleted on exit) in pixie's asset store; nginx (foreground, own config,
# sendfile on, access log on like pixie's per-download log line) serves the
# same directory. wrk in the client namespace, 1 and 20 connections, keep-alive;
# the figure is wrk's Transfer/sec (MB/s). RUNS runs alternating; median.
# Rendering: 1,000 machines added through the control socket; wrk fetches
# /ipxe?mac=… (pixie's default: a per-boot Ignition token is minted per
# script) and /ignition?mac=… (pixie restarted with --no-ignition-tokens, so
# the config is served without a token) for all 1,000 MACs in turn. As a
# ceiling, nginx serves a static copy of one rendered script / config.
# Env: QUICK=1, RUNS, DUR (wrk seconds), PIXIE_BIN, RESULTS.
source "$(dirname "$0")/lib.sh"

if [ "$QUICK" = 1 ]; then RUNS=${RUNS:-1}; DUR=${DUR:-2}; else RUNS=${RUNS:-3}; DUR=${DUR:-5}; fi
MACHINES=${MACHINES:-1000}

require_root
need nginx nginx-light
need wrk wrk
need curl curl

trap cleanup EXIT INT TERM
make_work
PIXIE=$(pixie_bin)
PXLOAD=$(helper_bin)
setup_net

DATA="$WORK/data"
mkdir -p "$DATA/assets/bench" "$WORK/nginx"
truncate -s 100M "$DATA/assets/bench/100M.img"
truncate -s 1G "$DATA/assets/bench/1G.img"
chmod -R a+rX "$WORK"

start_pixie "$DATA"

cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    access_log $WORK/nginx/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $WORK/nginx/tmp-body;
    proxy_temp_path $WORK/nginx/tmp-proxy;
    fastcgi_temp_path $WORK/nginx/tmp-fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp-uwsgi;
    scgi_temp_path $WORK/nginx/tmp-scgi;
    server {
        listen $REF_IP:8080;
        location /assets/ { alias $DATA/assets/; }
        location /static/ { alias $WORK/static/; }
    }
}
EOF
mkdir -p "$WORK/static"
bg "$NS_REF" "$WORK/nginx/stdout.log" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
wait_http "http://$REF_IP:8080/assets/bench/100M.img" || { cat "$WORK/nginx/error.log" >&2; die "nginx did not start"; }

# wrkrun CONNS URL [lua] -> "reqs/s MB/s" ; wrk's own output saved in $WORK
wrkrun() {
	local c=$1 url=$2 lua=${3:-} t=2 out
	[ "$c" = 1 ] && t=1
	out="$WORK/wrk.$RANDOM"
	in_ns "$NS_CLI" wrk -t"$t" -c"$c" -d"${DUR}s" --timeout 30s ${lua:+-s "$lua"} "$url" >"$out" 2>&1 || true
	awk '
		/^Requests\/sec:/ { r=$2 }
		/^Transfer\/sec:/ { v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
			m = (u=="GB") ? 1024 : (u=="MB") ? 1 : (u=="KB") ? 1/1024 : 1/1048576; mb = v*m*1.048576 }
		/Non-2xx/ { bad=$NF }
		END { if (bad>0) { print "error error"; exit } printf "%s %.1f\n", r, mb }' "$out"
}

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
declare -A R

# --- images ----------------------------------------------------------------
# Warm the page cache first: the first read of a fresh (sparse) file costs
# ~5x the later ones, and would be charged to whichever server goes first.
cat "$DATA/assets/bench/100M.img" "$DATA/assets/bench/1G.img" >/dev/null
for ip in "$PIX_IP" "$REF_IP"; do
	in_ns "$NS_CLI" curl -sf -o /dev/null "http://$ip:8080/assets/bench/1G.img" || die "warm-up fetch from $ip failed"
done
for run in $(seq "$RUNS"); do
	# alternate who goes first
	order="pixie nginx"; [ $((run % 2)) = 0 ] && order="nginx pixie"
	for f in 100M 1G; do
		for c in 1 20; do
			for who in $order; do
				[ $who = pixie ] && ip=$PIX_IP || ip=$REF_IP
				read -r rps mb < <(wrkrun "$c" "http://$ip:8080/assets/bench/$f.img")
				[ "$rps" = error ] && die "$who answered non-2xx for $f.img"
				log "  run $run $who $f c=$c: $mb MB/s ($rps req/s)"
				R[$who.$f.$c]+="$mb "
			done
		done
	done
done

# --- rendering -------------------------------------------------------------
"$PXLOAD" seed -socket "$PIXIE_SOCK" -n "$MACHINES" -macs "$WORK/macs.txt" || die "seeding machines failed"
cat >"$WORK/rotate.lua" <<EOF
local macs = {}
for line in io.lines("$WORK/macs.txt") do macs[#macs + 1] = line end
local i = 0
path_prefix = os.getenv("PXPATH") or "/ipxe"
request = function()
  i = i % #macs + 1
  return wrk.format("GET", path_prefix .. "?mac=" .. macs[i])
end
EOF
# The default profile's kernel and initrds must be in the asset store, or
# /ipxe answers with its "missing asset, retrying" script instead.
"$PXLOAD" profile-assets -socket "$PIXIE_SOCK" -profile first-time -dir "$DATA/assets" || die "cannot create the default profile's assets"
mac1=$(head -1 "$WORK/macs.txt")
in_ns "$NS_CLI" curl -sf -o "$WORK/static/script.ipxe" "http://$PIX_IP:8080/ipxe?mac=$mac1" || die "pixie /ipxe failed"
grep -q "^kernel " "$WORK/static/script.ipxe" || { cat "$WORK/static/script.ipxe" >&2; die "pixie's /ipxe is not a boot script (are the default profile's assets missing?)"; }
script_bytes=$(stat -c %s "$WORK/static/script.ipxe")

rend() { # PATH CONNS -> req/s (pixie, rotating over all MACs)
	local out="$WORK/wrk.r.$RANDOM" t=2
	[ "$2" = 1 ] && t=1
	in_ns "$NS_CLI" env PXPATH="$1" wrk -t$t -c"$2" -d"${DUR}s" -s "$WORK/rotate.lua" "http://$PIX_IP:8080" >"$out" 2>&1 || true
	grep -q "Non-2xx" "$out" && { cat "$out" >&2; die "pixie answered non-2xx on $1"; }
	awk '/^Requests\/sec:/ {print $2}' "$out"
}
# rend_runs PATH KEY STATIC: RUNS runs of pixie's PATH against nginx serving
# the static copy STATIC, 1 and 20 connections, into R[pixie.KEY.c] and
# R[nginx.KEY.c].
rend_runs() {
	local path=$1 key=$2 static=$3 run c v
	for run in $(seq "$RUNS"); do
		for c in 1 20; do
			v=$(rend "$path" "$c"); R[pixie.$key.$c]+="$v "
			read -r v _ < <(wrkrun "$c" "http://$REF_IP:8080/static/$static"); R[nginx.$key.$c]+="$v "
			log "  run $run $path c=$c: pixie ${R[pixie.$key.$c]} nginx static ${R[nginx.$key.$c]}"
		done
	done
}
rend_runs /ipxe ipxe script.ipxe

# /ignition: restart pixie without tokens (same database)
stop_pid "$PIXIE_PID"
start_pixie "$DATA" --no-ignition-tokens
in_ns "$NS_CLI" curl -sf -o "$WORK/static/ignition.json" "http://$PIX_IP:8080/ignition?mac=$mac1" || die "pixie /ignition failed"
ign_bytes=$(stat -c %s "$WORK/static/ignition.json")
rend_runs /ignition ign ignition.json

nv=$(nginx -v 2>&1 | sed 's/.*nginx\///')
table=$(
	echo "| HTTP images (wrk, keep-alive, MB/s) | pixie | nginx $nv | pixie/nginx |"
	echo "| --- | ---: | ---: | ---: |"
	for f in 100M 1G; do for c in 1 20; do
		p=$(med "${R[pixie.$f.$c]}"); n=$(med "${R[nginx.$f.$c]}")
		echo "| $f file, $c client(s) | $p | $n | $(ratio "$p" "$n") |"
	done; done
	echo
	echo "| Rendering (wrk, req/s, $MACHINES machines, MACs in rotation) | pixie | nginx static copy (ceiling) | pixie/nginx |"
	echo "| --- | ---: | ---: | ---: |"
	for c in 1 20; do
		p=$(med "${R[pixie.ipxe.$c]}"); n=$(med "${R[nginx.ipxe.$c]}")
		echo "| /ipxe?mac=… (tokens on: one minted per script), $c conn(s) | $p | $n | $(ratio "$p" "$n") |"
	done
	for c in 1 20; do
		p=$(med "${R[pixie.ign.$c]}"); n=$(med "${R[nginx.ign.$c]}")
		echo "| /ignition?mac=… (--no-ignition-tokens), $c conn(s) | $p | $n | $(ratio "$p" "$n") |"
	done
	echo
	echo "wrk -d${DUR}s, medians of $RUNS runs alternating pixie / nginx. Script $script_bytes bytes, Ignition config $ign_bytes bytes (default profile)."
)
echo
echo "$table"
[ -n "${RESULTS:-}" ] && { echo; echo "$table"; } >>"$RESULTS"
exit 0
