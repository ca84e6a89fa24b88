"""Client-side probes: a TLS client with full control over records and
half-close (ssl.MemoryBIO over a plain socket), a small HTTP/1.x response
parser, and curl / openssl s_client wrappers.  Stdlib only."""

import hashlib
import os
import socket
import ssl
import subprocess
import time

from harness import Deadline, T, clean_env


class Closed(Exception):
    pass


class TLSClient:
    """TLS over a socket we own: each send() is one TLS record (<= 16 KiB),
    shutdown_write() half-closes the TCP stream while reads keep working."""

    def __init__(self, port, ca, sni="example.test", alpn=("http/1.1",),
                 host="127.0.0.1", timeout=None, handshake=True):
        self.timeout = timeout or T(10)
        self.sock = socket.create_connection((host, port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False          # the SNI under test may not be in the cert
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ca)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False,
                                server_hostname=sni or None)
        self.eof = False
        if handshake:
            self.handshake()

    @property
    def src(self):
        return self.sock.getsockname()

    def alpn(self):
        return self.obj.selected_alpn_protocol()

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _feed(self, deadline):
        self.sock.settimeout(max(deadline.left(), 0.001))
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("TLS read timed out")
        except ConnectionResetError:
            d = b""
        if not d:
            self.inc.write_eof()
            raise Closed()
        self.inc.write(d)

    def handshake(self, timeout=None):
        dl = Deadline(timeout or self.timeout)
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                try:
                    self._feed(dl)
                except Closed:
                    raise ConnectionError("connection closed during TLS handshake")

    def send(self, data):
        """One write() == one TLS record (for data <= 16 KiB)."""
        view = memoryview(data)
        while view:
            n = self.obj.write(view[:16384])
            view = view[n:]
            self._flush()

    def send_records(self, chunks):
        """Each chunk one TLS record, all in one TCP write: the server
        reads them together (OpenSSL's read-ahead then holds the rest)."""
        for c in chunks:
            self.obj.write(c)
        self._flush()

    def recv(self, timeout=None):
        """Next chunk of application data; b'' on EOF (close_notify, TCP FIN
        or reset)."""
        dl = Deadline(timeout or self.timeout)
        while True:
            if self.eof:
                return b""
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                try:
                    self._feed(dl)
                except Closed:
                    pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self.eof = True
                return b""
            except ssl.SSLError as e:
                if "EOF" in str(e) or "UNEXPECTED" in str(e):
                    self.eof = True
                    return b""
                raise

    def recv_until_eof(self, timeout=None, limit=1 << 30):
        """All data until EOF.  TimeoutError if the peer keeps the
        connection open past the timeout."""
        dl = Deadline(timeout or self.timeout)
        buf = bytearray()
        while len(buf) < limit:
            try:
                if dl.expired():
                    raise TimeoutError()
                d = self.recv(dl.left() or 0.001)
            except TimeoutError:
                raise TimeoutError("connection still open after %.1fs "
                                   "(%d application bytes received: %r)"
                                   % (timeout or self.timeout, len(buf),
                                      bytes(buf[:80])))
            if not d:
                break
            buf += d
        return bytes(buf)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------- HTTP/1.x

class HttpResponse:
    def __init__(self, status, version, headers, body, raw_headers):
        self.status = status
        self.version = version
        self.headers = headers        # lower-cased name -> value (last wins)
        self.body = body
        self.raw_headers = raw_headers

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<HTTP %s %s %dB>" % (self.version, self.status, len(self.body))


def parse_response(data, eof):
    """HttpResponse if data holds a complete response (by Content-Length, or
    by EOF when there is none), else None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if eof:
            raise ValueError("no HTTP response header in %r" % data[:200])
        return None
    head = data[:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("bad status line %r" % head[0])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = data[end + 4:]
    cl = headers.get("content-length")
    if cl is not None:
        if len(body) < int(cl):
            if eof:
                raise ValueError("truncated body: %d of %s bytes" % (len(body), cl))
            return None
        body = body[:int(cl)]
    elif not eof:
        return None
    return HttpResponse(int(parts[1]), parts[0], headers, body, head)


def read_response(conn, timeout=None):
    """Read one HTTP/1.x response from a TLSClient (or plain socket wrapper
    with the same recv())."""
    dl = Deadline(timeout or T(10))
    buf = b""
    while True:
        if dl.expired():
            raise TimeoutError("incomplete HTTP response after %d bytes: %r"
                               % (len(buf), buf[:200]))
        d = conn.recv(dl.left() or 0.001)
        r = parse_response(buf + d, eof=not d)
        buf += d
        if r is not None:
            return r


def http_request(path="/index.html", host="example.test", version="1.1",
                 close=True, extra=""):
    req = "GET %s HTTP/%s\r\nHost: %s\r\n" % (path, version, host)
    if close:
        req += "Connection: close\r\n"
    return (req + extra + "\r\n").encode()


def https_get(env, port, path="/index.html", sni="example.test",
              alpn=("http/1.1",), timeout=None):
    """(response, client source port) for one GET over a fresh connection."""
    with TLSClient(port, env.pki["ca"], sni=sni, alpn=alpn,
                   timeout=timeout) as c:
        c.send(http_request(path))
        return read_response(c, timeout), c.src[1]


# ---------------------------------------------------------------- curl

class CurlResult:
    def __init__(self, rc, status, version, headers, body, stderr):
        self.rc, self.status, self.version = rc, status, version
        self.headers, self.body, self.stderr = headers, body, stderr

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return ("<curl rc=%d status=%s http=%s %dB stderr=%r>"
                % (self.rc, self.status, self.version, len(self.body),
                   self.stderr.strip()[-300:]))


_curl_n = [0]


def curl(env, url, args=(), timeout=30):
    """Run curl; returns CurlResult (headers of the last response)."""
    _curl_n[0] += 1
    base = os.path.join(env.dir, "curl-%d" % _curl_n[0])
    argv = ["curl", "-sS", "-m", str(int(timeout)), "-D", base + ".h",
            "-o", base + ".b", "-w", "%{http_code} %{http_version}"] + \
        list(args) + [url]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout + 10,
                           env=clean_env())
    except subprocess.TimeoutExpired:
        return CurlResult(-1, 0, "", {}, b"", "curl did not exit")
    status, _, version = r.stdout.decode().partition(" ")
    headers = {}
    try:
        with open(base + ".h", "rb") as f:
            for line in f.read().decode("latin-1").split("\r\n"):
                if line.startswith("HTTP/"):
                    headers = {}
                k, sep, v = line.partition(":")
                if sep:
                    headers[k.strip().lower()] = v.strip()
        with open(base + ".b", "rb") as f:
            body = f.read()
    except OSError:
        body = b""
    for ext in (".h", ".b"):
        try:
            os.unlink(base + ext)
        except OSError:
            pass
    return CurlResult(r.returncode, int(status or 0), version.strip(),
                      headers, body, r.stderr.decode("utf-8", "replace"))


def curl_tls_args(env, port, host="example.test"):
    return ["--cacert", env.pki["ca"], "--resolve",
            "%s:%d:127.0.0.1" % (host, port)]


def curl_https(env, port, path="/index.html", http="1.1", host="example.test",
               timeout=None, extra=()):
    args = curl_tls_args(env, port, host) + ["--http" + http] + list(extra)
    return curl(env, "https://%s:%d%s" % (host, port, path), args,
                timeout=timeout or T(20))


def curl_sha256(env, url, args=(), timeout=120, on_chunk=None):
    """Stream a download through sha256 without storing it.  on_chunk(size)
    runs after every chunk read (while it runs, curl and the transfer
    stall).  Returns (curl exit status, hex digest, size, stderr)."""
    _curl_n[0] += 1
    errpath = os.path.join(env.dir, "curl-%d.err" % _curl_n[0])
    argv = ["curl", "-sS", "-m", str(int(timeout)), "-o", "-"] + list(args) + [url]
    h = hashlib.sha256()
    size = 0
    with open(errpath, "wb") as err:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err,
                             env=clean_env())
        try:
            while True:
                chunk = p.stdout.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                size += len(chunk)
                if on_chunk is not None:
                    on_chunk(size)
            rc = p.wait(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            p.stdout.close()
    with open(errpath, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    return rc, h.hexdigest(), size, stderr


def s_client(env, port, request, sni="example.test", alpn="http/1.1",
             timeout=None):
    """openssl s_client with chain verification; returns (rc, stdout, stderr).
    -ign_eof keeps it reading after stdin ends."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", sni, "-CAfile", env.pki["ca"],
            "-verify_return_error", "-verify_hostname", "example.test",
            "-ign_eof", "-quiet"]
    if alpn:
        argv += ["-alpn", alpn]
    r = subprocess.run(argv, input=request, capture_output=True,
                       timeout=timeout or T(20), env=clean_env())
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def raw_connect(port, timeout=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout or T(10))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def wait_closed(sock, timeout):
    """Read raw bytes until the peer closes.  Returns (bytes, seconds);
    TimeoutError if still open after timeout."""
    t0 = time.monotonic()
    dl = Deadline(timeout)
    buf = b""
    while True:
        if dl.expired():
            raise TimeoutError("connection still open after %.1fs (%d bytes read)"
                               % (timeout, len(buf)))
        sock.settimeout(max(dl.left(), 0.01))
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            d = b""
        if not d:
            return buf, time.monotonic() - t0
        buf += d


def socks5_connect(socks_port, host, port, timeout=None):
    """A plain socket tunnelled through a no-auth SOCKS5 proxy to host:port
    (host sent as IPv4 if it is one, else as a domain name)."""
    s = raw_connect(socks_port, timeout)
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise ConnectionError("SOCKS5 method refused")
    try:
        addr = b"\x01" + socket.inet_aton(host)
    except OSError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    s.sendall(b"\x05\x01\x00" + addr + port.to_bytes(2, "big"))
    head = recv_exact(s, 4)
    if head[1] != 0:
        raise ConnectionError("SOCKS5 connect failed: reply %d" % head[1])
    skip = {1: 4, 4: 16}.get(head[3])
    if skip is None:
        skip = recv_exact(s, 1)[0]
    recv_exact(s, skip + 2)
    return s


def recv_exact(s, n):
    """Exactly n bytes from socket s; ConnectionError if it closes first."""
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf
