"""Routing with live tunnels: v2ray 4.34 (VLESS) and trojan-gfw clients
through sluiced's rules to blackhole, freedom, a SOCKS5 upstream and an
HTTP CONNECT upstream; sniffing that turns an address into a name; a
leastPing balancer with a dead member fed by the observatory; and
`sluicectl route` agreeing with what the daemon did."""

import json
import select
import socket
import subprocess
import threading

import harness

from harness import (DaemonTest, Daemon, Listener, V2rayClient, TrojanClient,
                     T, INDEX_HTML, ACCEPTED_RE, SLUICECTL, have, poll,
                     vless_inbound, trojan_inbound, clean_env)
from probes import curl, recv_exact


class Upstream(Listener):
    """A tiny SOCKS5 (no auth) or HTTP CONNECT proxy on 127.0.0.1 that
    records every target it is asked for and sends every connection to
    127.0.0.1:<that port>, whatever the name (so test names need no DNS)."""

    def __init__(self, ports, kind):
        self.kind = kind
        self.targets = []
        self.lock = threading.Lock()
        super().__init__(ports.get(), 64)

    def accepted(self, c, peer):
        self.spawn(self._serve, c)

    def _socks(self, c):
        ver, n = recv_exact(c, 2)
        recv_exact(c, n)
        c.sendall(b"\x05\x00")
        _, cmd, _, atyp = recv_exact(c, 4)
        if atyp == 1:
            host = socket.inet_ntoa(recv_exact(c, 4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
        else:
            host = recv_exact(c, recv_exact(c, 1)[0]).decode()
        port = int.from_bytes(recv_exact(c, 2), "big")
        return host, port, b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00"

    def _http(self, c):
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(1)
            if not d:
                raise ConnectionError("short")
            head += d
        target = head.split(b" ")[1].decode()
        host, _, port = target.rpartition(":")
        return host.strip("[]"), int(port), b"HTTP/1.1 200 Connection established\r\n\r\n"

    def _serve(self, c):
        try:
            host, port, reply = (self._socks if self.kind == "socks"
                                 else self._http)(c)
            with self.lock:
                self.targets.append("%s:%d" % (host, port))
            u = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(reply)
            self._pipe(c, u)
        except (OSError, ValueError, ConnectionError):
            pass
        finally:
            c.close()

    @staticmethod
    def _pipe(a, b):
        socks = [a, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 10)
                if not r:
                    return
                for s in r:
                    d = s.recv(65536)
                    if not d:
                        return
                    (b if s is a else a).sendall(d)
        finally:
            b.close()

    def seen(self):
        with self.lock:
            return list(self.targets)


class Routing(DaemonTest):

    @classmethod
    def make_daemon(cls, env):
        cls.vless = env.ports.get()
        cls.trojan = env.ports.get()
        cls.socks_up = Upstream(env.ports, "socks")
        cls.http_up = Upstream(env.ports, "http")
        cls.dead = env.ports.get()          # nothing listens here
        web = env.nginx.port["web"]
        cls.web = web
        inb = vless_inbound(env, "in-vless", cls.vless,
                            [{"dest": web}])
        inb["sniffing"] = {"enabled": True, "destOverride": ["http"]}
        outs = [
            {"tag": "direct", "protocol": "freedom", "settings": {
                "finalRules": [{"action": "allow",
                                "ip": ["127.0.0.0/8", "::1/128"]}]}},
            {"tag": "block", "protocol": "blackhole"},
            {"tag": "up-socks", "protocol": "socks", "settings": {
                "servers": [{"address": "127.0.0.1", "port": cls.socks_up.port}]}},
            {"tag": "up-http", "protocol": "http", "settings": {
                "servers": [{"address": "127.0.0.1", "port": cls.http_up.port}]}},
            {"tag": "pool-a-dead", "protocol": "socks", "settings": {
                "servers": [{"address": "127.0.0.1", "port": cls.dead}]}},
            {"tag": "pool-b-live", "protocol": "socks", "settings": {
                "servers": [{"address": "127.0.0.1", "port": cls.socks_up.port}]}},
        ]
        cls.routing = {
            "domainStrategy": "AsIs",
            "rules": [
                {"domain": ["full:blocked.test"], "outboundTag": "block",
                 "ruleTag": "r-block"},
                {"domain": ["domain:socks.test"], "outboundTag": "up-socks",
                 "ruleTag": "r-socks"},
                {"domain": ["keyword:viahttp"], "outboundTag": "up-http"},
                {"domain": ["full:sniffed.test"], "outboundTag": "up-socks",
                 "ruleTag": "r-sniffed"},
                {"domain": ["full:bal.test"], "balancerTag": "bal",
                 "ruleTag": "r-bal"},
                {"ip": ["127.0.0.2/32"], "outboundTag": "block"},
                {"inboundTag": ["in-trojan"], "domain": ["full:trojan.test"],
                 "outboundTag": "up-socks"},
            ],
            "balancers": [{"tag": "bal", "selector": ["pool-"],
                           "strategy": {"type": "leastPing"}}],
        }
        d = Daemon(env, "routing", [
            inb, trojan_inbound(env, "in-trojan", cls.trojan, [{"dest": web}]),
        ], outs)
        d.config["routing"] = cls.routing
        d.config["observatory"] = {
            "subjectSelector": ["pool-"], "probeInterval": "1s",
            "probeURL": "http://127.0.0.1:%d/index.html" % web}
        d.config["sluice"]["statsInterval"] = 1
        d.write_config(d.config)
        d.start()
        cls.v2ray, cls.tgfw = cls.start_clients(
            d, lambda: V2rayClient(env, [("vless", cls.vless)],
                                   name="v2ray-routing"),
            (lambda: TrojanClient(env, cls.trojan, name="trojan-routing"))
            if have("trojan") else None)
        return d

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for u in (cls.socks_up, cls.http_up):
                u.stop()

    def get(self, host, path="/index.html", socks=None, extra=()):
        socks = socks or self.v2ray.socks[0]
        return curl(self.env, "http://%s:%d%s" % (host, self.web, path),
                    ["--socks5-hostname", "127.0.0.1:%d" % socks] + list(extra),
                    timeout=T(20))

    def outbound_of(self, host):
        m = self.daemon.wait_log(
            ACCEPTED_RE, pred=lambda m: m.group("host") == host)
        return m.group("outb")

    def test_default_is_first_outbound(self):
        r = self.get("127.0.0.1")
        self.assertEqual((r.rc, r.status, r.body), (0, 200, INDEX_HTML), r)

    def test_blackhole_rule(self):
        r = self.get("blocked.test")
        self.assertNotEqual(r.status, 200, r)
        self.assertEqual(self.outbound_of("blocked.test"), "block")
        self.assertRegex(self.daemon.read("access"), r"blocked\.test.* rule=r-block")

    def test_ip_rule_blocks(self):
        r = self.get("127.0.0.2")
        self.assertNotEqual(r.status, 200, r)
        self.assertEqual(self.outbound_of("127.0.0.2"), "block")

    def test_socks_upstream(self):
        r = self.get("www.socks.test", path="/index.html?via=socks")
        self.assertEqual((r.rc, r.status, r.body), (0, 200, INDEX_HTML), r)
        self.assertIn("www.socks.test:%d" % self.web, self.socks_up.seen())
        self.assertEqual(self.outbound_of("www.socks.test"), "up-socks")

    def test_http_connect_upstream(self):
        r = self.get("a.viahttp.example", path="/index.html?via=http")
        self.assertEqual((r.rc, r.status, r.body), (0, 200, INDEX_HTML), r)
        self.assertIn("a.viahttp.example:%d" % self.web, self.http_up.seen())

    def test_big_download_through_socks_upstream(self):
        url = "http://x.socks.test:%d/big.bin" % self.web
        from probes import curl_sha256
        rc, sha, size, err = curl_sha256(
            self.env, url, ["--socks5-hostname",
                            "127.0.0.1:%d" % self.v2ray.socks[0]],
            timeout=T(120))
        self.assertEqual((rc, size, sha), (0, 100 << 20, self.env.big_sha256), err)

    def test_sniffed_host_routes(self):
        # the client asks for an address; the HTTP Host names the rule
        r = self.get("127.0.0.1", path="/index.html?sniff=1",
                     extra=["-H", "Host: sniffed.test"])
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertIn("sniffed.test:%d" % self.web, self.socks_up.seen())

    def test_trojan_inbound_tag_rule(self):
        if self.tgfw is None:
            self.skipTest("trojan not installed")
        r = self.get("trojan.test", socks=self.tgfw.socks)
        self.assertEqual((r.rc, r.status, r.body), (0, 200, INDEX_HTML), r)
        self.assertIn("trojan.test:%d" % self.web, self.socks_up.seen())

    def test_balancer_skips_dead_member(self):
        # leastPing needs the observer's first probes of both members
        def both_probed():
            return "127.0.0.1:%d" % self.web in self.socks_up.seen()
        poll(both_probed, T(20), what="observatory probe through pool-b-live")
        for i in range(8):
            r = self.get("bal.test", path="/index.html?bal=%d" % i)
            self.assertEqual((r.rc, r.status, r.body), (0, 200, INDEX_HTML), r)
        self.assertEqual(self.outbound_of("bal.test"), "pool-b-live")

    def test_probe_history_in_status(self):
        """The observatory's results are stored and `sluicectl status`
        shows them: the live member up, the dead one down."""
        def probes():
            r = subprocess.run([harness.SLUICECTL, "-c", self.daemon.conf,
                                "status", "--json"], capture_output=True,
                               text=True, timeout=T(20))
            p = json.loads(r.stdout)["database"]["probes"]
            return p if {"pool-a-dead", "pool-b-live"} <= set(p) else None
        p = poll(probes, T(20), what="probe history of both members")
        self.assertTrue(any(e["alive"] for e in p["pool-b-live"]))
        self.assertFalse(any(e["alive"] for e in p["pool-a-dead"]))
        text = subprocess.run([harness.SLUICECTL, "-c", self.daemon.conf,
                               "status"], capture_output=True, text=True,
                              timeout=T(20)).stdout
        self.assertRegex(text, r"(?m)^pool-b-live\s+ up \d+ ms,")
        self.assertRegex(text, r"(?m)^pool-a-dead\s+ down,")

    def test_sluicectl_route_agrees(self):
        queries = ["blocked.test:80", "www.socks.test:80", "a.viahttp.x:80",
                   "127.0.0.2:80", "example.org:443",
                   "--inbound in-trojan trojan.test:80",
                   "--inbound in-vless trojan.test:80"]
        p = subprocess.run([SLUICECTL, "route", "-c", self.daemon.conf,
                            "--json", "--batch"], input="\n".join(queries),
                           capture_output=True, text=True, timeout=T(60),
                           env=clean_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        got = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([g["outbound"] for g in got],
                         ["block", "up-socks", "up-http", "block", "direct",
                          "up-socks", "direct"], p.stdout)
        self.assertEqual([g["rule"] for g in got], [0, 1, 2, 5, -1, 6, -1])
        self.assertEqual(got[0]["ruleTag"], "r-block")
        self.assertEqual(got[0]["decidedBy"], "domain")
