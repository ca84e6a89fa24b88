"""Tunnels with real clients: v2ray 4.34 (VLESS and Trojan outbounds) and
trojan-gfw 1.16, through sluiced's freedom outbound to nginx; and the
default refusal of private destinations."""

import random
import struct
import uuid

from harness import (DaemonTest, Daemon, V2rayClient, TrojanClient, Recorder, T,
                     INDEX_HTML, ACCEPTED_RE, have, line_of, outbounds,
                     vless_inbound, trojan_inbound, VLESS_UUID)
from probes import (TLSClient, curl, curl_https, curl_sha256, read_response,
                    socks5_connect)


class TunnelBase(DaemonTest):

    def socks_get(self, socks, path="/index.html", host="127.0.0.1", port=None,
                  timeout=None):
        port = port or self.env.nginx.port["web"]
        return curl(self.env, "http://%s:%d%s" % (host, port, path),
                    ["--socks5-hostname", "127.0.0.1:%d" % socks],
                    timeout=timeout or T(30))

    def socks_big(self, socks):
        url = "http://127.0.0.1:%d/big.bin" % self.env.nginx.port["web"]
        rc, sha, size, err = curl_sha256(
            self.env, url, ["--socks5-hostname", "127.0.0.1:%d" % socks],
            timeout=T(120))
        self.assertEqual(rc, 0, err)
        self.assertEqual(size, 100 << 20)
        self.assertEqual(sha, self.env.big_sha256)


class Tunnel(TunnelBase):

    @classmethod
    def make_daemon(cls, env):
        cls.vless = env.ports.get()
        cls.trojan = env.ports.get()
        cls.rec = Recorder(env.ports)
        fb = [{"dest": env.nginx.port["web"]}]
        d = Daemon(env, "tunnel", [
            vless_inbound(env, "in-vless", cls.vless, fb),
            trojan_inbound(env, "in-trojan", cls.trojan, fb),
        ], outbounds(allow_private=True)).start()
        cls.v2ray, cls.trojan_gfw = cls.start_clients(
            d, (lambda: V2rayClient(env, [("vless", cls.vless),
                                          ("trojan", cls.trojan)]))
            if have("v2ray") else None,
            (lambda: TrojanClient(env, cls.trojan))
            if have("trojan") else None)
        return d

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.rec.close()

    def upload(self, socks, seed):
        """16 MiB through the tunnel to the recorder: the destination gets
        exactly the bytes sent (the uplink counterpart of the sha256 test)."""
        sent = random.Random(seed).randbytes(16 << 20)
        n0 = self.rec.count()
        s = socks5_connect(socks, "127.0.0.1", self.rec.port, timeout=T(30))
        try:
            s.sendall(sent)
            self.rec.expect(n0, sent, T(60), "upload")
        finally:
            s.close()

    def need(self, client, what):
        if client is None:
            self.skipTest(what + " not installed")
        return client

    def test_vless_header_split_over_records_in_one_segment(self):
        # The request header ends in a second record that arrives with
        # the first: the server holds it already read (OpenSSL read-ahead)
        # and must go on without waiting for more input.
        req = (b"\x00" + uuid.UUID(VLESS_UUID).bytes + b"\x00\x01"
               + struct.pack(">H", self.env.nginx.port["web"])
               + b"\x01\x7f\x00\x00\x01"
               + b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n"
               b"Connection: close\r\n\r\n")
        for cut in (20, 24, 30):
            with TLSClient(self.vless, self.env.pki["ca"],
                           timeout=T(10)) as c:
                c.send_records([req[:cut], req[cut:]])
                head = b""
                while len(head) < 2:
                    head += c.recv()
                self.assertEqual(head[:2], b"\x00\x00", "cut %d" % cut)
                rest = head[2:]
                data = rest + c.recv_until_eof(T(10))
            self.assertIn(b"HTTP/1.1 200", data[:64], "cut %d" % cut)
            self.assertTrue(data.endswith(INDEX_HTML), "cut %d" % cut)

    # v2ray VLESS
    def test_vless_v2ray_small(self):
        c = self.need(self.v2ray, "v2ray")
        r = self.socks_get(c.socks[0])
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, INDEX_HTML)

    def test_vless_v2ray_big_sha256(self):
        self.socks_big(self.need(self.v2ray, "v2ray").socks[0])

    def test_vless_v2ray_upload_exact(self):
        self.upload(self.need(self.v2ray, "v2ray").socks[0], 11)

    def test_vless_v2ray_domain_destination(self):
        # "localhost" is resolved by the daemon (all addresses tried)
        c = self.need(self.v2ray, "v2ray")
        r = self.socks_get(c.socks[0], host="localhost")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, INDEX_HTML)

    def test_vless_access_log(self):
        c = self.need(self.v2ray, "v2ray")
        web = self.env.nginx.port["web"]
        r = self.socks_get(c.socks[0], path="/index.html?log=vless")
        self.assertEqual(r.status, 200, r)
        m = self.daemon.wait_log(
            ACCEPTED_RE, pred=lambda m: m.group("inb") == "in-vless"
            and m.group("port") == str(web))
        line = line_of(m)
        self.assertEqual(m.group("host"), "127.0.0.1", line)
        self.assertEqual(m.group("outb"), "direct", line)
        self.assertEqual(m.group("email"), "a@test", line)
        self.assertRegex(line, r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)? from 127\.0\.0\.1:\d+ ")
        self.assertRegex(line, r"up=\d+ down=\d+ time=\d+\.\d+s")

    # v2ray Trojan outbound
    def test_trojan_v2ray_small(self):
        c = self.need(self.v2ray, "v2ray")
        r = self.socks_get(c.socks[1])
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, INDEX_HTML)

    # trojan-gfw
    def test_trojan_gfw_small(self):
        c = self.need(self.trojan_gfw, "trojan")
        r = self.socks_get(c.socks)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, INDEX_HTML)

    def test_trojan_gfw_big_sha256(self):
        self.socks_big(self.need(self.trojan_gfw, "trojan").socks)

    def test_trojan_gfw_upload_exact(self):
        self.upload(self.need(self.trojan_gfw, "trojan").socks, 12)

    def test_trojan_access_log(self):
        c = self.need(self.trojan_gfw, "trojan")
        r = self.socks_get(c.socks, path="/index.html?log=trojan")
        self.assertEqual(r.status, 200, r)
        m = self.daemon.wait_log(ACCEPTED_RE,
                                 pred=lambda m: m.group("inb") == "in-trojan")
        self.assertEqual((m.group("outb"), m.group("email")), ("direct", "t@test"))

    def test_fallback_still_serves_probes(self):
        for port in (self.vless, self.trojan):
            r = curl_https(self.env, port)
            self.assertEqual((r.rc, r.status), (0, 200), r)
            self.assertEqual(r.body, INDEX_HTML)


class TunnelNoPrivate(TunnelBase):
    """Without a finalRules allow rule, proxied traffic must not reach
    loopback (the server's own backends)."""

    @classmethod
    def make_daemon(cls, env):
        if not have("v2ray"):
            raise __import__("unittest").SkipTest("v2ray not installed")
        cls.vless = env.ports.get()
        d = Daemon(env, "noprivate", [
            vless_inbound(env, "in-vless", cls.vless,
                          [{"dest": env.nginx.port["web"]}]),
        ], outbounds(allow_private=False)).start()
        cls.v2ray, = cls.start_clients(
            d, lambda: V2rayClient(env, [("vless", cls.vless)],
                                   name="v2ray-noprivate"))
        return d

    def test_loopback_destination_refused(self):
        # sluiced holds a blocked request open for blockDelay (30-90 s by
        # default) without a byte; a few seconds show that nothing comes
        marker = uuid.uuid4().hex
        r = self.socks_get(self.v2ray.socks[0],
                           path="/index.html?private=" + marker, timeout=T(5))
        self.assertEqual(r.status, 0, r)
        self.assertEqual(r.body, b"", r)
        self.assertNotEqual(r.rc, 0, r)
        hits = [l for l in self.env.nginx.access_lines("web") if marker in l]
        self.assertEqual(hits, [], "nginx saw the request")

    def test_fallback_unaffected(self):
        r = curl_https(self.env, self.vless)
        self.assertEqual((r.rc, r.status), (0, 200), r)
