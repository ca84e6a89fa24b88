#!/bin/sh
# demo.sh: what `make run` starts after building.
#
# Creates build/demo/ (a self-signed certificate for "localhost", a random
# VLESS UUID and Trojan password, config.json), starts a decoy web site on
# a free loopback port, prints client settings, then runs sluiced in the
# foreground:
#
#   VLESS  + TLS on 127.0.0.1:$DEMO_VLESS_PORT  (default 8443)
#   Trojan + TLS on 127.0.0.1:$DEMO_TROJAN_PORT (default 8444)
#
# Anything that is not VLESS or Trojan falls back to the decoy site, so
# `curl -k https://127.0.0.1:8443/` shows it.  The decoy speaks HTTP/1.1
# only, so the inbounds offer ALPN "http/1.1" alone (with Xray's default,
# h2 first, a browser would send HTTP/2 to it; a real site adds an
# "alpn": "h2" fallback to an h2c server instead).  Ctrl-C stops sluiced
# and the decoy (only the processes this script started).
set -eu

VLESS_PORT=${DEMO_VLESS_PORT:-8443}
TROJAN_PORT=${DEMO_TROJAN_PORT:-8444}

cd "$(dirname "$0")/.."
TOP=$(pwd)
STATE=$TOP/build/demo
SLUICED=$TOP/build/sluiced
WWW=$TOP/etc/demo-www

decoy_pid=
sluiced_pid=

# shellcheck disable=SC2317	# called from the traps
cleanup() {
	trap - INT TERM EXIT
	if [ -n "$sluiced_pid" ] && kill -0 "$sluiced_pid" 2>/dev/null; then
		kill -TERM "$sluiced_pid" 2>/dev/null || :
		wait "$sluiced_pid" 2>/dev/null || :
	fi
	if [ -n "$decoy_pid" ] && kill -0 "$decoy_pid" 2>/dev/null; then
		kill -TERM "$decoy_pid" 2>/dev/null || :
		wait "$decoy_pid" 2>/dev/null || :
	fi
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

die() {
	echo "demo: $*" >&2
	exit 1
}

for p in "$VLESS_PORT" "$TROJAN_PORT"; do
	case $p in
	''|*[!0-9]*) die "not a port number: $p" ;;
	esac
done
[ -x "$SLUICED" ] || die "$SLUICED is missing; run 'make' (or 'make run') first"
command -v openssl >/dev/null || die "openssl is not installed"
command -v python3 >/dev/null || die "python3 is not installed"

mkdir -p "$STATE"
chmod 700 "$STATE"

# --- certificate: ECDSA P-256, CN and SAN localhost, SAN 127.0.0.1 ---
if [ ! -s "$STATE/cert.pem" ] || [ ! -s "$STATE/key.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 365 -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null ||
	    die "openssl could not create a certificate"
	chmod 600 "$STATE/key.pem"
fi

# --- credentials: new for every run ---
UUID=$(cat /proc/sys/kernel/random/uuid)
PASSWORD=$(openssl rand -hex 16)

# --- the decoy site: python's http.server on a free loopback port ---
DECOY_PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$WWW" "$DECOY_PORT" \
    >"$STATE/decoy.log" 2>&1 &
decoy_pid=$!

# Wait up to 10 s for it to answer.
if ! python3 -c 'import socket, sys, time
end = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        break
    except OSError:
        if time.monotonic() > end:
            sys.exit(1)
        time.sleep(0.1)' "$DECOY_PORT" || ! kill -0 "$decoy_pid" 2>/dev/null
then
	die "the decoy web server did not start on port $DECOY_PORT" \
	    "(see $STATE/decoy.log)"
fi

# --- config.json (Xray JSON; sluice.conf(5)) ---
# inbound TAG PORT PROTOCOL CLIENTS: one TLS inbound falling back to the decoy.
inbound() {
	cat <<EOF
    {
      "tag": "$1",
      "listen": "127.0.0.1",
      "port": $2,
      "protocol": "$3",
      "settings": {
        "clients": [ $4 ],$5
        "fallbacks": [ { "dest": "127.0.0.1:$DECOY_PORT" } ]
      },
      "streamSettings": {
        "network": "tcp",
        "security": "tls",
        "tlsSettings": {
          "certificates": [ { "certificateFile": "$STATE/cert.pem",
                              "keyFile": "$STATE/key.pem" } ],
          "alpn": [ "http/1.1" ]
        }
      }
    }
EOF
}

{
	cat <<EOF
{
  "log": { "access": "", "error": "", "loglevel": "warning" },
  "inbounds": [
EOF
	inbound demo-vless "$VLESS_PORT" vless \
	    "{ \"id\": \"$UUID\", \"email\": \"demo@vless\" }" \
	    ' "decryption": "none",'
	echo "    ,"
	inbound demo-trojan "$TROJAN_PORT" trojan \
	    "{ \"password\": \"$PASSWORD\", \"email\": \"demo@trojan\" }" ""
	cat <<EOF
  ],
  "outbounds": [
    { "tag": "direct", "protocol": "freedom" },
    { "tag": "block", "protocol": "blackhole" }
  ],
  "sluice": {
    "workers": 2,
    "pidFile": "$STATE/sluiced.pid",
    "controlSocket": "$STATE/control.sock",
    "stateDb": "$STATE/sluice.db"
  }
}
EOF
} >"$STATE/config.json"

cat <<EOF

sluice demo
===========
state:   $STATE (config.json, cert.pem, decoy.log)
decoy:   http://127.0.0.1:$DECOY_PORT/ (python3 http.server, $WWW)

VLESS    address 127.0.0.1  port $VLESS_PORT  id $UUID
         encryption none  flow (none)  network tcp  security tls
         sni localhost  allowInsecure (self-signed certificate)
Trojan   address 127.0.0.1  port $TROJAN_PORT  password $PASSWORD
         network tcp  security tls  sni localhost  allowInsecure

share links:
  vless://$UUID@127.0.0.1:$VLESS_PORT?encryption=none&security=tls&sni=localhost&allowInsecure=1&type=tcp#sluice-demo-vless
  trojan://$PASSWORD@127.0.0.1:$TROJAN_PORT?security=tls&sni=localhost&allowInsecure=1&type=tcp#sluice-demo-trojan

anything else gets the decoy site (fallback):
  curl -k https://127.0.0.1:$VLESS_PORT/
  curl -k https://127.0.0.1:$TROJAN_PORT/

Access and error logs follow on this terminal.  Ctrl-C stops the demo.

EOF

# In the background, so that the traps run at once; the traps stop it.
"$SLUICED" -f -c "$STATE/config.json" &
sluiced_pid=$!
status=0
wait "$sluiced_pid" || status=$?
sluiced_pid=
if [ "$status" -ne 0 ]; then
	echo "demo: sluiced exited with status $status" \
	    "(ports in use? set DEMO_VLESS_PORT / DEMO_TROJAN_PORT)" >&2
fi
exit "$status"
