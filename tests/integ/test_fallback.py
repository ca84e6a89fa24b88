"""Fallbacks (spec/xray-protocols.md section 1): default dest, SNI name with
longest-substring match, ALPN h2 -> h2c, HTTP path, unix / abstract /
padded-abstract destinations, PROXY v1/v2 (xver) with the real client
address, and a nested VLESS -> (PROXY) -> inner Trojan tree."""

import socket
import struct


from harness import (DaemonTest, Daemon, V2rayClient, TrojanClient, T,
                     INDEX_HTML, FALLBACK_RE, ACCEPTED_RE, have, line_of,
                     vless_inbound, trojan_inbound)
from probes import (TLSClient, https_get, read_response, http_request,
                    curl_https, curl_sha256, curl_tls_args, s_client,
                    raw_connect, wait_closed)


class Fallback(DaemonTest):
    """One VLESS inbound with default, alpn and path fallbacks; one with
    name fallbacks; one Trojan inbound."""

    @classmethod
    def make_daemon(cls, env):
        ng = env.nginx
        cls.port = env.ports.get()
        cls.names_port = env.ports.get()
        cls.trojan_port = env.ports.get()
        cls.xver_port = env.ports.get()
        fallbacks = [
            {"dest": ng.port["web"]},
            {"alpn": "h2", "dest": ng.port["h2c"]},
            {"path": "/pp", "dest": ng.port["pp"], "xver": 1},
            {"path": "/pp2", "dest": "127.0.0.1:%d" % ng.port["pp"], "xver": 2},
            {"path": "/unix", "dest": ng.unix},
            {"path": "/abs", "dest": "@" + env.abstract_name()},
            {"path": "/padded", "dest": "@@" + env.padded_name()},
        ]
        names = [
            {"dest": ng.port["web"]},
            {"name": "example.test", "dest": ng.port["name1"]},
            {"name": "a.example.test", "dest": ng.port["name2"]},
            {"path": "/pp", "dest": ng.port["pp"], "xver": 1},
        ]
        return Daemon(env, "fallback", [
            vless_inbound(env, "in-vless", cls.port, fallbacks),
            vless_inbound(env, "in-names", cls.names_port, names),
            trojan_inbound(env, "in-trojan", cls.trojan_port,
                           [{"dest": ng.port["web"]}]),
            vless_inbound(env, "in-xver", cls.xver_port,
                          [{"dest": ng.port["pp"], "xver": 1}]),
        ])

    # -- default dest
    def test_default_dest_curl_http11(self):
        r = curl_https(self.env, self.port, "/index.html", http="1.1")
        self.assertEqual((r.rc, r.status, r.version), (0, 200, "1.1"), r)
        self.assertEqual(r.header("x-backend"), "web", r.headers)
        self.assertEqual(r.body, INDEX_HTML)

    def test_default_dest_s_client(self):
        rc, out, err = s_client(self.env, self.port,
                                b"GET /index.html HTTP/1.0\r\nHost: example.test\r\n\r\n")
        self.assertEqual(rc, 0, err)
        self.assertIn(b"HTTP/1.1 200 OK", out)
        self.assertIn(b"X-Backend: web", out)
        self.assertTrue(out.endswith(INDEX_HTML), out[-300:])

    def test_default_dest_no_alpn_no_sni(self):
        with TLSClient(self.port, self.env.pki["ca"], sni=None, alpn=None) as c:
            c.send(http_request("/index.html"))
            r = read_response(c)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-backend"), "web")

    def test_default_dest_big_file(self):
        rc, sha, size, err = curl_sha256(
            self.env, "https://example.test:%d/big.bin" % self.port,
            ["--http1.1"] + curl_tls_args(self.env, self.port), timeout=T(120))
        self.assertEqual(rc, 0, err)
        self.assertEqual((size, sha), (100 << 20, self.env.big_sha256))

    # -- alpn
    def test_alpn_h2_to_h2c_backend(self):
        r = curl_https(self.env, self.port, "/index.html", http="2")
        self.assertEqual((r.rc, r.status, r.version), (0, 200, "2"), r)
        self.assertEqual(r.header("x-backend"), "h2c", r.headers)
        self.assertEqual(r.body, INDEX_HTML)

    def test_alpn_h2_ignores_path(self):
        # h2 traffic never gets path routing (the preface is "PRI * ...")
        r = curl_https(self.env, self.port, "/pp", http="2")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.header("x-backend"), "h2c", r.headers)

    # -- path
    def test_path_exact(self):
        r = curl_https(self.env, self.port, "/pp")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header("x-backend"), "pp", r.headers)

    def test_path_with_query(self):
        r = curl_https(self.env, self.port, "/pp?x=1")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header("x-backend"), "pp", r.headers)

    def test_path_prefix_goes_to_default(self):
        r = curl_https(self.env, self.port, "/pp/x")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.header("x-backend"), "web", r.headers)

    def test_path_other_method(self):
        with TLSClient(self.port, self.env.pki["ca"]) as c:
            c.send(b"HEAD /pp HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
            data = c.recv_until_eof(T(10))
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(b"X-Backend: pp", data)

    # -- destinations
    def test_dest_unix_socket(self):
        r = curl_https(self.env, self.port, "/unix")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header("x-backend"), "unix", r.headers)
        self.assertEqual(r.body, b"backend file /unix\n")

    def test_dest_abstract(self):
        r = curl_https(self.env, self.port, "/abs")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header("x-backend"), "abs", r.headers)

    def test_dest_padded_abstract_haproxy(self):
        r = curl_https(self.env, self.port, "/padded")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header("x-backend"), "padded", r.headers)

    # -- xver
    def _xver(self, path):
        r, sport = https_get(self.env, self.port, path)
        self.assertEqual(r.status, 200, r.raw_headers)
        self.assertEqual(r.header("x-backend"), "pp", r.raw_headers)
        self.assertEqual(r.header("x-proxy-client"), "127.0.0.1:%d" % sport,
                         r.raw_headers)

    def test_xver1_client_address(self):
        self._xver("/pp")

    def test_xver2_client_address(self):
        self._xver("/pp2")

    def test_xver1_default_dest_big_file(self):
        rc, sha, size, err = curl_sha256(
            self.env, "https://example.test:%d/big.bin" % self.xver_port,
            ["--http1.1"] + curl_tls_args(self.env, self.xver_port), timeout=T(120))
        self.assertEqual(rc, 0, err)
        self.assertEqual((size, sha), (100 << 20, self.env.big_sha256))
        self.assertTrue([l for l in self.env.nginx.access_lines("pp")
                         if "/big.bin" in l and "pp=127.0.0.1:" in l])

    # -- name (SNI)
    def _name(self, sni, backend, path="/index.html"):
        r, _ = https_get(self.env, self.names_port, path, sni=sni)
        self.assertEqual(r.status, 200, r.raw_headers)
        self.assertEqual(r.header("x-backend"), backend,
                         "SNI %r: %r" % (sni, r.raw_headers))

    def test_name_exact(self):
        self._name("example.test", "name1")
        self._name("a.example.test", "name2")

    def test_name_longest_substring(self):
        self._name("b.a.example.test", "name2")
        self._name("x.example.test", "name1")

    def test_name_no_match_default(self):
        self._name("other.test", "web")

    def test_name_no_sni_default(self):
        self._name(None, "web")

    def test_name_inherits_default_paths(self):
        # Pass C: a named entry inherits the default name's path map
        r, sport = https_get(self.env, self.names_port, "/pp", sni="x.example.test")
        self.assertEqual(r.header("x-backend"), "pp", r.raw_headers)
        self.assertEqual(r.header("x-proxy-client"), "127.0.0.1:%d" % sport)

    # -- trojan inbound fallback
    def test_trojan_inbound_fallback(self):
        r = curl_https(self.env, self.trojan_port, "/index.html")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header("x-backend"), "web")
        self.assertEqual(r.body, INDEX_HTML)

    # -- access log
    def test_access_log_fallback_line(self):
        r, sport = https_get(self.env, self.port, "/index.html")
        self.assertEqual(r.status, 200)
        m = self.daemon.wait_log(FALLBACK_RE,
                                 pred=lambda m: m.group("sport") == str(sport))
        line = line_of(m)
        self.assertEqual(m.group("inb"), "in-vless", line)
        self.assertIn(str(self.env.nginx.port["web"]), m.group("dest"), line)
        self.assertIn("sni=example.test", line)
        self.assertIn("alpn=http/1.1", line)
        self.assertRegex(line, r"path=/index\.html\b")
        self.assertRegex(line, r"up=\d+ down=\d+")


class Nested(DaemonTest):
    """VLESS front (TLS) -> fallback {dest: inner, xver 1|2} -> inner Trojan
    inbound (acceptProxyProtocol, no TLS) -> its own fallbacks to nginx."""

    @classmethod
    def make_daemon(cls, env):
        ng = env.nginx
        cls.front1 = env.ports.get()
        cls.front2 = env.ports.get()
        cls.inner = env.ports.get()
        inner_dest = "127.0.0.1:%d" % cls.inner
        return Daemon(env, "nested", [
            vless_inbound(env, "in-front1", cls.front1,
                          [{"dest": inner_dest, "xver": 1}]),
            vless_inbound(env, "in-front2", cls.front2,
                          [{"dest": inner_dest, "xver": 2}]),
            trojan_inbound(env, "in-inner", cls.inner,
                           [{"dest": ng.port["web"]},
                            {"path": "/pp", "dest": ng.port["pp"], "xver": 2}],
                           tls=False, accept_proxy=True),
        ])

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.stop()
        super().tearDown()

    def test_browser_request_reaches_nginx(self):
        for port in (self.front1, self.front2):
            r = curl_https(self.env, port, "/index.html")
            self.assertEqual((r.rc, r.status), (0, 200), r)
            self.assertEqual(r.header("x-backend"), "web")
            self.assertEqual(r.body, INDEX_HTML)

    def test_client_address_through_two_hops(self):
        for port in (self.front1, self.front2):
            r, sport = https_get(self.env, port, "/pp")
            self.assertEqual(r.header("x-backend"), "pp", r.raw_headers)
            self.assertEqual(r.header("x-proxy-client"), "127.0.0.1:%d" % sport,
                             r.raw_headers)

    def test_inner_log_shows_original_client(self):
        r, sport = https_get(self.env, self.front1, "/index.html")
        self.assertEqual(r.status, 200)
        m = self.daemon.wait_log(
            r"from 127\.0\.0\.1:%d \S+.*\[in-inner" % sport)
        self.assertTrue(m)

    def _plain_to_inner(self, header, path="/pp"):
        s = raw_connect(self.inner)
        try:
            s.sendall(header + b"GET %s HTTP/1.0\r\nHost: example.test\r\n\r\n"
                      % path.encode())
            data, _ = wait_closed(s, T(15))
        finally:
            s.close()
        return data

    def test_inner_proxy_v1_source_reemitted(self):
        # the inner inbound's own xver 2 fallback carries the address it was
        # given, not the socket's
        data = self._plain_to_inner(
            b"PROXY TCP4 203.0.113.5 127.0.0.1 51234 443\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(b"X-Proxy-Client: 203.0.113.5:51234\r\n", data)

    def test_inner_proxy_v2_source_reemitted(self):
        v2 = (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"
              + socket.inet_aton("198.51.100.7") + socket.inet_aton("127.0.0.1")
              + struct.pack(">HH", 40000, 443))
        data = self._plain_to_inner(v2)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertIn(b"X-Proxy-Client: 198.51.100.7:40000\r\n", data)

    def test_inner_requires_proxy_header(self):
        # acceptProxyProtocol is REQUIRE: no header, no service, no bytes
        self.assertEqual(self._plain_to_inner(b"", path="/index.html"), b"")

    def test_trojan_gfw_through_front(self):
        if not have("trojan"):
            self.skipTest("trojan not installed")
        c = TrojanClient(self.env, self.front1, name="trojan-nested")
        self.clients.append(c)
        socks = ["--socks5-hostname", "127.0.0.1:%d" % c.socks]
        url = "http://127.0.0.1:%d" % self.env.nginx.port["web"]
        rc, sha, size, err = curl_sha256(self.env, url + "/big.bin", socks,
                                         timeout=T(120))
        self.assertEqual(rc, 0, err)
        self.assertEqual((size, sha), (100 << 20, self.env.big_sha256))
        # the inner inbound authenticated it, and logged the client address
        # the front saw (from the PROXY header), not the front's own socket
        m = self.daemon.wait_log(ACCEPTED_RE,
                                 pred=lambda m: m.group("inb") == "in-inner")
        self.assertEqual(m.group("email"), "t@test")
        front = self.daemon.wait_log(
            FALLBACK_RE, pred=lambda f: f.group("inb") == "in-front1"
            and f.group("sport") == m.group("sport"))
        self.assertIn(str(self.inner), front.group("dest"))

    def test_v2ray_trojan_through_xver2_front(self):
        if not have("v2ray"):
            self.skipTest("v2ray not installed")
        c = V2rayClient(self.env, [("trojan", self.front2)], name="v2ray-nested")
        self.clients.append(c)
        r = self._socks_get(c.socks[0])
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, INDEX_HTML)

    def _socks_get(self, socks):
        from probes import curl
        return curl(self.env, "http://127.0.0.1:%d/index.html"
                    % self.env.nginx.port["web"],
                    ["--socks5-hostname", "127.0.0.1:%d" % socks], timeout=T(30))
