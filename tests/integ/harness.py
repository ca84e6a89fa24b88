"""Integration-test harness for sluiced (stdlib only; run with /usr/bin/python3).

One Env per test run: a world-readable temporary directory, a test CA with an
ECDSA P-256 certificate for example.test, and the peers every test shares
(nginx web backends; haproxy and socat for the abstract-socket destinations,
started on first use).  Each test class starts its own sluiced with its own
Xray JSON config (Daemon) and, where needed, its own v2ray / trojan-gfw
clients.

Process rules: every process is started by Proc under setsid, so its process
group is its own pid; stopping kills exactly that group.  Nothing is ever
killed by name.  Every wait is bounded (deadline loops, subprocess timeouts).

Environment:
  SLUICED, SLUICECTL         binaries under test (default build/sluiced, build/sluicectl)
  SLUICE_INTEG_SCALE         multiply every timeout (default 1, 3 when the binary
                             path contains "san")
  SLUICE_INTEG_KEEP=1        keep the temporary directory (logs, configs)
"""

import atexit
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

VLESS_UUID = "27848739-7e62-4138-9fd3-098a63964b6b"
VLESS_EMAIL = "a@test"
TROJAN_PASS = "research-trojan-pass"
TROJAN_EMAIL = "t@test"

SAN_PATTERNS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "[alert]")


def _binary(var, default):
    p = os.environ.get(var) or default
    return p if os.path.isabs(p) else os.path.join(REPO, p)


SLUICED = _binary("SLUICED", "build/sluiced")
SLUICECTL = _binary("SLUICECTL",
                    os.path.join(os.path.dirname(SLUICED), "sluicectl"))


def _scale():
    s = os.environ.get("SLUICE_INTEG_SCALE")
    if s:
        return float(s)
    return 3.0 if "san" in os.path.basename(os.path.dirname(SLUICED)) else 1.0


SCALE = _scale()


def T(seconds):
    """A timeout scaled for slow (sanitizer) builds."""
    return seconds * SCALE


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def poll(pred, timeout, interval=0.05, what="condition"):
    """Call pred() until it returns a true value; return it.  AssertionError
    after timeout seconds."""
    d = Deadline(timeout)
    while True:
        v = pred()
        if v:
            return v
        if d.expired():
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(min(interval, max(d.left(), 0.001)))


def clean_env(extra=None):
    """os.environ without proxy variables (curl must not use them)."""
    e = {k: v for k, v in os.environ.items()
         if k.lower() not in ("http_proxy", "https_proxy", "all_proxy",
                              "no_proxy", "socks_proxy")}
    if extra:
        e.update(extra)
    return e


# ---------------------------------------------------------------- processes

class Proc:
    """A child started under setsid (pgid == pid); stop() kills that group."""
    registry = []
    _lock = threading.Lock()

    def __init__(self, name, argv, logdir, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = os.path.join(logdir, name + ".out")
        self._out = open(self.log, "ab")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                  stdout=self._out, stderr=subprocess.STDOUT,
                                  start_new_session=True, cwd=cwd,
                                  env=env if env is not None else clean_env())
        self.pid = self.p.pid
        with Proc._lock:
            Proc.registry.append(self)

    def alive(self):
        return self.p.poll() is None

    def output(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, sig=signal.SIGTERM, grace=5.0):
        """Signal the group, wait up to grace seconds, then SIGKILL it.
        Returns the leader's exit status."""
        if self.p.poll() is None:
            self.signal_group(sig)
            if self.wait(grace) is None:
                self.signal_group(signal.SIGKILL)
                self.wait(5)
        # members that outlived the leader (forked workers) go too; the
        # kernel does not reuse a pid that is still some group's id.
        self.signal_group(signal.SIGKILL)
        with Proc._lock:
            if self in Proc.registry:
                Proc.registry.remove(self)
        try:
            self._out.close()
        except OSError:
            pass
        return self.p.returncode

    @classmethod
    def stop_all(cls):
        for p in list(cls.registry)[::-1]:
            try:
                p.stop(grace=2)
            except Exception:
                pass


atexit.register(Proc.stop_all)


def run(argv, timeout, **kw):
    """subprocess.run with a bound, text output, clean env."""
    kw.setdefault("env", clean_env())
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          timeout=timeout, **kw)


# ---------------------------------------------------------------- network

class Ports:
    """Free loopback TCP ports, never handed out twice in one run.  They are
    taken below the kernel's ephemeral range, so that no client socket's
    source port can occupy one between allocation and the server's bind."""

    def __init__(self):
        self.used = set()
        self.rng = random.Random()
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
                lo = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            lo = 32768
        self.range = (10000, lo - 1) if lo > 12000 else (lo // 2, lo - 1)

    def get(self):
        for _ in range(500):
            port = self.rng.randint(*self.range)
            if port in self.used:
                continue
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                s.close()
            self.used.add(port)
            return port
        raise RuntimeError("no free port")


def can_connect(addr, family=socket.AF_INET, timeout=0.5):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


def abstract_addr(name, padded=False):
    """AF_UNIX address bytes for an abstract name: exact length, or padded
    with NULs to the full 108-byte sun_path (haproxy's abns@ form)."""
    raw = b"\0" + name.encode()
    return raw + b"\0" * (108 - len(raw)) if padded else raw


def wait_tcp(port, timeout, proc=None, host="127.0.0.1"):
    def ok():
        if proc is not None and not proc.alive():
            raise AssertionError("%s exited (status %s) before port %d opened:\n%s"
                                 % (proc.name, proc.p.returncode, port,
                                    tail(proc.output())))
        return can_connect((host, port))
    poll(ok, timeout, what="127.0.0.1:%d to accept" % port)


def tail(text, n=30):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------- PKI

def make_pki(d):
    os.makedirs(d, exist_ok=True)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr = os.path.join(d, "server.key"), os.path.join(d, "server.csr")
    crt, ext = os.path.join(d, "server.crt"), os.path.join(d, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["openssl", "req", "-x509"] + ec + ["-days", "30", "-keyout", ca_key,
         "-out", ca_crt, "-subj", "/CN=sluice integ CA"],
        ["openssl", "req"] + ec + ["-keyout", key, "-out", csr,
                                   "-subj", "/CN=example.test"],
    ]
    for argv in steps:
        r = run(argv, 30)
        if r.returncode:
            raise RuntimeError("openssl failed: %s" % r.stderr.decode())
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:example.test,DNS:localhost,"
                "IP:127.0.0.1,IP:::1\n")
    r = run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey",
             ca_key, "-CAcreateserial", "-days", "30", "-extfile", ext,
             "-out", crt], 30)
    if r.returncode:
        raise RuntimeError("openssl x509 failed: %s" % r.stderr.decode())
    pem = os.path.join(d, "server.pem")
    with open(pem, "w") as out:
        for p in (crt, key):
            with open(p) as f:
                out.write(f.read())
    for p in os.listdir(d):
        os.chmod(os.path.join(d, p), 0o644)
    return {"ca": ca_crt, "cert": crt, "key": key, "pem": pem}


# ---------------------------------------------------------------- peers

INDEX_HTML = (b"<!doctype html>\n<html><head><title>sluice integ</title></head>\n"
              b"<body><p>sluice integration test backend page</p></body></html>\n")
BIG_SIZE = 100 * 1024 * 1024

# Named nginx backends: every response carries "X-Backend: <name>", so a test
# can tell which fallback destination answered.
BACKENDS = ("web", "alt", "name1", "name2", "abs", "padded")


def write_random(path, size):
    """A file of SIZE random bytes, world-readable; its sha256 (hex)."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    os.chmod(path, 0o644)
    return h.hexdigest()


def nginx_conf(d, http, servers, connections=4096):
    """An nginx.conf for a prefix d (logs/ and tmp/ in it): the http block
    holds the directives http and then servers."""
    return """
daemon off;
master_process on;
user www-data;
worker_processes 2;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections %(c)d; }
http {%(http)s
    client_body_temp_path %(d)s/tmp/body;
    proxy_temp_path %(d)s/tmp/proxy;
    fastcgi_temp_path %(d)s/tmp/fastcgi;
    uwsgi_temp_path %(d)s/tmp/uwsgi;
    scgi_temp_path %(d)s/tmp/scgi;
%(servers)s
}
""" % {"d": d, "c": connections, "http": http, "servers": servers}


class Nginx:
    def __init__(self, env):
        self.env = env
        self.dir = os.path.join(env.dir, "nginx")
        for sub in ("", "logs", "tmp"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.port = {name: env.ports.get() for name in BACKENDS}
        self.port["pp"] = env.ports.get()
        self.port["h2c"] = env.ports.get()
        self.unix = os.path.join(env.dir, "web.sock")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(self._config())
        r = run(["nginx", "-t", "-p", self.dir, "-c", self.conf,
                 "-e", self.logpath("error")], 30)
        if r.returncode:
            raise RuntimeError("nginx -t: %s" % r.stderr.decode())
        self.proc = Proc("nginx", ["nginx", "-p", self.dir, "-c", self.conf,
                                   "-e", self.logpath("error")], env.dir)
        for p in self.port.values():
            wait_tcp(p, T(15), self.proc)
        poll(lambda: can_connect(self.unix, socket.AF_UNIX), T(15),
             what="nginx unix socket")

    def logpath(self, name):
        return os.path.join(self.dir, "logs", name + ".log")

    def _server(self, name, listen, extra=""):
        return """
    server {
        listen %s;
        server_name example.test;
        root %s;
        add_header X-Backend %s always;
        access_log %s tlog;
        %s
    }""" % (listen, self.env.www, name, self.logpath(name), extra)

    def _config(self):
        d = self.dir
        servers = [self._server(n, "127.0.0.1:%d" % self.port[n])
                   for n in BACKENDS]
        servers.append(self._server(
            "pp", "127.0.0.1:%d proxy_protocol" % self.port["pp"],
            "add_header X-Proxy-Client "
            "$proxy_protocol_addr:$proxy_protocol_port always;"))
        servers.append(self._server("h2c", "127.0.0.1:%d http2" % self.port["h2c"]))
        servers.append(self._server("unix", "unix:%s" % self.unix))
        return nginx_conf(d, """
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    log_format tlog '$remote_addr:$remote_port pp=$proxy_protocol_addr:$proxy_protocol_port '
                    '"$request" $status $body_bytes_sent $server_protocol';
    sendfile on;
    keepalive_timeout 60s;""", "\n".join(servers))

    def access_lines(self, name):
        try:
            with open(self.logpath(name)) as f:
                return f.read().splitlines()
        except OSError:
            return []


class Haproxy:
    """mode tcp, bind abns@NAME (padded abstract socket) -> nginx 'padded'."""

    def __init__(self, env, name, target_port):
        self.name = name
        cfg = os.path.join(env.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""global
    maxconn 2000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe_abns
    bind abns@%s
    default_backend be_web
backend be_web
    server web 127.0.0.1:%d
""" % (name, target_port))
        self.proc = Proc("haproxy", ["haproxy", "-db", "-f", cfg], env.dir)
        poll(lambda: self._ready(), T(15), what="haproxy abns@ listener")

    def _ready(self):
        if not self.proc.alive():
            raise AssertionError("haproxy exited:\n" + tail(self.proc.output()))
        return can_connect(abstract_addr(self.name, padded=True), socket.AF_UNIX)


class AbstractRelay:
    """socat: exact-length abstract socket @NAME -> nginx 'abs'."""

    def __init__(self, env, name, target_port):
        self.name = name
        self.proc = Proc("socat-abs", [
            "socat", "ABSTRACT-LISTEN:%s,fork,backlog=512" % name,
            "TCP:127.0.0.1:%d" % target_port], env.dir)

        def ready():
            if not self.proc.alive():
                raise AssertionError("socat exited:\n" + tail(self.proc.output()))
            return can_connect(abstract_addr(name), socket.AF_UNIX)
        poll(ready, T(15), what="socat abstract listener")


class Listener:
    """A TCP listener on 127.0.0.1:port whose thread hands every accepted
    connection to self.accepted(conn, peer).  A subclass sets up its own
    state before calling __init__: the first connection may come at once."""

    def __init__(self, port, backlog):
        self.port = port
        self.stopping = False
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(backlog)
        self.ls.settimeout(0.2)
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, peer = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted(c, peer)

    def accepted(self, conn, peer):
        raise NotImplementedError

    @staticmethod
    def spawn(fn, *args):
        """fn(*args) in a daemon thread: one per connection."""
        threading.Thread(target=fn, args=args, daemon=True).start()

    def close(self):
        self.stopping = True
        self.ls.close()
        self.t.join(2)

    stop = close


class Recorder(Listener):
    """TCP backend that records exactly the bytes each connection sent it.
    reply: bytes sent back as soon as a connection is accepted (default none)."""

    def __init__(self, ports, reply=b""):
        self.reply = reply
        self.lock = threading.Lock()
        self.conns = []          # dicts: peer, data (bytearray), eof (bool)
        super().__init__(ports.get(), 256)

    def accepted(self, c, peer):
        rec = {"peer": peer, "data": bytearray(), "eof": False}
        with self.lock:
            self.conns.append(rec)
        self.spawn(self._serve, c, rec)

    def _serve(self, c, rec):
        c.settimeout(0.2)
        try:
            if self.reply:
                c.sendall(self.reply)
            while not self.stopping:
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    break
                with self.lock:
                    rec["data"] += d
        except OSError:
            pass
        finally:
            rec["eof"] = True
            c.close()

    def count(self):
        with self.lock:
            return len(self.conns)

    def expect(self, index, sent, timeout, what="data"):
        """Wait until connection number `index` holds len(sent) bytes (or has
        ended) and raise AssertionError unless it holds exactly `sent`."""
        def ready():
            with self.lock:
                if len(self.conns) > index:
                    c = self.conns[index]
                    if len(c["data"]) >= len(sent) or c["eof"]:
                        return c
            return None
        c = poll(ready, timeout, what="%s: %d bytes at the backend"
                 % (what, len(sent)))
        with self.lock:
            data = bytes(c["data"])
        if data != sent:
            n = min(len(data), len(sent))
            i = next((k for k in range(n) if data[k] != sent[k]), n)
            raise AssertionError(
                "%s: backend got %d bytes, sent %d; first difference at byte "
                "%d: got %r, sent %r" % (what, len(data), len(sent), i,
                                         data[i:i + 16], sent[i:i + 16]))

    def snapshot(self):
        with self.lock:
            return [{"peer": r["peer"], "data": bytes(r["data"]), "eof": r["eof"]}
                    for r in self.conns]


class V2rayClient:
    """v2ray 4.34 as a client: one socks inbound per route.
    routes: list of (protocol, server_port) with protocol 'vless' or 'trojan'
    (the harness's user), or of outbound dicts (e.g. from links.py).
    self.socks[i] is the socks port for routes[i]."""

    def __init__(self, env, routes, name="v2ray-client"):
        self.dir = os.path.join(env.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        tls = {"serverName": "example.test", "disableSystemRoot": True,
               "alpn": ["http/1.1"],
               "certificates": [{"certificateFile": env.pki["ca"],
                                 "usage": "verify"}]}
        inbounds, outbounds, rules, self.socks = [], [], [], []
        for i, route in enumerate(routes):
            sp = env.ports.get()
            self.socks.append(sp)
            inbounds.append({"tag": "socks%d" % i, "listen": "127.0.0.1",
                             "port": sp, "protocol": "socks",
                             "settings": {"auth": "noauth", "udp": False}})
            if isinstance(route, dict):
                outbounds.append(dict(route, tag="out%d" % i))
                rules.append({"type": "field", "inboundTag": ["socks%d" % i],
                              "outboundTag": "out%d" % i})
                continue
            proto, port = route
            if proto == "vless":
                settings = {"vnext": [{"address": "127.0.0.1", "port": port,
                                       "users": [{"id": VLESS_UUID,
                                                  "encryption": "none"}]}]}
            elif proto == "trojan":
                settings = {"servers": [{"address": "127.0.0.1", "port": port,
                                         "password": TROJAN_PASS}]}
            else:
                raise ValueError(proto)
            outbounds.append({"tag": "out%d" % i, "protocol": proto,
                              "settings": settings,
                              "streamSettings": {"network": "tcp",
                                                 "security": "tls",
                                                 "tlsSettings": tls}})
            rules.append({"type": "field", "inboundTag": ["socks%d" % i],
                          "outboundTag": "out%d" % i})
        cfg = {"log": {"loglevel": "warning",
                       "error": os.path.join(self.dir, "error.log"),
                       "access": os.path.join(self.dir, "access.log")},
               "inbounds": inbounds, "outbounds": outbounds,
               "routing": {"rules": rules}}
        self.conf = os.path.join(self.dir, "config.json")
        with open(self.conf, "w") as f:
            json.dump(cfg, f, indent=1)
        self.proc = Proc(name, ["v2ray", "-config", self.conf], env.dir)
        for p in self.socks:
            wait_tcp(p, T(20), self.proc)

    def stop(self):
        self.proc.stop()


class TrojanClient:
    """trojan-gfw 1.16 in client mode: a socks port tunnelled to server_port."""

    def __init__(self, env, server_port, name="trojan-client"):
        self.socks = env.ports.get()
        cfg = {
            "run_type": "client",
            "local_addr": "127.0.0.1", "local_port": self.socks,
            "remote_addr": "127.0.0.1", "remote_port": server_port,
            "password": [TROJAN_PASS],
            "log_level": 1,
            "ssl": {"verify": True, "verify_hostname": True,
                    "cert": env.pki["ca"], "sni": "example.test",
                    "alpn": ["http/1.1"], "reuse_session": True,
                    "session_ticket": False, "curves": ""},
            "tcp": {"no_delay": True, "keep_alive": True, "reuse_port": False,
                    "fast_open": False, "fast_open_qlen": 20},
        }
        self.conf = os.path.join(env.dir, name + ".json")
        with open(self.conf, "w") as f:
            json.dump(cfg, f, indent=1)
        self.proc = Proc(name, ["trojan", "-c", self.conf], env.dir)
        wait_tcp(self.socks, T(20), self.proc)

    def stop(self):
        self.proc.stop()


# ---------------------------------------------------------------- Env

class Env:
    _instance = None

    _error = None

    @classmethod
    def get(cls):
        """The run's Env, made on first use.  A failure to build it is
        remembered and re-raised for every later test."""
        if cls._error is not None:
            raise RuntimeError("test environment unavailable: %s" % cls._error)
        if cls._instance is None:
            try:
                cls._instance = Env()
            except Exception as e:
                cls._error = "%s: %s" % (type(e).__name__, e)
                raise
        return cls._instance

    @classmethod
    def shutdown(cls, failed=False):
        """Stop the peers; returns the kept directory (failures, or
        SLUICE_INTEG_KEEP=1), else None."""
        kept = None
        if cls._instance is not None:
            kept = cls._instance.close(failed)
            cls._instance = None
        return kept

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-integ-")
        os.chmod(self.dir, 0o755)       # nginx workers run as www-data
        self.nginx = self._haproxy = self._abs = None
        try:
            self._setup()
        except BaseException:
            self.close(failed=True)
            raise

    def _setup(self):
        self.ports = Ports()
        self.pki = make_pki(os.path.join(self.dir, "pki"))
        self.www = os.path.join(self.dir, "www")
        os.makedirs(self.www)
        os.chmod(self.www, 0o755)
        self._write("index.html", INDEX_HTML)
        for name in ("pp", "pp2", "unix", "abs", "padded"):
            self._write(name, ("backend file /%s\n" % name).encode())
        self.big_sha256 = self._make_big()
        self.tag = "sluice-integ-%d" % os.getpid()
        self.daemons = 0
        self.nginx = Nginx(self)

    def _write(self, name, data):
        p = os.path.join(self.www, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o644)

    def _make_big(self):
        return write_random(os.path.join(self.www, "big.bin"), BIG_SIZE)

    def padded_name(self):
        """Name X such that dest "@@X" reaches nginx 'padded' via haproxy."""
        if self._haproxy is None:
            if not shutil.which("haproxy"):
                raise unittest.SkipTest("haproxy not installed")
            self._haproxy = Haproxy(self, self.tag + "-pad",
                                    self.nginx.port["padded"])
        return self._haproxy.name

    def abstract_name(self):
        """Name X such that dest "@X" reaches nginx 'abs' via socat."""
        if self._abs is None:
            if not shutil.which("socat"):
                raise unittest.SkipTest("socat not installed")
            self._abs = AbstractRelay(self, self.tag + "-abs",
                                      self.nginx.port["abs"])
        return self._abs.name

    def close(self, failed=False):
        for peer in (self._abs, self._haproxy):
            if peer is not None:
                peer.proc.stop()
        if self.nginx is not None:
            self.nginx.proc.stop(signal.SIGQUIT, grace=5)
        Proc.stop_all()
        if os.environ.get("SLUICE_INTEG_KEEP") == "1" or failed:
            try:
                os.unlink(os.path.join(self.dir, "www", "big.bin"))
            except OSError:
                pass
            return self.dir
        shutil.rmtree(self.dir, ignore_errors=True)
        return None


# ---------------------------------------------------------------- sluiced config

def tls_settings(env, alpn=("h2", "http/1.1")):
    s = {"certificates": [{"certificateFile": env.pki["cert"],
                           "keyFile": env.pki["key"]}]}
    if alpn is not None:
        s["alpn"] = list(alpn)
    return s


def vless_inbound(env, tag, port, fallbacks=None, alpn=("h2", "http/1.1")):
    settings = {"clients": [{"id": VLESS_UUID, "email": VLESS_EMAIL}],
                "decryption": "none"}
    if fallbacks is not None:
        settings["fallbacks"] = fallbacks
    return {"protocol": "vless", "listen": "127.0.0.1", "port": port,
            "tag": tag, "settings": settings,
            "streamSettings": {"network": "tcp", "security": "tls",
                               "tlsSettings": tls_settings(env, alpn)}}


def trojan_inbound(env, tag, port, fallbacks=None, tls=True,
                   accept_proxy=False, alpn=("http/1.1",)):
    settings = {"clients": [{"password": TROJAN_PASS, "email": TROJAN_EMAIL}]}
    if fallbacks is not None:
        settings["fallbacks"] = fallbacks
    stream = {"network": "tcp", "security": "tls" if tls else "none"}
    if tls:
        stream["tlsSettings"] = tls_settings(env, alpn)
    if accept_proxy:
        stream["tcpSettings"] = {"acceptProxyProtocol": True}
    return {"protocol": "trojan", "listen": "127.0.0.1", "port": port,
            "tag": tag, "settings": settings, "streamSettings": stream}


def outbounds(allow_private=True):
    freedom = {"protocol": "freedom", "tag": "direct", "settings": {}}
    if allow_private:
        freedom["settings"]["finalRules"] = [
            {"action": "allow", "ip": ["127.0.0.0/8", "::1/128"]}]
    return [freedom, {"protocol": "blackhole", "tag": "block"}]


# ---------------------------------------------------------------- daemon

ACCEPTED_RE = (r"(?:from )?(?P<src>\S+):(?P<sport>\d+) accepted "
               r"tcp:(?P<host>[^\s\[]+):(?P<port>\d+) \[(?P<inb>[^\]\s]+)"
               r" >> (?P<outb>[^\]\s]+)\](?: email: (?P<email>\S+))?")
FALLBACK_RE = (r"from (?P<src>\S+):(?P<sport>\d+) fallback (?P<dest>\S+) "
               r"\[(?P<inb>[^\]]+)\]")
REJECTED_RE = r"from (?P<src>\S+?)(?::(?P<sport>\d+))? rejected \[(?P<inb>[^\]]+)\]"


def line_of(m):
    """The whole log line a regex match lies in."""
    s = m.string
    end = s.find("\n", m.start())
    return s[s.rfind("\n", 0, m.start()) + 1:end if end >= 0 else len(s)]


class Daemon:
    """One sluiced master (foreground) with a config written to its own dir."""

    def __init__(self, env, name, inbounds, outbounds_=None, handshake=None,
                 workers=2):
        env.daemons += 1
        self.env = env
        self.name = name
        self.dir = os.path.join(env.dir, "%s-%d" % (name, env.daemons))
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "config.json")
        self.pidfile = os.path.join(self.dir, "sluiced.pid")
        self.control = os.path.join(self.dir, "control.sock")
        self.state_db = os.path.join(self.dir, "sluice.db")
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        self.workers = workers
        self.config = {
            "log": {"loglevel": "info", "access": self.access_log,
                    "error": self.error_log},
            "inbounds": inbounds,
            "outbounds": outbounds_ if outbounds_ is not None else outbounds(),
            "sluice": {"pidFile": self.pidfile, "controlSocket": self.control,
                       "stateDb": self.state_db, "workers": workers},
        }
        if handshake is not None:
            self.config["policy"] = {"levels": {"0": {"handshake": handshake}}}
        self.write_config(self.config)
        self.proc = None

    def write_config(self, cfg_or_text):
        text = (cfg_or_text if isinstance(cfg_or_text, str)
                else json.dumps(cfg_or_text, indent=1))
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf)

    def ports(self):
        return [ib["port"] for ib in self.config["inbounds"]]

    def start(self, cli_workers=True):
        """cli_workers=False leaves -w out, so that sluice.workers in the
        config decides (a reload can change it)."""
        if not os.path.exists(SLUICED):
            raise AssertionError("daemon binary %s does not exist (build it, "
                                 "or set SLUICED)" % SLUICED)
        env = clean_env({"ASAN_OPTIONS": os.environ.get(
            "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0"),
            "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS",
                                            "print_stacktrace=1")})
        self.proc = Proc("sluiced-%s-%d" % (self.name, self.env.daemons),
                         [SLUICED, "-f", "-c", self.conf] +
                         (["-w", self.workers] if cli_workers else []),
                         self.dir, env=env)
        for p in self.ports():
            wait_tcp(p, T(20), self.proc)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def master_pid_from_file(self):
        def read():
            try:
                with open(self.pidfile) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return None
        return poll(read, T(10), what="pid file %s" % self.pidfile)

    def worker_pids(self):
        return children(self.pid)

    def stop(self, grace=None):
        """SIGTERM to the master; returns its exit status (None if it had to
        be killed)."""
        if self.proc is None:
            return None
        grace = T(5) if grace is None else grace
        if not self.proc.alive():
            rc = self.proc.p.returncode
            self.proc.stop()
            return rc
        os.kill(self.pid, signal.SIGTERM)
        rc = self.proc.wait(grace)
        self.proc.stop()        # group cleanup (and SIGKILL if still there)
        return rc

    # logs
    def read(self, which):
        path = {"access": self.access_log, "error": self.error_log,
                "stderr": self.proc.log if self.proc else ""}[which]
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def all_logs(self):
        return "\n".join(self.read(w) for w in ("stderr", "error", "access"))

    def wait_log(self, regex, which="access", timeout=None, pred=None):
        """Wait for a line matching regex; returns the match.  pred(match)
        may narrow it down.  stderr is searched too (the daemon logs there
        when the config names no file)."""
        rx = re.compile(regex)

        def find():
            for w in (which, "stderr"):
                for m in rx.finditer(self.read(w)):
                    if pred is None or pred(m):
                        return m
            return None
        try:
            return poll(find, timeout or T(10), what="log line /%s/" % regex)
        except AssertionError:
            raise AssertionError("no %s log line matches /%s/; last lines:\n%s"
                                 % (which, regex, tail(self.read(which), 15)))

    def log_size(self, which="access"):
        return len(self.read(which))

    def sanitizer_report(self, allow=None):
        """None, or the first sanitizer / [alert] line with its context.
        allow: a compiled regex of lines a test provoked on purpose."""
        lines = self.all_logs().splitlines()
        for i, l in enumerate(lines):
            if (any(p in l for p in SAN_PATTERNS)
                    and not (allow is not None and allow.search(l))):
                return "\n".join(lines[max(0, i - 3):i + 25])
        return None


def children(pid):
    out = set()
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out.update(int(x) for x in f.read().split())
    except (OSError, ValueError):
        pass
    return sorted(out)


# ---------------------------------------------------------------- test base

def have(binary):
    return shutil.which(binary) is not None


class DaemonTest(unittest.TestCase):
    """Base class: the class builds one daemon in make_daemon(); every test
    fails if the daemon's output shows a sanitizer report or an [alert]."""
    daemon = None
    clients = ()

    @classmethod
    def make_daemon(cls, env):
        raise NotImplementedError

    @classmethod
    def start_clients(cls, daemon, *makers):
        """One client per maker (a callable; None gives None), kept in
        cls.clients and stopped by tearDownClass.  If one fails to start,
        those started and the already running daemon are stopped before
        the error goes on: no tearDownClass follows a failed setUpClass."""
        started = []
        try:
            for make in makers:
                started.append(make() if make is not None else None)
        except BaseException:
            for c in started:
                if c is not None:
                    c.stop()
            daemon.stop()
            raise
        cls.clients = tuple(c for c in started if c is not None)
        return started

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.daemon = None
        cls.daemon = cls.make_daemon(cls.env)
        if cls.daemon is not None and cls.daemon.proc is None:
            cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            c.stop()
        cls.clients = ()
        d, cls.daemon = cls.daemon, None
        if d is None:
            return
        rc = d.stop()
        rep = d.sanitizer_report()
        if rep:
            raise AssertionError("sanitizer/alert output:\n" + rep)
        if rc != 0:
            raise AssertionError("sluiced exit status %s after SIGTERM; stderr:\n%s"
                                 % (rc, tail(d.read("stderr"))))

    def tearDown(self):
        d = type(self).daemon
        if d is not None:
            rep = d.sanitizer_report()
            if rep:
                self.fail("sanitizer/alert output:\n" + rep)
            if d.proc is not None and not d.proc.alive():
                self.fail("sluiced master exited (status %s):\n%s"
                          % (d.proc.p.returncode, tail(d.read("stderr"))))
