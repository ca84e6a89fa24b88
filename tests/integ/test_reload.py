"""Reloads and worker deaths under load (issue 4, tests and measurements).

One daemon (2 workers, sluice.workers in the config, no -w) with a TLS VLESS
inbound whose default fallback is an nginx in the test's own network
namespace, a v2ray 4.34 client tunnelling to it, and client threads opening
new connections all the time through the fallback and through the tunnel,
each checked end to end (status, backend, length, sha256).  Meanwhile:

  test_a  50 reloads, alternating rule changes (fallback dest and a routing
          rule flip between two nginx servers) and listener changes (workers
          2 <-> 3, an extra inbound added / removed); 0 failed connections.
  test_b  reloads with a syntax error and with an unknown outboundTag: the
          old generation keeps serving, the error names file:line (JSON
          semantic errors: file and JSON path); then a good reload applies.
  test_c  kill -9 of a worker, once with the clients paused at the kill and
          once in the middle of the load; time to a respawned worker
          accepting.
  test_d  200 MiB through the tunnel and 200 MiB through the fallback, each
          held open across at least 6 reloads (worker-count and rule
          changes), sha256-checked.

Every reload flips which nginx server ("web" or "alt") answers, so "new rules
active" is observable: the time from the reload request to the first new
connection served by the new rules, on both paths, is measured and printed
as MEASURE lines (stdout, whether the test passes or not; also
measurements.txt in the daemon's directory, kept with SLUICE_INTEG_KEEP=1):

    /usr/bin/python3 tests/integ/run.py --only '^test_reload\.' | grep MEASURE

A worker-count decrease closes listening sockets; the kernel moves their
queued connections to the port's other sockets only with
net.ipv4.tcp_migrate_req=1, a per-namespace sysctl.  So the class runs in a
network namespace it creates (root needed, else SKIP): the test process
moves itself in (setns) before starting any thread or child, and back at
the end.  The shared nginx of the other tests stays outside; this class
starts its own.
"""

import atexit
import collections
import ctypes
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import statistics
import threading
import time
import unittest

import harness
from harness import (Daemon, Deadline, Env, Proc, T, INDEX_HTML, SLUICECTL,
                     V2rayClient, children, have, nginx_conf,
                     poll, run, tail, tls_settings, wait_tcp, write_random)
from probes import (Closed, TLSClient, curl_sha256, http_request,
                    socks5_connect)

# How a reload is asked for.  "signal": SIGHUP to the master (works today).
# "sluicectl": `sluicectl -s SOCKET reload`, which also reports the outcome
# (exit 1 and the errors on a bad config).  LEAD: flip this default to
# "sluicectl" once the control socket is in; SLUICE_INTEG_RELOAD overrides.
RELOAD_VIA = os.environ.get("SLUICE_INTEG_RELOAD", "sluicectl")

RELOADS = 50
MID_SIZE = 8 << 20              # the transfers of the load (paced reads)
LONG_SIZE = 200 << 20           # test_d
GATES = 6                       # test_d: reloads each long transfer waits for
STREAK = 4                      # new connections in a row showing a reload
MAX_PER_THREAD = 20000          # connections per client thread
BACKEND = ("web", "alt")        # the nginx server each phase sends to
PROBE_HOST = "phase.test"       # the tunnel's destination, routed by rule

CLONE_NEWNET = 0x40000000
SYS_PIDFD_GETFD = 438           # the same number on every architecture

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _setns(fd):
    if _libc.setns(ctypes.c_int(fd), ctypes.c_int(CLONE_NEWNET)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def ms(seconds):
    return seconds * 1000.0


# ---------------------------------------------------------------- namespace

class NetNS:
    """A named network namespace with lo up and tcp_migrate_req=1, which
    this process's main thread enters and leaves (threads and children
    started in between inherit it)."""

    def __init__(self, name):
        self.name = name
        self.created = False
        self.home = None

    def create(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("not root: cannot create a network "
                                    "namespace for tcp_migrate_req")
        if not have("ip"):
            raise unittest.SkipTest("iproute2 (ip) not installed")
        run(["ip", "netns", "del", self.name], 10)      # a stale one
        r = run(["ip", "netns", "add", self.name], 10)
        if r.returncode:
            raise unittest.SkipTest("ip netns add failed: %s"
                                    % r.stderr.decode().strip())
        self.created = True
        atexit.register(self.delete)    # a run stopped by a signal too
        for argv in (["ip", "-n", self.name, "link", "set", "lo", "up"],
                     ["ip", "netns", "exec", self.name, "sysctl", "-qw",
                      "net.ipv4.tcp_migrate_req=1"]):
            r = run(argv, 10)
            if r.returncode:
                self.delete()
                raise unittest.SkipTest("%s failed: %s" % (
                    " ".join(argv), r.stderr.decode().strip()))

    def enter(self):
        self.home = os.open("/proc/thread-self/ns/net",
                            os.O_RDONLY | os.O_CLOEXEC)
        fd = os.open("/run/netns/" + self.name, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(fd)
        except OSError:
            os.close(self.home)
            self.home = None
            raise
        finally:
            os.close(fd)

    def leave(self):
        if self.home is not None:
            _setns(self.home)
            os.close(self.home)
            self.home = None

    def delete(self):
        if self.created:
            run(["ip", "netns", "del", self.name], 10)
            self.created = False


# ---------------------------------------------------------------- /proc

def socket_fds(pid):
    """[(fd, inode)] of the sockets process pid holds."""
    out = []
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for n in names:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, n))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.append((int(n), int(link[8:-1])))
    return out


class Peek:
    """Duplicates of another process's socket fds (pidfd_getfd), to ask
    the kernel what each socket is without reading the whole TCP table
    (tens of thousands of TIME_WAIT lines under this load)."""

    def __init__(self, pid):
        self.pidfd = os.pidfd_open(pid)

    def sock(self, fd):
        n = _libc.syscall(ctypes.c_long(SYS_PIDFD_GETFD),
                          ctypes.c_long(self.pidfd), ctypes.c_long(fd),
                          ctypes.c_long(0))
        if n < 0:
            return None
        try:
            return socket.socket(fileno=n)
        except OSError:
            os.close(n)
            return None

    def describe(self, fd):
        """(listening, local port, peer port or None), or None."""
        s = self.sock(fd)
        if s is None:
            return None
        try:
            if s.family != socket.AF_INET or s.type != socket.SOCK_STREAM:
                return None
            lst = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
            try:
                peer = s.getpeername()[1]
            except OSError:
                peer = None
            return lst, s.getsockname()[1], peer
        except OSError:
            return None
        finally:
            s.close()

    def close(self):
        os.close(self.pidfd)


def listening_inodes(pid):
    p = Peek(pid)
    try:
        return {ino for fd, ino in socket_fds(pid)
                if (p.describe(fd) or (False,))[0]}
    finally:
        p.close()


def accepted_peers(pid, ports, skip=None):
    """Peer ports of the TCP connections process pid accepted on ports.
    skip: a set of inodes already looked at (updated)."""
    out = []
    try:
        p = Peek(pid)
    except OSError:
        return out
    try:
        for fd, ino in socket_fds(pid):
            if skip is not None:
                if ino in skip:
                    continue
                skip.add(ino)
            d = p.describe(fd)
            if d and not d[0] and d[1] in ports and d[2] is not None:
                out.append(d[2])
    finally:
        p.close()
    return out


def connect_result(port, timeout=0.5):
    """"accepted", "refused" or "timeout" for a TCP connect to port."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        return "accepted"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "timeout" if isinstance(e, TimeoutError) else str(e)
    finally:
        s.close()


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


# ---------------------------------------------------------------- clients

class Bad(Exception):
    """A complete answer that is not the expected one."""


class StrictTLS(TLSClient):
    """TLSClient that reports a TCP reset as ConnectionResetError instead of
    folding it into EOF: the kind of a failure is part of the report."""

    def _feed(self, deadline):
        self.sock.settimeout(max(deadline.left(), 0.001))
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("TLS read timed out")
        if not d:
            self.inc.write_eof()
            raise Closed()
        self.inc.write(d)


def kind_of(e):
    for cls, name in ((ConnectionRefusedError, "refused"),
                      (ConnectionResetError, "reset"),
                      (BrokenPipeError, "broken-pipe"),
                      (TimeoutError, "timeout"),
                      (Bad, "bad-response"),
                      (EOFError, "eof"),
                      (ssl.SSLError, "tls-error"),
                      (ConnectionError, "closed")):
        if isinstance(e, cls):
            return name
    return type(e).__name__


def sock_recv(s):
    def recv(timeout):
        s.settimeout(max(timeout, 0.001))
        return s.recv(65536)
    return recv


def fetch(recv, want, dl, pace=0.0):
    """Read one Content-Length framed HTTP/1.1 response through recv and
    check it against want = (size, sha256 hex).  Returns the X-Backend.
    pace: seconds to sleep after each read (a slow reader keeps the
    connection open across reloads)."""
    buf = b""
    while True:
        if dl.expired():
            raise TimeoutError("no response header after %d bytes" % len(buf))
        d = recv(dl.left())
        if not d:
            raise EOFError("closed after %d header bytes" % len(buf))
        buf += d
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buf) > 65536:
            raise Bad("response header too long")
    head = buf[:end].decode("latin-1").split("\r\n")
    if head[0].split(" ")[1:2] != ["200"]:
        raise Bad("status line %r" % head[0])
    hdr = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdr[k.strip().lower()] = v.strip()
    backend = hdr.get("x-backend")
    if backend not in BACKEND:
        raise Bad("X-Backend %r" % backend)
    size = int(hdr.get("content-length", -1))
    if size != want[0]:
        raise Bad("Content-Length %d, want %d" % (size, want[0]))
    body = buf[end + 4:]
    h = hashlib.sha256(body)
    got = len(body)
    while got < size:
        if dl.expired():
            raise TimeoutError("body: %d of %d bytes" % (got, size))
        d = recv(dl.left())
        if not d:
            raise EOFError("body cut after %d of %d bytes" % (got, size))
        h.update(d)
        got += len(d)
        if pace:
            time.sleep(pace)
    if got != size or h.hexdigest() != want[1]:
        raise Bad("body: %d bytes, sha256 %s" % (got, h.hexdigest()[:16]))
    return backend


class Load:
    """Client threads, each opening new connections one after another until
    stopped, checking every one.  Bounded by MAX_PER_THREAD connections and
    a deadline.  The gate pauses them between connections (quiesce)."""

    def __init__(self, limit):
        self.deadline = Deadline(limit)
        self.stopping = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        self.ok = collections.Counter()
        self.failures = []
        self.sports = set()     # source ports of fallback connections
        self.mark = "start"
        self.busy = []
        self.threads = []

    def start(self, name, fn, n=1):
        for _ in range(n):
            self.busy.append(False)
            t = threading.Thread(target=self._run,
                                 args=(name, fn, len(self.busy) - 1),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def once(self, name, fn):
        """One connection: the record, or None if it failed (counted)."""
        rec = {"kind": name, "t": time.monotonic(), "mark": self.mark,
               "sport": None}
        try:
            fn(rec)
        except Exception as e:          # every failure counts, whatever it is
            rec["why"] = kind_of(e)
            rec["error"] = "%s: %s" % (type(e).__name__, e)
            rec["end"] = time.monotonic()
            with self.lock:
                self.failures.append(rec)
                if rec["sport"]:
                    self.sports.add(rec["sport"])
            return None
        with self.lock:
            self.ok[name] += 1
            if rec["sport"]:
                self.sports.add(rec["sport"])
        return rec

    def _run(self, name, fn, idx):
        for _ in range(MAX_PER_THREAD):
            if self.stopping.is_set() or self.deadline.expired():
                return
            # busy first, gate second: quiesce() clears the gate, then
            # waits for busy to drop, so no connection starts after it
            self.busy[idx] = True
            if not self.gate.is_set():
                self.busy[idx] = False
                self.gate.wait(0.05)
                continue
            self.once(name, fn)
            self.busy[idx] = False

    def quiesce(self, timeout):
        self.gate.clear()
        poll(lambda: not any(self.busy), timeout, interval=0.005,
             what="client threads to pause")

    def resume(self):
        self.gate.set()

    def stop(self):
        self.stopping.set()
        self.gate.set()
        for t in self.threads:
            t.join(T(30))
        return [t for t in self.threads if t.is_alive()]

    def total(self):
        with self.lock:
            return sum(self.ok.values()) + len(self.failures)

    def summary(self, failures=None):
        fs = self.failures if failures is None else failures
        kinds = collections.Counter("%s/%s" % (f["kind"], f["why"])
                                    for f in fs)
        first = ["%s at %s: %s" % (f["kind"], f["mark"], f["error"])
                 for f in fs[:8]]
        return "%d failed (%s); first: %s" % (
            len(fs), ", ".join("%s=%d" % kv for kv in sorted(kinds.items())),
            " | ".join(first))


# ---------------------------------------------------------------- backend

class Web:
    """nginx in the namespace: servers "web" and "alt" on the same files,
    told apart by X-Backend."""

    def __init__(self, env, d, www):
        self.dir = d
        self.port = {name: env.ports.get() for name in BACKEND}
        for sub in ("logs", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        servers = "".join("""
    server {
        listen 127.0.0.1:%d backlog=4096;
        root %s;
        add_header X-Backend %s always;
    }""" % (self.port[n], www, n) for n in BACKEND)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(d, """
    default_type application/octet-stream;
    types { text/html html; }
    sendfile on;
    access_log off;
    keepalive_timeout 10s;""", servers, connections=8192))
        errlog = os.path.join(d, "logs", "error.log")
        self.proc = Proc("nginx-reload", ["nginx", "-p", d, "-c", conf,
                                          "-e", errlog], env.dir)
        for p in self.port.values():
            wait_tcp(p, T(15), self.proc)

    def stop(self):
        self.proc.stop(signal.SIGQUIT, grace=5)


# ---------------------------------------------------------------- the tests

class State:
    def __init__(self, phase=0, workers=2, extra=False):
        self.phase, self.workers, self.extra = phase, workers, extra

    def __repr__(self):
        return "phase=%s workers=%d extra=%s" % (BACKEND[self.phase],
                                                  self.workers, self.extra)


class Reload(unittest.TestCase):

    ns = web = d = v2ray = None

    @classmethod
    def setUpClass(cls):
        if not have("v2ray"):
            raise unittest.SkipTest("v2ray not installed")
        cls.env = Env.get()             # the shared peers stay outside
        cls.ns = NetNS("sluice-reload-%d" % os.getpid())
        cls.ns.create()
        try:
            cls.ns.enter()
            cls._setup()
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def _setup(cls):
        with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
            if f.read().strip() != "1":
                raise AssertionError("tcp_migrate_req is not 1 in %s"
                                     % cls.ns.name)
        env = cls.env
        cls.base = os.path.join(env.dir, "reload-ns")
        cls.www = os.path.join(cls.base, "www")
        os.makedirs(cls.www)
        os.chmod(cls.base, 0o755)
        os.chmod(cls.www, 0o755)
        with open(os.path.join(cls.www, "index.html"), "wb") as f:
            f.write(INDEX_HTML)
        os.chmod(os.path.join(cls.www, "index.html"), 0o644)
        cls.small = (len(INDEX_HTML), hashlib.sha256(INDEX_HTML).hexdigest())
        cls.mid = (MID_SIZE, write_random(os.path.join(cls.www, "mid.bin"),
                                          MID_SIZE))
        cls.long = (LONG_SIZE, write_random(
            os.path.join(cls.www, "long.bin"), LONG_SIZE))
        cls.web = Web(env, os.path.join(cls.base, "nginx"), cls.www)
        cls.port = env.ports.get()
        cls.extra_port = env.ports.get()
        cls.st = State()
        cls.lstep = 0
        cls.reloads = 0
        cls.reload_cv = threading.Condition()
        cls.d = Daemon(env, "reload", [], workers=2)
        cls.d.config = cls.config(cls.st)
        cls.d.write_config(cls.d.config)
        cls.d.start(cli_workers=False)
        cls.master = cls.d.pid
        cls.v2ray = V2rayClient(env, [("vless", cls.port)],
                                name="v2ray-reload")
        cls.socks = cls.v2ray.socks[0]

    @classmethod
    def config(cls, st, bad_tag=None):
        env = cls.env
        allow = [{"action": "allow", "ip": ["127.0.0.0/8"]}]

        def inbound(tag, port, dest):
            return {"protocol": "vless", "listen": "127.0.0.1", "port": port,
                    "tag": tag,
                    "settings": {"clients": [{"id": harness.VLESS_UUID,
                                              "email": harness.VLESS_EMAIL}],
                                 "decryption": "none",
                                 "fallbacks": [{"dest": dest}]},
                    "streamSettings": {"network": "tcp", "security": "tls",
                                       "tlsSettings": tls_settings(
                                           env, ("http/1.1",))}}
        inb = [inbound("in-main", cls.port, cls.web.port[BACKEND[st.phase]])]
        if st.extra:
            inb.append(inbound("in-extra", cls.extra_port,
                               cls.web.port["web"]))
        outs = [{"protocol": "freedom", "tag": "direct",
                 "settings": {"finalRules": allow}}]
        for name in BACKEND:
            outs.append({"protocol": "freedom", "tag": "to-" + name,
                         "settings": {"finalRules": allow, "redirect":
                                      "127.0.0.1:%d" % cls.web.port[name]}})
        outs.append({"protocol": "blackhole", "tag": "block"})
        return {
            "log": {"loglevel": "warning", "access": cls.d.access_log,
                    "error": cls.d.error_log},
            "inbounds": inb,
            "outbounds": outs,
            "routing": {"rules": [
                {"domain": ["full:" + PROBE_HOST], "ruleTag": "r-phase",
                 "outboundTag": bad_tag or "to-" + BACKEND[st.phase]}]},
            "sluice": {"pidFile": cls.d.pidfile,
                       "controlSocket": cls.d.control,
                       "stateDb": cls.d.state_db,
                       "workers": st.workers,
                       # drains never hit the deadline here: a cut transfer
                       # is a failure, not the deadline doing its job
                       "shutdownTimeout": 600},
        }

    @classmethod
    def _cleanup(cls):
        errors = []
        if cls.v2ray is not None:
            cls.v2ray.stop()
            cls.v2ray = None
        if cls.d is not None:
            d, cls.d = cls.d, None
            rc = d.stop()
            rep = d.sanitizer_report()
            if rep:
                errors.append("sanitizer/alert output:\n" + rep)
            if rc != 0:
                errors.append("sluiced exit status %s after SIGTERM:\n%s"
                              % (rc, tail(d.read("stderr"))))
        if cls.web is not None:
            cls.web.stop()
            cls.web = None
        if cls.ns is not None:
            cls.ns.leave()
            cls.ns.delete()
            cls.ns = None
        try:        # 200 MiB is not worth keeping with the logs
            os.unlink(os.path.join(cls.www, "long.bin"))
        except (OSError, AttributeError):
            pass
        if errors:
            raise AssertionError("\n".join(errors))

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    def tearDown(self):
        d = self.d
        rep = d.sanitizer_report()
        if rep:
            self.fail("sanitizer/alert output:\n" + rep)
        if not d.proc.alive():
            self.fail("sluiced master exited (status %s):\n%s"
                      % (d.proc.p.returncode, tail(d.read("stderr"))))

    # -- connections
    def fb(self, rec, path="/index.html", want=None, pace=0.0, port=None):
        dl = Deadline(T(15))
        # The source port before the handshake: a connection lost with a
        # killed worker may fail in it and must still be recognised.
        with StrictTLS(port or self.port, self.env.pki["ca"],
                       timeout=T(10), handshake=False) as c:
            rec["sport"] = c.src[1]
            c.handshake()
            c.send(http_request(path))
            rec["backend"] = fetch(c.recv, want or self.small, dl, pace)

    def tun(self, rec, path="/index.html", want=None, pace=0.0):
        dl = Deadline(T(15))
        s = socks5_connect(self.socks, PROBE_HOST, 80, timeout=T(10))
        try:
            s.sendall(http_request(path, host=PROBE_HOST))
            rec["backend"] = fetch(sock_recv(s), want or self.small, dl, pace)
        finally:
            s.close()

    def fb_mid(self, rec):
        self.fb(rec, "/mid.bin", self.mid, pace=0.002)

    def tun_mid(self, rec):
        self.tun(rec, "/mid.bin", self.mid, pace=0.002)

    def start_load(self, small=3, mid=1, limit=None):
        load = Load(limit or T(150))
        self.addCleanup(load.stop)
        load.start("fallback", self.fb, small)
        load.start("tunnel", self.tun, small)
        load.start("fallback-8M", self.fb_mid, mid)
        load.start("tunnel-8M", self.tun_mid, mid)
        return load

    # -- the daemon seen from outside
    def current_workers(self):
        """Children of the master holding one of its listening sockets: the
        workers accepting now (a draining worker has closed its own)."""
        lst = listening_inodes(self.master)
        return [p for p in children(self.master)
                if {ino for _, ino in socket_fds(p)} & lst]

    def listening_pids(self, port):
        """The master and children holding a listening socket on port."""
        out = []
        for pid in [self.master] + children(self.master):
            try:
                p = Peek(pid)
            except OSError:
                continue
            try:
                if any((p.describe(fd) or (False, 0))[:2] == (True, port)
                       for fd, _ in socket_fds(pid)):
                    out.append(pid)
            finally:
                p.close()
        return out

    def extra_ok(self, st, load):
        # removed means refused: a socket nobody accepts on completes
        # handshakes too, until its queue is full (then connects time out)
        r = connect_result(self.extra_port)
        if not st.extra:
            return r == "refused"
        if r != "accepted":
            return False
        return load.once("probe-extra", lambda rec: self.fb(
            rec, port=self.extra_port)) is not None

    # -- reloads
    def request_reload(self):
        """Returns (exit status, output) from sluicectl, (None, "") after a
        signal."""
        if RELOAD_VIA == "sluicectl":
            r = run([SLUICECTL, "-s", self.d.control, "reload"], T(60))
            return r.returncode, (r.stdout + r.stderr).decode("utf-8",
                                                              "replace")
        os.kill(self.master, signal.SIGHUP)
        return None, ""

    def next_state(self, kind):
        """rules: flip the phase only.  listeners: flip the phase and one
        of workers 2 -> 3, extra inbound added, workers 3 -> 2, extra
        removed, in turn.  workers: flip the phase and the worker count."""
        st = self.st
        new = State(1 - st.phase, st.workers, st.extra)
        label = "rules"
        if kind != "rules":
            step = type(self).lstep % 4 if kind == "listeners" else 0
            type(self).lstep += kind == "listeners"
            if step in (0, 2):
                new.workers = 3 if st.workers == 2 else 2
                label = "workers-%d-%d" % (st.workers, new.workers)
            else:
                new.extra = not st.extra
                label = "listener-" + ("add" if new.extra else "remove")
        return new, label

    def apply(self, load, kind):
        """One good reload of the given kind, waited for; records and
        returns (label, ms to the new rules on both paths, ms to settled)."""
        st, label = self.next_state(kind)
        self.d.write_config(self.config(st))
        load.mark = "reload %d (%s)" % (self.reloads + 1, label)
        t0 = time.monotonic()
        rc, out = self.request_reload()
        if rc is not None:
            # the outcome sluicectl promises (see the lead's ctl spec)
            self.assertEqual(rc, 0, "sluicectl reload: " + out)
            self.assertRegex(out, r"generation \d+: %s, %d workers" % (
                "in place" if kind == "rules" else "new workers",
                st.workers), "sluicectl reload output")
        type(self).st = st      # what the daemon runs, even if settle fails
        first, settled = self.settle(load, st, t0, load.mark)
        with self.reload_cv:
            type(self).reloads += 1
            self.reload_cv.notify_all()
        return label, first, settled

    def settle(self, load, st, t0, what):
        """Poll with new connections until the reload shows: STREAK in a
        row on each path served by the new phase's backend, the extra
        listener there or gone, st.workers accepting workers.  Returns (ms
        until each path had served one connection with the new rules, ms
        until all of it)."""
        want = BACKEND[st.phase]
        first = {}
        streak = {"fallback": 0, "tunnel": 0}
        fns = {"fallback": self.fb, "tunnel": self.tun}
        dl = Deadline(T(20))
        workers = None
        while True:
            for path, fn in fns.items():
                if streak[path] >= STREAK:
                    continue
                rec = load.once("probe-" + path, fn)
                if rec is not None and rec["backend"] == want:
                    first.setdefault(path, time.monotonic() - t0)
                    streak[path] += 1
                else:
                    streak[path] = 0
            if min(streak.values()) >= STREAK and self.extra_ok(st, load):
                workers = self.current_workers()
                if len(workers) == st.workers:
                    break
            if dl.expired():
                raise AssertionError(
                    "%s: not applied after %.0fs (want %s): in a row on %s, "
                    "extra port %s (listening in pids %s; master %d, "
                    "children %s), accepting workers %s; error log:\n%s"
                    % (what, T(20), st, streak,
                       connect_result(self.extra_port),
                       self.listening_pids(self.extra_port), self.master,
                       children(self.master), workers,
                       tail(self.d.read("error"), 8)))
            time.sleep(0.002)
        return ms(max(first.values())), ms(time.monotonic() - t0)

    # -- reporting
    def measure(self, name, **kv):
        line = "MEASURE %s %s build=%s" % (
            name, " ".join("%s=%s" % (k, ("%.1f" % v) if isinstance(v, float)
                                      else v) for k, v in kv.items()),
            os.path.basename(os.path.dirname(harness.SLUICED)))
        print(line, flush=True)
        with open(os.path.join(self.d.dir, "measurements.txt"), "a") as f:
            f.write(line + "\n")

    def measure_reloads(self, done, extra=""):
        """done: [(label, ms to active, ms to settled)] from apply()."""
        groups = collections.defaultdict(list)
        for label, first, settled in done:
            kind = "rules" if label == "rules" else "listeners"
            groups["reload_active_ms kind=" + kind].append(first)
            groups["reload_settled_ms kind=" + kind].append(settled)
            if kind != "rules":
                groups["reload_active_ms change=" + label].append(first)
        for name in sorted(groups):
            self.measure_times(name + extra, groups[name])

    def measure_times(self, name, values):
        if values:
            self.measure(name, n=len(values),
                         median=float(statistics.median(values)),
                         max=float(max(values)), min=float(min(values)))

    def assert_load_ran(self, load, least=10):
        for k in ("fallback", "tunnel", "fallback-8M", "tunnel-8M"):
            self.assertGreaterEqual(load.ok[k], least if "8M" not in k else 1,
                                    "too few %s connections: %s"
                                    % (k, dict(load.ok)))

    def assert_none_failed(self, load, failures=None, what=""):
        fs = load.failures if failures is None else failures
        if fs:
            self.fail(what + load.summary(fs))

    def assert_master_same(self):
        self.assertTrue(self.d.proc.alive(), "master exited")
        self.assertEqual(self.d.master_pid_from_file(), self.master,
                         "the pid file names another master")

    def end_reasons(self):
        """Counts of the access log's end= reasons (how connections ended
        early), for the report."""
        c = collections.Counter()
        for line in self.d.read("access").splitlines():
            i = line.find(" end=")
            if i >= 0:
                c[line[i + 5:]] += 1
        return dict(c)

    # ------------------------------------------------------------ tests

    def test_a_reload_under_load(self):
        """50 reloads, alternating rules and listeners, 0 failures."""
        load = self.start_load()
        t_start = time.monotonic()
        done = []
        try:
            time.sleep(0.3)
            for i in range(RELOADS):
                done.append(self.apply(load, "rules" if i % 2 == 0
                                       else "listeners"))
            time.sleep(0.3)
        finally:
            # the figures are printed when a reload fails too
            stuck = load.stop()
            self.measure("reload_load", reloads=len(done),
                         connections=load.total(),
                         failures=len(load.failures),
                         cut_transfers=len([f for f in load.failures
                                            if f["kind"].endswith("8M")]),
                         wall_s=float(time.monotonic() - t_start),
                         end_reasons=json.dumps(self.end_reasons(),
                                                separators=(",", ":")))
            self.measure_reloads(done)
        self.assertEqual(stuck, [], "client threads did not stop")
        self.assert_none_failed(load)
        self.assertEqual(len(done), RELOADS)
        self.assert_load_ran(load)
        self.assert_master_same()

    def test_b_broken_config_keeps_serving(self):
        """A syntax error and an unknown outboundTag: generation G keeps
        serving under load; then a good reload applies."""
        load = self.start_load(mid=0)
        old = BACKEND[self.st.phase]
        cfg = self.config(State(1 - self.st.phase, self.st.workers,
                                self.st.extra))
        text = json.dumps(cfg, indent=1).splitlines()
        # "routing": {{ -- a syntax error on a known line
        line = next(i for i, l in enumerate(text) if '"routing"' in l) + 1
        text[line - 1] = text[line - 1].replace("{", "{{")
        cases = [("syntax", "\n".join(text) + "\n", r"%s:%d\b" % (
            re.escape(os.path.basename(self.d.conf)), line))]
        bad = self.config(State(1 - self.st.phase, self.st.workers,
                                self.st.extra), bad_tag="no-such-outbound")
        cases.append(("unknown outboundTag", json.dumps(bad, indent=1),
                      None))
        try:
            time.sleep(0.3)
            for what, text, where in cases:
                self.broken_reload(load, what, text, where, old)
            label, first, _ = self.apply(load, "rules")
            time.sleep(0.3)
        finally:
            stuck = load.stop()
        self.measure("reload_broken", connections=load.total(),
                     failures=len(load.failures), good_after_ms=first)
        self.assertEqual(stuck, [], "client threads did not stop")
        self.assert_none_failed(load)
        self.assert_master_same()

    def broken_reload(self, load, what, text, where, old):
        sizes = (self.d.log_size("error"), self.d.log_size("stderr"))
        gen_before = self.current_workers()
        self.d.write_config(text)
        load.mark = "broken reload (%s)" % what
        rc, out = self.request_reload()
        if rc is not None:
            self.assertEqual(rc, 1, "sluicectl reload of a broken config "
                             "(%s): %s" % (what, out))
            self.assertRegex(out, r"reload failed: generation \d+ keeps "
                             "serving", "sluicectl reload output")
            new = out
        else:
            def failed():
                n = (self.d.read("error")[sizes[0]:] +
                     self.d.read("stderr")[sizes[1]:])
                return n if re.search(r"(?i)reload failed", n) else None
            new = poll(failed, T(10), what="'reload failed' in the error "
                       "log after a %s" % what)
        name = re.escape(os.path.basename(self.d.conf))
        if where is None:
            # JSON: a line number, or the JSON path of the field
            where = r"%s(:\d+|: \$\.routing\.rules\[0\])" % name
        self.assertRegex(new, where, "the error does not name the place "
                         "(%s)" % what)
        if "outboundTag" in what:
            self.assertIn("no-such-outbound", new)
        self.assert_master_same()
        # the old generation still answers, on both paths, to new clients
        for _ in range(2 * STREAK):
            for path, fn in (("fallback", self.fb), ("tunnel", self.tun)):
                rec = load.once("probe-" + path, fn)
                self.assertIsNotNone(rec, "after a %s: %s" % (
                    what, load.summary()))
                self.assertEqual(rec["backend"], old,
                                 "a broken config changed the rules")
        self.assertEqual(self.current_workers(), gen_before,
                         "a failed reload changed the workers")

    def test_c_kill9_worker(self):
        """kill -9 of a worker, with the clients paused at that instant and
        in the middle of the load."""
        load = self.start_load()
        ports = {self.port} | ({self.extra_port} if self.st.extra else set())
        try:
            time.sleep(0.5)
            # A: nothing in flight at the kill; queued and new connections
            # must all be served once the slot's worker is back
            load.quiesce(T(20))
            before = set(children(self.master))
            victim = self.current_workers()[0]
            load.mark = "kill A"
            # A client thread may be inside connect() when the load pauses:
            # what the victim holds at the kill is lost with it, as in B.
            t_stop_a = time.monotonic()
            os.kill(victim, signal.SIGSTOP)
            poll(lambda: proc_state(victim) in ("T", "t"), T(5),
                 interval=0.001, what="worker to stop")
            held_a = set(accepted_peers(victim, ports))
            t0 = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            # until it is gone it may still accept (and so lose) one
            poll(lambda: proc_state(victim) in (None, "Z", "X"), T(5),
                 interval=0.0005, what="killed worker to die")
            load.resume()
            fork_a, accept_a, new_a = self.watch_respawn(victim, before, t0,
                                                         ports)
            time.sleep(1.0)
            # B: in the middle of the load.  The victim is stopped first, so
            # that the connections it holds can be listed: those are lost
            # with it; nothing else may fail.
            victim = next(p for p in self.current_workers() if p != new_a)
            load.mark = "kill B"
            t_stop = time.monotonic()
            os.kill(victim, signal.SIGSTOP)
            poll(lambda: proc_state(victim) in ("T", "t"), T(5),
                 interval=0.001, what="worker to stop")
            held = set(accepted_peers(victim, ports))
            before = set(children(self.master))
            t0 = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            fork_b, accept_b, _ = self.watch_respawn(victim, before, t0,
                                                     ports)
            time.sleep(1.0)
        finally:
            stuck = load.stop()
        # A failure is the victim's loss if that connection was open when
        # the victim stopped: a fallback one by its source port; a tunnel
        # one cannot be told apart (v2ray's port is not ours), so tunnel
        # failures are bounded by the victim's connections that are not
        # our fallback ones.
        in_a = [f for f in load.failures if f["t"] < t_stop_a <= f["end"]]
        in_b = [f for f in load.failures if f["t"] < t_stop <= f["end"]]
        fb_held = [f for f in in_a if f["kind"].startswith("fallback")
                   and f["sport"] in held_a]
        fb_held += [f for f in in_b if f["kind"].startswith("fallback")
                    and f["sport"] in held and f not in fb_held]
        tun = [f for f in in_a + in_b if f["kind"].startswith("tunnel")]
        unexplained = [f for f in load.failures
                       if f not in fb_held and f not in tun]
        tun_bound = len(held_a - load.sports) + len(held - load.sports)
        for name, fork, acc in (("quiesced", fork_a, accept_a),
                                ("under_load", fork_b, accept_b)):
            self.measure("kill9_respawn case=%s" % name, fork_ms=fork,
                         accept_ms=acc)
        lost = collections.Counter("%s/%s" % (f["kind"], f["why"])
                                   for f in fb_held + tun)
        self.measure("kill9_load", connections=load.total(),
                     held_by_victim=len(held_a) + len(held),
                     lost=len(fb_held) + len(tun),
                     lost_kinds=json.dumps(lost, separators=(",", ":")),
                     unexplained=len(unexplained))
        self.assertEqual(stuck, [], "client threads did not stop")
        self.assert_none_failed(load, unexplained, "failures other than "
                                "connections the killed worker held: ")
        self.assertLessEqual(len(tun), tun_bound, "more tunnel failures than "
                             "tunnel connections the victim held: "
                             + load.summary(tun))
        self.assert_load_ran(load)
        self.assert_master_same()

    def watch_respawn(self, victim, before, t0, ports):
        """(ms to the replacement's fork, ms to its first accepted client
        connection, its pid).  A connection counts once the new worker
        holds a socket accepted on one of ports (pidfd_getfd +
        SO_ACCEPTCONN + the local port): no log format involved."""
        dl = Deadline(T(15))
        newpid = fork = None
        seen = set()
        while not dl.expired():
            if newpid is None:
                new = set(children(self.master)) - before - {victim}
                if new:
                    newpid = min(new)
                    fork = ms(time.monotonic() - t0)
            if newpid is not None and accepted_peers(newpid, ports, seen):
                return fork, ms(time.monotonic() - t0), newpid
            time.sleep(0.001)
        raise AssertionError("no respawned worker accepted within %.0fs "
                             "(new pid %s); error log:\n%s"
                             % (T(15), newpid, tail(self.d.read("error"), 8)))

    def test_d_long_transfers_span_reloads(self):
        """200 MiB through the tunnel and 200 MiB through the fallback, each
        read in segments that wait for the next reload: both span GATES
        reloads, worker-count changes among them."""
        load = self.start_load(small=1, mid=0)
        result = {}
        done = []
        urls = {
            "tunnel": ["--socks5-hostname", "127.0.0.1:%d" % self.socks,
                       "http://%s/long.bin" % PROBE_HOST],
            "fallback": ["--http1.1", "--cacert", self.env.pki["ca"],
                         "--resolve", "example.test:%d:127.0.0.1" % self.port,
                         "https://example.test:%d/long.bin" % self.port],
        }
        base = self.reloads
        threads = [threading.Thread(target=self.gated_download,
                                    args=(k, v, base, result), daemon=True)
                   for k, v in urls.items()]
        try:
            for t in threads:
                t.start()
            for i in range(3 * GATES):
                if not any(t.is_alive() for t in threads):
                    break
                # worker counts only: added and removed listeners are
                # test_a's (one bug, one failing test)
                done.append(self.apply(load, "workers" if i % 2 == 0
                                       else "rules"))
            for t in threads:
                t.join(T(120))
        finally:
            stuck = load.stop()
            self.measure_reloads(done, " during=long_transfers")
        labels = [label for label, _, _ in done]
        for k in urls:
            r = result.get(k)
            self.assertIsNotNone(r, "%s download did not finish" % k)
            self.measure("long_transfer path=%s" % k, mib=LONG_SIZE >> 20,
                         reloads_spanned=r["spanned"], seconds=r["seconds"],
                         rc=r["rc"])
        for k in urls:
            r = result[k]
            self.assertEqual((r["rc"], r["size"], r["sha"]),
                             (0, LONG_SIZE, self.long[1]),
                             "%s: %s" % (k, r["err"].strip()[-300:]))
            self.assertGreaterEqual(r["spanned"], GATES - 1,
                                    "%s spanned too few reloads" % k)
        spanned = labels[:GATES]
        self.assertTrue(any(l.startswith("workers") for l in spanned),
                        "no worker-count change during the transfers: %s"
                        % spanned)
        self.assertEqual(stuck, [], "client threads did not stop")
        self.assert_none_failed(load)
        self.assert_master_same()

    def gated_download(self, name, args, base, result):
        """curl into a pipe we read: while we wait, curl blocks and TCP
        stalls the transfer, so segment k ends only after reload k.  The
        last gate leaves 50 MiB unread, more than the socket buffers of
        the path hold, so sluiced is still relaying at every gated reload."""
        seg = LONG_SIZE // (GATES + 2)
        gate = [1]
        t0 = time.monotonic()

        def wait_gates(size):
            while gate[0] <= GATES and size >= gate[0] * seg:
                with self.reload_cv:
                    self.reload_cv.wait_for(
                        lambda: self.reloads >= base + gate[0], T(60))
                gate[0] += 1
        rc, sha, size, errtext = curl_sha256(self.env, args[-1], args[:-1],
                                             T(150), on_chunk=wait_gates)
        with self.reload_cv:
            spanned = self.reloads - base
        result[name] = {"rc": rc, "size": size, "sha": sha,
                        "err": errtext, "spanned": spanned,
                        "seconds": float(time.monotonic() - t0)}
