"""The servers `make bench` compares, each on 127.0.0.1 with free ports, a
config of its own in the run's temporary directory, and the same settings
where they have one: 2 workers or threads (trojan-gfw has one thread), TLS
resumption off (sluiced: enableSessionResumption left out, Xray's
default), logging off or minimal, ALPN
http/1.1 only, the backend nginx behind every fallback.

Processes are harness.Proc: started under setsid, stopped by process
group, never by name.  A server whose binary is missing or that does not
start is marked unavailable with the reason; the run goes on without it.
"""

import json
import os
import shutil
import signal
import socket
import subprocess

import harness
from harness import Proc, T, wait_tcp

# The 185-byte page of ../shared/spec/peers.md.
INDEX = (b"<!doctype html>\n<html><head><title>sluice bench</title></head>\n"
         b"<body><p>a small page behind every front of the benchmark</p>"
         b"</body></html>\n")
INDEX = INDEX[:-1].ljust(184, b" ") + b"\n"
assert len(INDEX) == 185
BIG = "big.bin"
BIG_SIZE = harness.BIG_SIZE


def tree(pid):
    """pid and all its descendants (workers, their children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(harness.children(p))
    return out


def stat_ticks(pid):
    """utime + stime of one process (all its threads), in clock ticks."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            f = f.read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return 0


HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the process tree under pid, in seconds."""
    if pid is None:
        return 0.0
    return sum(stat_ticks(p) for p in tree(pid)) / HZ


def memory_kib(pid):
    """(RSS, PSS) in KiB summed over the process tree (smaps_rollup)."""
    rss = pss = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return rss, pss


def first_line(text, limit=300):
    for l in text.splitlines():
        if l.strip():
            return l.strip()[:limit]
    return ""


class Bench:
    """The run's directory, ports, PKI, web root and backend."""

    def __init__(self, dir_):
        self.dir = dir_
        os.chmod(self.dir, 0o755)       # nginx workers run as www-data
        self.logdir = os.path.join(dir_, "logs")
        os.makedirs(self.logdir)
        self.ports = harness.Ports()
        self.pki = harness.make_pki(os.path.join(dir_, "pki"))
        self.www = os.path.join(dir_, "www")
        os.makedirs(self.www)
        os.chmod(self.www, 0o755)
        p = os.path.join(self.www, "index.html")
        with open(p, "wb") as f:
            f.write(INDEX)
        os.chmod(p, 0o644)
        self.big_sha256 = harness.write_random(os.path.join(self.www, BIG),
                                               BIG_SIZE)
        self.backend = Backend(self)
        self.backend.start()

    def path(self, *parts):
        p = os.path.join(self.dir, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


class Server:
    """One server under test.  Subclasses set name, binary, and write
    their config in configure(); argv() is the command line."""
    name = "?"
    binary = "?"
    stop_signal = signal.SIGTERM

    def __init__(self, b):
        self.b = b
        self.proc = None
        self.reason = None
        self.port = {}
        if shutil.which(self.binary) is None:
            self.reason = "%s not installed" % self.binary

    def available(self):
        return self.reason is None

    def env(self):
        return harness.clean_env()

    def start(self):
        """Start (a fresh process); False (and self.reason) on failure."""
        if not self.available():
            return False
        if not self.port:
            self.configure()
        self.proc = Proc(self.name, self.argv(), self.b.logdir, env=self.env())
        try:
            for p in self.port.values():
                wait_tcp(p, T(20), self.proc)
        except AssertionError as e:
            self.reason = "did not start: %s" % first_line(str(e))
            self.stop()
            return False
        return True

    def stop(self):
        if self.proc is not None:
            self.proc.stop(self.stop_signal, grace=5)
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def cpu(self):
        return cpu_seconds(self.pid)

    def memory(self):
        return memory_kib(self.pid)

    def version(self):
        return ""


def nginx_version():
    r = harness.run(["nginx", "-v"], 10)
    return first_line(r.stderr.decode()).replace("nginx version: ", "")


class Backend(Server):
    """Plain HTTP nginx serving index.html and big.bin, 2 workers."""
    name = "backend-nginx"
    binary = "nginx"
    stop_signal = signal.SIGQUIT

    def configure(self):
        d = os.path.join(self.b.dir, "backend")
        for sub in ("logs", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.port = {"http": self.b.ports.get()}
        self.conf = os.path.join(d, "nginx.conf")
        server = """
    server {
        listen 127.0.0.1:%d backlog=4096;
        server_name example.test;
        root %s;
    }""" % (self.port["http"], self.b.www)
        with open(self.conf, "w") as f:
            f.write(harness.nginx_conf(d, """
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 120s;
    keepalive_requests 100000000;""", server, connections=16384))
        self.dir = d

    def argv(self):
        return ["nginx", "-p", self.dir, "-c", self.conf,
                "-e", os.path.join(self.dir, "logs", "error.log")]

    def start(self):
        if not Server.start(self):
            raise RuntimeError("backend nginx: %s" % self.reason)
        return True


class Sluiced(Server):
    """sluiced with a VLESS+TLS and a Trojan+TLS inbound, both falling
    back to the backend; workers = 2 unless told."""
    binary = harness.SLUICED

    def __init__(self, b, name="sluiced", workers=2):
        self.name = name
        self.workers = workers
        Server.__init__(self, b)
        if not os.access(self.binary, os.X_OK):
            self.reason = "%s not built" % self.binary

    def inbounds(self):
        b = self.b
        fb = [{"dest": b.backend.port["http"]}]
        self.port = {"vless": b.ports.get(), "trojan": b.ports.get()}
        return [harness.vless_inbound(b, "vless", self.port["vless"], fb,
                                      alpn=("http/1.1",)),
                harness.trojan_inbound(b, "trojan", self.port["trojan"], fb)]

    def extra(self):
        return {}

    def configure(self):
        d = os.path.join(self.b.dir, self.name)
        os.makedirs(d, exist_ok=True)
        sl = {"pidFile": os.path.join(d, "sluiced.pid"),
              "controlSocket": os.path.join(d, "control.sock"),
              "stateDb": os.path.join(d, "sluice.db"),
              "workers": self.workers}
        sl.update(self.extra())
        self.conf = os.path.join(d, "config.json")
        write_json(self.conf, {
            "log": {"loglevel": "warning", "access": "none",
                    "error": os.path.join(d, "error.log")},
            "inbounds": self.inbounds(),
            "outbounds": harness.outbounds(allow_private=True),
            "sluice": sl})

    def check(self):
        """sluiced -t: None, or the first error line."""
        if not self.port:
            self.configure()
        r = harness.run([self.binary, "-t", "-c", self.conf], 30)
        if r.returncode == 0:
            return None
        return first_line(r.stderr.decode() + r.stdout.decode()) or \
            "sluiced -t exit %d" % r.returncode

    def argv(self):
        return [self.binary, "-f", "-c", self.conf, "-w", str(self.workers)]

    def version(self):
        r = subprocess.run(["git", "-C", harness.REPO, "describe", "--always",
                            "--dirty"], capture_output=True, timeout=10)
        return "git " + r.stdout.decode().strip()


class SluicedPlain(Sluiced):
    """sluiced with one Trojan inbound without TLS, in one relay mode."""

    def __init__(self, b, relay):
        self.relay = relay
        Sluiced.__init__(self, b, name="sluiced-plain-" + relay)

    def inbounds(self):
        self.port = {"trojan": self.b.ports.get()}
        return [harness.trojan_inbound(self.b, "plain", self.port["trojan"],
                                       tls=False)]

    def extra(self):
        return {"relay": self.relay}


class V2ray(Server):
    """v2ray 4.34: VLESS+TLS and Trojan+TLS inbounds falling back to the
    backend; GOMAXPROCS=2."""
    name = "v2ray"
    binary = "v2ray"

    def env(self):
        return harness.clean_env({"GOMAXPROCS": "2"})

    def configure(self):
        b = self.b
        d = os.path.join(b.dir, self.name)
        os.makedirs(d, exist_ok=True)
        self.port = {"vless": b.ports.get(), "trojan": b.ports.get()}
        tls = {"network": "tcp", "security": "tls",
               "tlsSettings": {"alpn": ["http/1.1"], "certificates": [
                   {"certificateFile": b.pki["cert"],
                    "keyFile": b.pki["key"]}]}}
        fb = [{"dest": b.backend.port["http"]}]
        self.conf = os.path.join(d, "config.json")
        write_json(self.conf, {
            "log": {"loglevel": "warning",
                    "access": os.path.join(d, "access.log"),
                    "error": os.path.join(d, "error.log")},
            "inbounds": [
                {"tag": "vless", "listen": "127.0.0.1",
                 "port": self.port["vless"], "protocol": "vless",
                 "settings": {"clients": [{"id": harness.VLESS_UUID}],
                              "decryption": "none", "fallbacks": fb},
                 "streamSettings": tls},
                {"tag": "trojan", "listen": "127.0.0.1",
                 "port": self.port["trojan"], "protocol": "trojan",
                 "settings": {"clients": [{"password": harness.TROJAN_PASS}],
                              "fallbacks": fb},
                 "streamSettings": tls}],
            "outbounds": [{"protocol": "freedom", "tag": "direct"}]})

    def argv(self):
        return ["v2ray", "-config", self.conf]

    def version(self):
        r = harness.run(["v2ray", "-version"], 10)
        return first_line(r.stdout.decode())


class TrojanGfw(Server):
    """trojan-gfw server, remote (fallback) = the backend; one thread."""
    name = "trojan-gfw"
    binary = "trojan"

    def configure(self):
        b = self.b
        self.port = {"trojan": b.ports.get()}
        self.conf = b.path("trojan-gfw", "server.json")
        write_json(self.conf, {
            "run_type": "server",
            "local_addr": "127.0.0.1", "local_port": self.port["trojan"],
            "remote_addr": "127.0.0.1",
            "remote_port": b.backend.port["http"],
            "password": [harness.TROJAN_PASS],
            "log_level": 3,
            "ssl": {"cert": b.pki["cert"], "key": b.pki["key"],
                    "key_password": "", "prefer_server_cipher": True,
                    "alpn": ["http/1.1"], "reuse_session": False,
                    "session_ticket": False, "session_timeout": 600,
                    "plain_http_response": "", "curves": "", "dhparam": ""},
            "tcp": {"prefer_ipv4": True, "no_delay": True,
                    "keep_alive": True, "reuse_port": False,
                    "fast_open": False, "fast_open_qlen": 20}})

    def argv(self):
        return ["trojan", "-c", self.conf]

    def version(self):
        r = harness.run(["trojan", "-v"], 10)
        return first_line(r.stderr.decode() + r.stdout.decode())


class Haproxy(Server):
    """haproxy mode tcp, TLS on the bind, nbthread 2."""
    name = "haproxy"
    binary = "haproxy"

    def configure(self):
        b = self.b
        self.port = {"tls": b.ports.get()}
        self.conf = b.path("haproxy", "haproxy.cfg")
        with open(self.conf, "w") as f:
            f.write("""global
    nbthread 2
    maxconn 9000
    tune.ssl.cachesize 0
    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend fe
    bind 127.0.0.1:%d ssl crt %s alpn http/1.1
    default_backend be
backend be
    server web 127.0.0.1:%d
""" % (self.port["tls"], b.pki["pem"], b.backend.port["http"]))

    def argv(self):
        return ["haproxy", "-db", "-f", self.conf]

    def version(self):
        r = harness.run(["haproxy", "-v"], 10)
        return first_line(r.stdout.decode())


class NginxStream(Server):
    """nginx stream module, ssl on the listen, 2 workers."""
    name = "nginx-stream"
    binary = "nginx"
    stop_signal = signal.SIGQUIT
    MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

    def __init__(self, b):
        Server.__init__(self, b)
        if self.reason is None and not os.path.exists(self.MODULE):
            self.reason = "%s missing (libnginx-mod-stream)" % self.MODULE

    def configure(self):
        b = self.b
        d = os.path.join(b.dir, self.name)
        os.makedirs(os.path.join(d, "logs"), exist_ok=True)
        self.dir = d
        self.port = {"tls": b.ports.get()}
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("""load_module %(mod)s;
daemon off;
master_process on;
user www-data;
worker_processes 2;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 16384; }
stream {
    server {
        listen 127.0.0.1:%(port)d ssl backlog=4096;
        ssl_certificate %(crt)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        proxy_pass 127.0.0.1:%(be)d;
        proxy_connect_timeout 5s;
        proxy_timeout 120s;
    }
}
""" % {"mod": self.MODULE, "d": d, "port": self.port["tls"],
       "crt": b.pki["cert"], "key": b.pki["key"],
       "be": b.backend.port["http"]})

    def argv(self):
        return ["nginx", "-p", self.dir, "-c", self.conf,
                "-e", os.path.join(self.dir, "logs", "error.log")]

    def version(self):
        return nginx_version() + " stream"


# Tunnel clients (harness.V2rayClient / TrojanClient want an object with
# dir, ports and pki: a Bench is one).

class Client:
    """A tunnel client (socks port) made by maker(); None if it failed."""

    def __init__(self, name, binary, maker):
        self.name = name
        self.obj = None
        self.reason = None
        if shutil.which(binary) is None:
            self.reason = "%s not installed" % binary
            return
        try:
            self.obj = maker()
        except (AssertionError, RuntimeError, OSError) as e:
            self.reason = "%s did not start: %s" % (name, first_line(str(e)))

    @property
    def pid(self):
        return self.obj.proc.pid if self.obj else None

    def stop(self):
        if self.obj is not None:
            self.obj.stop()
            self.obj = None


def trojan_client(b, port, name):
    return Client(name, "trojan",
                  lambda: harness.TrojanClient(b, port, name=name))


def v2ray_client(b, routes, name):
    return Client(name, "v2ray",
                  lambda: harness.V2rayClient(b, routes, name=name))


def loopback_established(port):
    """Established TCP connections to 127.0.0.1:port (both ends counted
    once: only the ones whose peer port is port)."""
    r = subprocess.run(["ss", "-Htn", "state", "established",
                        "( dport = :%d )" % port], capture_output=True,
                       timeout=10)
    return len([l for l in r.stdout.decode().splitlines() if l.strip()])


