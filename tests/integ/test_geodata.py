"""sluicectl geodata: files built from the real sources in $SLUICE_GEODATA
(default ../shared/geodata) are read by a real v2ray-family reader (v2ray
4.34 loads them, refuses them truncated, and routes by them), and lookup
answers from them."""

import atexit
import json
import os
import shutil
import socket
import tempfile
import unittest

import harness
from harness import Listener, Ports, Proc, T, run, wait_tcp, clean_env
from probes import socks5_connect, wait_closed

GEODATA = os.environ.get("SLUICE_GEODATA") or os.path.join(harness.REPO, "..",
                                                           "shared", "geodata")


def sluicectl(*args, env=None):
    """(exit status, stdout, stderr) of sluicectl ARGS; never a sanitizer line."""
    if not os.path.exists(harness.SLUICECTL):
        raise AssertionError("%s does not exist" % harness.SLUICECTL)
    r = run([harness.SLUICECTL] + list(args), T(60), env=clean_env(env))
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    bad = [l for l in (out + err).splitlines()
           if any(p in l for p in harness.SAN_PATTERNS)]
    if bad:
        raise AssertionError("sanitizer report:\n" + out + err)
    return r.returncode, out, err


class Built:
    """built.dat (domain-list-community data/) and builtip.dat
    (ip2location-lite) in a temporary directory, made once per run."""
    dir = None

    @classmethod
    def get(cls):
        if cls.dir is None:
            for sub in ("dlc/data", "ip2location-lite"):
                if not os.path.isdir(os.path.join(GEODATA, sub)):
                    raise AssertionError("%s/%s missing: set SLUICE_GEODATA"
                                         % (GEODATA, sub))
            d = tempfile.mkdtemp(prefix="sluice-geodata-")
            for cmd, src, out in (("build-site", "dlc/data", "built.dat"),
                                  ("build-ip", "ip2location-lite", "builtip.dat")):
                rc, so, se = sluicectl("geodata", cmd, os.path.join(GEODATA, src),
                                       "-o", os.path.join(d, out))
                if rc != 0:
                    shutil.rmtree(d, ignore_errors=True)
                    raise AssertionError("%s: exit %d: %s%s" % (cmd, rc, so, se))
            atexit.register(shutil.rmtree, d, True)
            cls.dir = d
        return cls.dir


def copy_truncated(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:len(data) // 2])


class Backend(Listener):
    """A TCP server that reads a request and answers b'backend\\n'; it
    closes only after the peer did, so no reset can overtake the answer.
    One connection at a time, in the accepting thread."""

    def __init__(self, port):
        super().__init__(port, 16)

    def accepted(self, c, peer):
        with c:
            try:
                c.settimeout(T(10))
                req = b""
                while b"\r\n\r\n" not in req:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    req += chunk
                c.sendall(b"backend\n")
                c.shutdown(socket.SHUT_WR)
                while c.recv(4096):
                    pass
            except OSError:
                pass


def socks_fetch(port, host, dport=80):
    """Connect through the SOCKS5 proxy on PORT to (HOST, DPORT), send a
    request and return what comes back until EOF."""
    s = socks5_connect(port, host, dport)
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return wait_closed(s, T(10))[0]
    finally:
        s.close()


class GeodataV2ray(unittest.TestCase):
    """v2ray 4.34 (same wire format as Xray) reads what sluicectl built."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("v2ray"):
            raise unittest.SkipTest("v2ray not installed")
        cls.src = Built.get()
        cls.dir = tempfile.mkdtemp(prefix="sluice-geodata-v2ray-")
        for name in ("built.dat", "builtip.dat"):
            shutil.copy(os.path.join(cls.src, name), cls.dir)
            copy_truncated(os.path.join(cls.src, name),
                           os.path.join(cls.dir, "cut-" + name))
        cls.ports = Ports()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def config(self, domain, ip, socks=10999, backend=10998):
        return {"log": {"loglevel": "warning"},
                "inbounds": [{"tag": "in", "listen": "127.0.0.1", "port": socks,
                              "protocol": "socks",
                              "settings": {"auth": "noauth", "udp": False}}],
                "outbounds": [{"tag": "direct", "protocol": "freedom",
                               "settings": {"redirect": "127.0.0.1:%d" % backend}},
                              {"tag": "block", "protocol": "blackhole",
                               "settings": {"response": {"type": "http"}}}],
                "routing": {"domainStrategy": "AsIs",
                            "rules": [{"type": "field", "domain": [domain],
                                       "outboundTag": "block"},
                                      {"type": "field", "ip": [ip],
                                       "outboundTag": "block"}]}}

    def v2ray_test(self, domain, ip):
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(self.config(domain, ip), f)
        r = run(["v2ray", "-test", "-config", path], T(60),
                env=clean_env({"V2RAY_LOCATION_ASSET": self.dir}))
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")

    def test_loads(self):
        rc, out = self.v2ray_test("ext:built.dat:CN", "ext:builtip.dat:US")
        self.assertEqual(rc, 0, out)
        self.assertIn("Configuration OK", out)

    def test_looks_inside(self):
        rc, out = self.v2ray_test("ext:built.dat:NO-SUCH-CODE", "ext:builtip.dat:US")
        self.assertNotEqual(rc, 0, out)
        rc, out = self.v2ray_test("ext:built.dat:CN", "ext:builtip.dat:NO-SUCH-CODE")
        self.assertNotEqual(rc, 0, out)

    def test_refuses_truncated(self):
        rc, out = self.v2ray_test("ext:cut-built.dat:CN", "ext:builtip.dat:US")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("Configuration OK", out)
        rc, out = self.v2ray_test("ext:built.dat:CN", "ext:cut-builtip.dat:US")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("Configuration OK", out)

    def test_routes(self):
        """v2ray blocks by our CN and US lists and lets the rest through; the
        same names and addresses are checked with sluicectl lookup."""
        socks, bport = self.ports.get(), self.ports.get()
        path = os.path.join(self.dir, "route.json")
        with open(path, "w") as f:
            json.dump(self.config("ext:built.dat:CN", "ext:builtip.dat:US",
                                  socks, bport), f)
        backend = Backend(bport)
        proc = Proc("v2ray-geodata", ["v2ray", "-config", path], self.dir,
                    env=clean_env({"V2RAY_LOCATION_ASSET": self.dir}))
        try:
            wait_tcp(socks, T(20), proc)
            cases = [("www.baidu.com", True), ("qq.com", True),
                     ("example.org", False), ("8.8.8.8", True),
                     ("127.0.0.2", False)]
            for host, blocked in cases:
                with self.subTest(host=host):
                    rc, out, _ = sluicectl(
                        "geodata", "lookup", host, "--file",
                        os.path.join(self.dir, "builtip.dat" if host[0].isdigit()
                                     else "built.dat"))
                    lines = out.splitlines()
                    self.assertEqual("CN" in lines or "US" in lines, blocked, out)
                    got = socks_fetch(socks, host)
                    if blocked:
                        self.assertTrue(got.startswith(b"HTTP/1.1 403"), got)
                    else:
                        self.assertEqual(got, b"backend\n")
        finally:
            proc.stop()
            backend.close()


class GeodataLookup(unittest.TestCase):
    """sluicectl geodata lookup and the command's usage errors."""

    @classmethod
    def setUpClass(cls):
        cls.dir = Built.get()

    def lookup(self, what, file=None, env=None):
        args = ["geodata", "lookup", what]
        if file is not None:
            args += ["--file", file]
        return sluicectl(*args, env=env)

    def test_domain(self):
        rc, out, err = self.lookup("doubleclick.net",
                                   os.path.join(self.dir, "built.dat"))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        # google's doubleclick.net entry carries @ads: geosite:google@ads
        self.assertIn("GOOGLE @ads", lines)
        self.assertIn("CATEGORY-ADS-ALL @ads", lines)

    def test_asset_search(self):
        # no "/" in --file: found through $SLUICE_ASSET_DIR
        rc, out, err = self.lookup("WWW.Google.COM", "built.dat",
                                   env={"SLUICE_ASSET_DIR": self.dir})
        self.assertEqual(rc, 0, err)
        self.assertIn("GOOGLE", out.splitlines())
        rc, out, err = self.lookup("8.8.8.8", "builtip.dat",
                                   env={"SLUICE_ASSET_DIR": self.dir})
        self.assertEqual((rc, out), (0, "US\n"), err)

    def test_ip(self):
        ip = os.path.join(self.dir, "builtip.dat")
        self.assertEqual(self.lookup("::ffff:8.8.8.8", ip)[:2], (0, "US\n"))
        cn = os.path.join(GEODATA, "dat", "geoip-cn.dat")
        self.assertEqual(self.lookup("2400:da00::1", cn)[:2], (0, "CN\n"))
        self.assertEqual(self.lookup("10.1.2.3", cn)[:2], (0, "PRIVATE\n"))

    def test_not_found(self):
        rc, out, err = self.lookup("qwxz.zzqx",
                                   os.path.join(self.dir, "built.dat"))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("no code", err)
        rc, out, err = self.lookup("example.org", "nothere.dat",
                                   env={"SLUICE_ASSET_DIR": self.dir})
        self.assertEqual(rc, 1)
        self.assertIn("nothere.dat: not found in %s" % self.dir, err)

    def test_usage(self):
        for args in (["geodata"], ["geodata", "build-site", self.dir],
                     ["geodata", "build-ip"], ["geodata", "frobnicate", "x"],
                     ["geodata", "lookup", "x", "-o", "y"],
                     ["geodata", "lookup", "x", "--bogus"]):
            with self.subTest(args=args):
                rc, out, err = sluicectl(*args)
                self.assertEqual(rc, 2, err)
                self.assertIn("usage:", err)

    def test_build_errors(self):
        bad = os.path.join(harness.REPO, "tests", "data", "dlc", "badline")
        out = os.path.join(self.dir, "never.dat")
        rc, so, se = sluicectl("geodata", "build-site", bad, "-o", out)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("bad:3: invalid domain \"exa_mple.com\"", se)
        self.assertFalse(os.path.exists(out))
        rc, so, se = sluicectl("geodata", "build-ip",
                               os.path.join(self.dir, "no-such-dir"), "-o", out)
        self.assertEqual(rc, 1, so + se)
        self.assertFalse(os.path.exists(out))
