#!/usr/bin/python3
"""Peers for tests/unit/test_observer.c, all on 127.0.0.1, stdlib only.

  http    HTTP/1.1 origin: any path answers 204, "?delay=MS" waits first,
          "/body" answers 200 with a 100000-byte body (Content-Length)
  https   the same behind TLS, certificate for "localhost" from a CA made here
  socks   SOCKS5 proxy (RFC 1928 CONNECT, RFC 1929 user "u" password "p")
  connect HTTP CONNECT proxy (Proxy-Authorization: Basic "u:p" required)
  silent  accepts and never answers
  dead    a port nothing listens on

Prints one JSON line {name: port, ..., "ca": path, "log": path} and serves
until stdin reaches EOF.  Every request and proxy CONNECT is appended to the
log file as one line, so the test can see what reached whom.
"""
import base64
import json
import os
import select
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

DIR = tempfile.mkdtemp(prefix="sluice-obs-peers.")
LOG = os.path.join(DIR, "log")
log_lock = threading.Lock()


def log(line):
    with log_lock, open(LOG, "a") as f:
        f.write(line + "\n")


def make_pki():
    ca_key, ca = os.path.join(DIR, "ca.key"), os.path.join(DIR, "ca.pem")
    key, csr = os.path.join(DIR, "srv.key"), os.path.join(DIR, "srv.csr")
    crt, ext = os.path.join(DIR, "srv.pem"), os.path.join(DIR, "srv.ext")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=sluice test CA", "-keyout", ca_key, "-out", ca)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
        "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt)
    return ca, crt, key


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass    # probes cancelled mid-response are expected


def read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line or line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.decode("latin-1").rstrip("\r\n"))


class Origin(socketserver.StreamRequestHandler):
    scheme = "http"

    def handle(self):
        head = read_head(self.rfile)
        if not head:
            return
        method, target = head[0].split(" ")[:2]
        host = next((h[5:].strip() for h in head
                     if h.lower().startswith("host:")), "")
        log("%s %s %s host=%s" % (self.scheme, method, target, host))
        if "delay=" in target:
            time.sleep(int(target.split("delay=")[1].split("&")[0]) / 1000)
        if target.startswith("/body"):
            body = b"x" * 100000
            resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" \
                b"Connection: close\r\n\r\n" % len(body)
            self.wfile.write(resp + (body if method != "HEAD" else b""))
        else:
            self.wfile.write(b"HTTP/1.1 204 No Content\r\n"
                             b"Connection: close\r\n\r\n")


class TLSServer(Server):
    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True), addr


class TLSOrigin(Origin):
    scheme = "https"


def relay(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class Socks5(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        try:
            ver, n = recv_exact(s, 2)
            methods = recv_exact(s, n)
            if ver != 5 or 2 not in methods:
                s.sendall(b"\x05\xff")
                return
            s.sendall(b"\x05\x02")
            ver, ulen = recv_exact(s, 2)
            user = recv_exact(s, ulen)
            plen = recv_exact(s, 1)[0]
            pw = recv_exact(s, plen)
            if (user, pw) != (b"u", b"p"):
                log("socks auth-failed user=%s" % user.decode())
                s.sendall(b"\x01\x01")
                return
            s.sendall(b"\x01\x00")
            ver, cmd, _, atyp = recv_exact(s, 4)
            if atyp == 1:
                host = socket.inet_ntop(socket.AF_INET, recv_exact(s, 4))
            elif atyp == 4:
                host = socket.inet_ntop(socket.AF_INET6, recv_exact(s, 16))
            else:
                host = recv_exact(s, recv_exact(s, 1)[0]).decode()
            port = struct.unpack("!H", recv_exact(s, 2))[0]
            log("socks connect atyp=%d %s:%d" % (atyp, host, port))
            try:
                up = socket.create_connection((host, port), timeout=5)
            except OSError:
                s.sendall(b"\x05\x05\x00\x01\0\0\0\0\0\0")
                return
            # BND.ADDR as a domain: the client must skip a variable length
            s.sendall(b"\x05\x00\x00\x03\x09localhost" + struct.pack(
                "!H", up.getsockname()[1]))
            relay(s, up)
        except (EOFError, OSError):
            pass


class Connect(socketserver.StreamRequestHandler):
    def handle(self):
        head = read_head(self.rfile)
        if not head:
            return
        method, target = head[0].split(" ")[:2]
        auth = next((h.split(":", 1)[1].strip() for h in head
                     if h.lower().startswith("proxy-authorization:")), "")
        want = "Basic " + base64.b64encode(b"u:p").decode()
        log("connect %s %s auth=%s" % (method, target, auth == want))
        if method != "CONNECT" or auth != want:
            self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required"
                             b"\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        try:
            up = socket.create_connection((host.strip("[]"), int(port)), 5)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        relay(self.request, up)


class Silent(socketserver.BaseRequestHandler):
    def handle(self):
        time.sleep(30)


def serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server.server_address[1]


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ca, crt, key = make_pki()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    ports = {
        "http": serve(Server(("127.0.0.1", 0), Origin)),
        "https": serve(TLSServer(("127.0.0.1", 0), TLSOrigin, ctx)),
        "socks": serve(Server(("127.0.0.1", 0), Socks5)),
        "connect": serve(Server(("127.0.0.1", 0), Connect)),
        "silent": serve(Server(("127.0.0.1", 0), Silent)),
        "dead": dead_port(),
        "ca": ca,
        "log": LOG,
        "dir": DIR,
    }
    open(LOG, "w").close()
    print(json.dumps(ports), flush=True)
    sys.stdin.read()
    for f in os.listdir(DIR):
        os.unlink(os.path.join(DIR, f))
    os.rmdir(DIR)


if __name__ == "__main__":
    main()
