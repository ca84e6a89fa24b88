#!/bin/sh
# make bench-route: routing lookup speed and memory on the real geodata.
#   1. build/bench/bench_route: ns per domain lookup (geosite CN of
#      geosite-cn-gfw.dat), ns per IP lookup (geoip CN), image bytes per
#      domain entry, compile time of the full geodata;
#   2. memory of sluiced with that geodata loaded: master + 1 worker and
#      master + 4 workers (RSS and PSS from /proc/PID/smaps_rollup).
# Everything listens on 127.0.0.1 and is stopped by pid.  Asserts nothing.
set -eu
cd "$(dirname "$0")/../.."
. scripts/geodata.sh
G=${SLUICE_GEODATA:-}
[ -n "$G" ] && [ -d "$G/dat" ] || { echo "bench-route: no geodata (set SLUICE_GEODATA)" >&2; exit 1; }

echo "== lookups (build/bench/bench_route $G)"
build/bench/bench_route "$G"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$TMP/bench.json" <<JSON
{ "log": { "loglevel": "warning", "access": "none", "error": "$TMP/error.log" },
  "sluice": { "assetDir": "$G/dat", "pidFile": "$TMP/pid" },
  "inbounds": [ { "tag": "in", "listen": "127.0.0.1", "port": $PORT,
    "protocol": "vless", "settings": { "decryption": "none",
    "clients": [ { "id": "b831381d-6324-4d53-ad4f-8cda48b30811" } ] } } ],
  "outbounds": [ { "tag": "direct", "protocol": "freedom" },
                 { "tag": "block", "protocol": "blackhole" } ],
  "routing": { "rules": [
    { "domain": ["ext:geosite-cn-gfw.dat:gfw"], "outboundTag": "block" },
    { "domain": ["ext:geosite-cn-gfw.dat:cn"], "outboundTag": "direct" },
    { "ip": ["ext:geoip-cn.dat:cn"], "outboundTag": "direct" } ] } }
JSON

mem() {	# pid... -> "rss_kb pss_kb"
	for p in "$@"; do
		awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { print r, p }' \
		    "/proc/$p/smaps_rollup"
	done | awk '{ r += $1; p += $2 } END { print r, p }'
}

echo "== memory (sluiced with geosite CN+GFW and geoip CN loaded)"
for w in 1 4; do
	build/sluiced -f -c "$TMP/bench.json" -w "$w" 2>"$TMP/stderr" &
	pid=$!
	i=0
	while [ "$(cat /proc/$pid/task/*/children 2>/dev/null | wc -w)" -lt "$w" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 1
	kids=$(cat /proc/$pid/task/*/children)
	m=$(mem $pid)
	# the table image mapping: shared by all, private to none
	img=$(for p in $pid $kids; do
		awk '/sluice-image/ { on = 1; next } /^[0-9a-f]+-/ { on = 0 }
		    on && /^(Rss|Pss|Private_Clean|Private_Dirty):/ { v[$1] += $2 }
		    END { printf "%d %d %d\n", v["Rss:"], v["Pss:"],
		    v["Private_Clean:"] + v["Private_Dirty:"] }' "/proc/$p/smaps"
	done | awk '{ r += $1; p += $2; q += $3 } END { print r, p, q }')
	set -- $(mem $pid $kids) $img
	echo "workers=$w: master+workers RSS ${1} kB, PSS ${2} kB (master alone: RSS/PSS ${m% *}/${m#* } kB); table image mappings: RSS ${3} kB, PSS ${4} kB, private ${5} kB"
	kill -TERM $pid
	wait $pid || true
done
