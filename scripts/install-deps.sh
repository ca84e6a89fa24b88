#!/bin/sh
# Install the Debian packages sluice needs. Idempotent: installs only what is missing.
#   install-deps.sh          build + run (make, make run)
#   install-deps.sh --test   also the test peers and tools (make test)
#   install-deps.sh --bench  the peers and load tools of make bench
set -e
# clang and libbpf-dev build the eBPF sockmap relay; make BPF=0 needs neither.
BUILD="build-essential pkg-config libssl-dev libconfig-dev libjson-c-dev libc-ares-dev openssl
       libpcre2-dev libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev clang libbpf-dev"
RUN="nginx python3 curl"
# systemd (systemd-analyze verify), logrotate and sysvinit-utils (LSB init
# functions) for tests/integ/test_ops.py.
# BENCH: the load tools and peers of make bench (scripts/bench/); make test
# runs a short smoke of it, so --test has them too.
BENCH="wrk hyperfine gnuplot-nox openssl curl v2ray trojan nginx libnginx-mod-stream haproxy
       python3 iproute2 procps"
TEST="libcmocka-dev clang llvm valgrind v2ray trojan nginx libnginx-mod-stream haproxy curl socat
      python3 iproute2 procps psmisc mandoc systemd logrotate sysvinit-utils $BENCH"
want="$BUILD $RUN"
[ "${1:-}" = "--test" ] && want="$BUILD $TEST"
[ "${1:-}" = "--bench" ] && want="$BUILD $BENCH"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's postinst would start nginx/haproxy on their default ports; sluice
# starts every peer itself, so keep the package scripts from starting daemons.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends $missing
