"""Hostile and odd clients: garbage, short, slow, silent, half-open, never
finishing the handshake, unmatched fallbacks, unknown credentials, many at
once.  policy.levels.0.handshake is 2 s here."""

import hashlib
import random
import struct
import threading
import time
import uuid

from harness import (DaemonTest, Daemon, Recorder, T, INDEX_HTML,
                     REJECTED_RE, vless_inbound, trojan_inbound)
from probes import (TLSClient, read_response, http_request, raw_connect,
                    wait_closed)

HANDSHAKE = 2


def garbage(n, seed):
    b = bytearray(random.Random(seed).randbytes(n))
    b[0] = 0xff               # neither VLESS version 0 nor hex (Trojan)
    return bytes(b)


class Hostile(DaemonTest):

    @classmethod
    def make_daemon(cls, env):
        cls.rec = Recorder(env.ports)
        web = env.nginx.port["web"]
        cls.p_rec = env.ports.get()        # default -> recorder
        cls.p_web = env.ports.get()        # default -> nginx
        cls.p_nodef = env.ports.get()      # only a "name" fallback
        cls.p_trojan = env.ports.get()     # trojan, default -> recorder
        return Daemon(env, "hostile", [
            vless_inbound(env, "in-rec", cls.p_rec, [{"dest": cls.rec.port}]),
            vless_inbound(env, "in-web", cls.p_web, [{"dest": web}]),
            vless_inbound(env, "in-nodef", cls.p_nodef,
                          [{"name": "other.test", "dest": web}]),
            trojan_inbound(env, "in-trojan", cls.p_trojan,
                           [{"dest": cls.rec.port}]),
        ], handshake=HANDSHAKE)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.rec.close()

    def tls(self, port, **kw):
        return TLSClient(port, self.env.pki["ca"], **kw)

    def recorded_exactly(self, n0, sent, what):
        """The recorder's connection number n0 got exactly `sent`."""
        self.rec.expect(n0, sent, T(15), what)

    # -- bytes reach the fallback untouched
    def test_garbage_reaches_default_unchanged(self):
        sent = garbage(200_000, 1)
        n0 = self.rec.count()
        with self.tls(self.p_rec) as c:
            c.send(sent[:1000])          # first packet
            c.send(sent[1000:])
            self.recorded_exactly(n0, sent, "garbage")

    def test_garbage_trojan_inbound_unchanged(self):
        sent = garbage(100_000, 2)
        n0 = self.rec.count()
        with self.tls(self.p_trojan) as c:
            c.send(sent[:100])
            c.send(sent[100:])
            self.recorded_exactly(n0, sent, "trojan garbage")

    def test_unknown_vless_uuid_falls_back(self):
        req = (b"\x00" + uuid.uuid4().bytes + b"\x00\x01" + struct.pack(">H", 80)
               + b"\x01\x7f\x00\x00\x01" + b"GET / HTTP/1.1\r\n\r\n")
        n0 = self.rec.count()
        with self.tls(self.p_rec) as c:
            c.send(req)
            self.recorded_exactly(n0, req, "unknown uuid")

    def test_wrong_trojan_password_falls_back(self):
        key = hashlib.sha224(b"not-the-password").hexdigest().encode()
        req = (key + b"\r\n\x01\x01\x7f\x00\x00\x01" + struct.pack(">H", 80)
               + b"\r\nGET / HTTP/1.1\r\n\r\n")
        n0 = self.rec.count()
        with self.tls(self.p_trojan) as c:
            c.send(req)
            self.recorded_exactly(n0, req, "wrong trojan password")
        self.daemon.wait_log(REJECTED_RE,
                             pred=lambda m: m.group("inb") == "in-trojan")

    def test_known_uuid_bad_command_rejected_not_fallback(self):
        # after a valid UUID any header error is a rejection, never a fallback
        req = (b"\x00" + uuid.UUID("27848739-7e62-4138-9fd3-098a63964b6b").bytes
               + b"\x00\x09" + struct.pack(">H", 80) + b"\x01\x7f\x00\x00\x01")
        n0 = self.rec.count()
        with self.tls(self.p_rec) as c:
            c.send(req)
            data = c.recv_until_eof(T(10))
        self.assertEqual(data, b"")
        self.assertEqual(self.rec.count(), n0, "a fallback connection was opened")

    # -- short / slow / half-open first packets
    def test_short_first_packet(self):
        with self.tls(self.p_web) as c:
            c.send(b"GET / HTTP/1.1\r\n")                  # 16 bytes < 18
            time.sleep(0.1)        # a separate record the server sees later
            c.send(b"Host: example.test\r\nConnection: close\r\n\r\n")
            r = read_response(c)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, INDEX_HTML)

    def test_slow_client_one_byte_per_200ms(self):
        req = b"GET / HTTP/1.0\r\n\r\n"
        with self.tls(self.p_web, timeout=T(30)) as c:
            for i in range(len(req)):
                c.send(req[i:i + 1])
                time.sleep(0.2)
            r = read_response(c, T(15))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, INDEX_HTML)

    def test_half_open_client_gets_full_response(self):
        with self.tls(self.p_web) as c:
            c.send(b"GET /index.html HTTP/1.0\r\nHost: example.test\r\n\r\n")
            c.shutdown_write()
            data = c.recv_until_eof(T(15))
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
        self.assertTrue(data.endswith(INDEX_HTML), data[-100:])

    def test_half_open_client_big_response(self):
        with self.tls(self.p_web, timeout=T(60)) as c:
            c.send(b"GET /big.bin HTTP/1.0\r\nHost: example.test\r\n\r\n")
            c.shutdown_write()
            h = hashlib.sha256()
            head = b""
            size = 0
            while True:
                d = c.recv(T(30))
                if not d:
                    break
                if head is not None:
                    head += d
                    i = head.find(b"\r\n\r\n")
                    if i < 0:
                        continue
                    self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
                    d, head = head[i + 4:], None
                h.update(d)
                size += len(d)
        self.assertEqual((size, h.hexdigest()), (100 << 20, self.env.big_sha256))

    # -- silent / stuck clients
    def test_silent_client_closed_after_handshake_timeout(self):
        n0 = self.rec.count()
        with self.tls(self.p_rec) as c:
            t0 = time.monotonic()
            data = c.recv_until_eof(T(HANDSHAKE + 8))
            took = time.monotonic() - t0
        self.assertEqual(data, b"", "silent client received application bytes")
        self.assertGreaterEqual(took, HANDSHAKE * 0.5,
                                "closed before the handshake timeout")
        self.assertEqual(self.rec.count(), n0,
                         "a silent client must not open a fallback connection")

    def test_unfinished_tls_handshake_closed(self):
        s = raw_connect(self.p_web)
        try:
            # a TLS record header announcing a 512-byte ClientHello, then nothing
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            data, took = wait_closed(s, T(HANDSHAKE + 10))
        finally:
            s.close()
        self.assertNotIn(b"HTTP/", data)

    def test_no_bytes_at_all_closed(self):
        s = raw_connect(self.p_web)
        try:
            data, took = wait_closed(s, T(HANDSHAKE + 10))
        finally:
            s.close()
        self.assertEqual(data, b"")

    # -- no fallback matches
    def test_no_matching_fallback_closes(self):
        with self.tls(self.p_nodef, sni="example.test") as c:
            c.send(http_request("/index.html"))
            data = c.recv_until_eof(T(10))
        self.assertEqual(data, b"")

    def test_no_matching_fallback_control(self):
        with self.tls(self.p_nodef, sni="other.test") as c:
            c.send(http_request("/index.html"))
            r = read_response(c)
        self.assertEqual(r.status, 200)

    # -- load
    def test_200_concurrent_fallbacks(self):
        n = 200
        conns = [None] * n
        errors = []

        def connect(i):
            try:
                conns[i] = self.tls(self.p_web, timeout=T(30))
            except Exception as e:       # noqa: BLE001 (reported below)
                errors.append("connect %d: %r" % (i, e))

        def fetch(i):
            try:
                c = conns[i]
                c.send(http_request("/index.html?c=%d" % i))
                r = read_response(c, T(30))
                if r.status != 200 or r.body != INDEX_HTML:
                    errors.append("conn %d: %r" % (i, r))
            except Exception as e:       # noqa: BLE001
                errors.append("fetch %d: %r" % (i, e))

        try:
            for phase in (connect, fetch):
                ts = [threading.Thread(target=phase, args=(i,), daemon=True)
                      for i in range(n) if phase is connect or conns[i]]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(T(60))
                self.assertFalse([t for t in ts if t.is_alive()], "threads stuck")
            self.assertEqual(errors, [], "%d of %d failed" % (len(errors), n))
        finally:
            for c in conns:
                if c:
                    c.close()
