#!/usr/bin/python3
"""Plaintext-relay load for `make bench` scenario 7 (stdlib only).  Each
command runs in its own process (no GIL shared with the driver), is
bounded by --seconds, and prints one JSON line.

  relay.py echo --port P --seconds S
      echo server on 127.0.0.1:P, one thread per connection
  relay.py pingpong --port P --dest D [--raw] --n N --size B --seconds S
      one connection to 127.0.0.1:P carrying a Trojan request (no TLS) for
      127.0.0.1:D (--raw: straight to P, no Trojan header), then N round
      trips of B bytes; prints the round-trip times' p50/p99 in us
  relay.py bulk --port P --dest D [--raw] --path /big.bin --k K [--sha]
      one connection, K keep-alive HTTP/1.1 GETs of path; prints bytes,
      seconds of transfer (first byte of each request to its last) and,
      with --sha, the sha256 of the first body
"""

import argparse
import hashlib
import json
import socket
import struct
import sys
import threading
import time

PASSWORD = "research-trojan-pass"       # harness.TROJAN_PASS


def trojan_header(port):
    key = hashlib.sha224(PASSWORD.encode()).hexdigest().encode()
    return (key + b"\r\n" + b"\x01\x01" + socket.inet_aton("127.0.0.1") +
            struct.pack("!H", port) + b"\r\n")


def connect(a, first):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=a.seconds)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(first if a.raw else trojan_header(a.dest) + first)
    return s


def recv_exact(s, n, buf):
    view = memoryview(buf)[:n]
    got = 0
    while got < n:
        k = s.recv_into(view[got:])
        if k == 0:
            raise EOFError("connection closed after %d of %d bytes" % (got, n))
        got += k


def echo(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(128)
    ls.settimeout(0.5)
    end = time.monotonic() + a.seconds

    def serve(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.settimeout(a.seconds)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def pingpong(a):
    msg = bytes(range(256)) * (a.size // 256 + 1)
    msg = msg[:a.size]
    buf = bytearray(a.size)
    end = time.monotonic() + a.seconds
    s = connect(a, msg)
    recv_exact(s, a.size, buf)          # the first exchange opens the path
    if bytes(buf) != msg:
        raise SystemExit("pingpong: echo differs")
    rtts = []
    t0 = time.perf_counter()
    for _ in range(a.n):
        if time.monotonic() > end:
            break
        t = time.perf_counter_ns()
        s.sendall(msg)
        recv_exact(s, a.size, buf)
        rtts.append(time.perf_counter_ns() - t)
    wall = time.perf_counter() - t0
    s.close()
    if bytes(buf) != msg:
        raise SystemExit("pingpong: echo differs")
    rtts.sort()
    n = len(rtts)
    print(json.dumps({"n": n, "seconds": round(wall, 3),
                      "p50_us": rtts[n // 2] / 1e3 if n else None,
                      "p99_us": rtts[min(n - 1, n * 99 // 100)] / 1e3 if n else None}))


def read_head(s, pending):
    """Read an HTTP response head; returns (content-length, leftover)."""
    while b"\r\n\r\n" not in pending:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed in the response head")
        pending += d
    head, rest = pending.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("bulk: %r" % head[:80])
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v), rest
    raise SystemExit("bulk: no Content-Length")


def bulk(a):
    req = ("GET %s HTTP/1.1\r\nHost: example.test\r\n\r\n" % a.path).encode()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total, secs, sha = 0, 0.0, None
    s = connect(a, req)
    for i in range(a.k):
        if i:
            s.sendall(req)
        t = time.perf_counter()
        length, rest = read_head(s, b"")
        h = hashlib.sha256(rest) if a.sha and i == 0 else None
        got = len(rest)
        while got < length:
            k = s.recv_into(view[:min(len(buf), length - got)])
            if k == 0:
                raise EOFError("closed after %d of %d bytes" % (got, length))
            if h is not None:
                h.update(view[:k])
            got += k
        secs += time.perf_counter() - t
        total += got
        if h is not None:
            sha = h.hexdigest()
    s.close()
    print(json.dumps({"bytes": total, "seconds": round(secs, 4),
                      "sha256": sha}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=("echo", "pingpong", "bulk"))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dest", type=int, default=0)
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--path", default="/big.bin")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--sha", action="store_true")
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    try:
        {"echo": echo, "pingpong": pingpong, "bulk": bulk}[a.cmd](a)
    except (OSError, EOFError) as e:
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)


if __name__ == "__main__":
    main()
