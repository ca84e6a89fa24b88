#!/usr/bin/env python3
"""Capture the first bytes real TLS clients send (their ClientHello) into
tests/data/sniff/<name>.bin, for test_sniff and the fuzz seed corpus.

    /usr/bin/python3 tests/data/sniff/capture.py

A listener on 127.0.0.1 records what each client writes until it stops
writing, then closes; the clients fail their handshakes, which is fine.
The bytes hold random values, so re-running rewrites different files with
the same structure.  The server name each client was given is in the file
name after "sni-" (test_sniff checks it), "nosni" when it sent none.
"""
import os
import socket
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))

CLIENTS = {
    # openssl s_client defaults: TLS 1.3 with a 1.2 fallback
    "openssl-sni-www.example.com":
        ["openssl", "s_client", "-servername", "www.example.com"],
    # the same without the server_name extension
    "openssl-nosni": ["openssl", "s_client", "-noservername"],
    # TLS 1.2 only, upper-case name (sniffers lower-case it)
    "openssl12-sni-Mixed.Example.ORG":
        ["openssl", "s_client", "-tls1_2", "-servername", "Mixed.Example.ORG"],
    # many extensions: ALPN, OCSP status, custom server-info types
    "openssl-many-sni-a.b.c.d.example.net":
        ["openssl", "s_client", "-servername", "a.b.c.d.example.net",
         "-alpn", "h2,http/1.1,spdy/3.1,acme-tls/1", "-status",
         "-serverinfo", "1000,1001,1002,1003,1004,1005,1006,1007,18",
         "-sigalgs", "ECDSA+SHA256:RSA-PSS+SHA256:RSA+SHA256:ed25519",
         "-groups", "X25519:P-256:P-384:P-521:ffdhe2048"],
    "curl-sni-curl.example.com": None,
}


def listen():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def record(srv, out):
    srv.settimeout(10.0)
    conn, _ = srv.accept()
    conn.settimeout(1.0)
    data = b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    conn.close()
    out.append(data)


def capture(name, argv):
    srv = listen()
    port = srv.getsockname()[1]
    out = []
    t = threading.Thread(target=record, args=(srv, out))
    t.start()
    if argv is None:
        host = name.split("-sni-", 1)[1]
        argv = ["curl", "-sk", "--max-time", "3", "--connect-to",
                f"{host}:443:127.0.0.1:{port}", f"https://{host}/"]
    else:
        argv = argv + ["-connect", f"127.0.0.1:{port}"]
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=10)
    t.join()
    srv.close()
    with open(os.path.join(HERE, name + ".bin"), "wb") as f:
        f.write(out[0])
    print(f"{name}.bin: {len(out[0])} bytes")


for n, a in CLIENTS.items():
    capture(n, a)
