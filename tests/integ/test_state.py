"""State in SQLite (issue 6) with the real daemon: users added with
sluicectl join running workers; bytes and connections are counted exactly
per user, inbound and outbound and stored; quota, expiry, disable and the
connection limit each turn a user into an unknown one (the fallback gets
its bytes, the access log says why) within a stats interval; a kill -9 of
the master loses at most one interval; a locked or corrupt database never
stops the data plane; `user link` output drives a real v2ray client."""

import hashlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid

import harness
import links
from probes import curl
from harness import (SLUICECTL, Daemon, DaemonTest, Recorder, T, outbounds,
                     poll, tls_settings)
from test_relay import (HDR, MAGIC, NORMAL, Backend, duplex, payload,
                        trojan_req, vless_req)

INTERVAL = 1            # sluice.statsInterval of these daemons, seconds


class StateBase(DaemonTest):
    """Plaintext VLESS and Trojan inbounds whose fallback is a recorder,
    a Backend (test_relay) as every user's target, 2 workers."""

    @classmethod
    def make_daemon(cls, env):
        cls.backend = Backend(env.ports)
        cls.fb = Recorder(env.ports)
        cls.vless, cls.trojan = env.ports.get(), env.ports.get()
        fb = [{"dest": cls.fb.port}]
        ins = [
            {"protocol": "vless", "listen": "127.0.0.1", "port": cls.vless,
             "tag": "in-vless",
             "settings": {"clients": [{"id": harness.VLESS_UUID,
                                       "email": "config@example.test"}],
                          "decryption": "none", "fallbacks": fb},
             "streamSettings": {"network": "tcp", "security": "none"}},
            {"protocol": "trojan", "listen": "127.0.0.1", "port": cls.trojan,
             "tag": "in-trojan",
             "settings": {"clients": [], "fallbacks": fb},
             "streamSettings": {"network": "tcp", "security": "none"}},
        ]
        d = Daemon(env, "state", ins, outbounds(allow_private=True))
        d.config["sluice"]["statsInterval"] = INTERVAL
        d.write_config(d.config)
        return d

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.backend.close()
            cls.fb.close()

    # ---- sluicectl ----

    def ctl(self, *args, check=True, timeout=None):
        r = subprocess.run([SLUICECTL, "-c", self.daemon.conf] + list(args),
                           capture_output=True, text=True,
                           timeout=timeout or T(60))
        if check and r.returncode != 0:
            self.fail("sluicectl %s: exit %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def add_user(self, email, *opts):
        self.ctl("user", "add", email, *opts)
        info = json.loads(self.ctl("user", "list", "--json").stdout)
        return next(u for u in info if u["email"] == email)

    def stored(self):
        """Stored traffic {(kind, name): [up, down, conns]}."""
        db = sqlite3.connect(self.daemon.state_db, timeout=10)
        try:
            rows = db.execute("SELECT kind, name, SUM(up), SUM(down), "
                              "SUM(conns) FROM traffic GROUP BY kind, name")
            return {(k, n): [u, d, c] for k, n, u, d, c in rows}
        finally:
            db.close()

    # ---- traffic ----

    def request(self, user, proto):
        """The inbound port and request header of USER's PROTO tunnel."""
        if proto == "vless":
            return self.vless, vless_req(self.backend.port, user["uuid"])
        return self.trojan, trojan_req(self.backend.port, user["password"])

    def transfer(self, user, proto, up, down, tid=None):
        """One proxied transfer to the backend: (payload up, payload down)
        as the user's client sent and received them."""
        tid = tid if tid is not None else random.getrandbits(31)
        body = HDR.pack(MAGIC, tid, up, down, NORMAL) + payload(tid, up)
        port, pre = self.request(user, proto)
        rec = {"up": hashlib.sha256(), "n": 0,
               "data": bytearray()}
        s = socket.create_connection(("127.0.0.1", port), timeout=T(10))
        try:
            duplex(s, pre + body, None, rec,
                   deadline=time.monotonic() + T(40))
        finally:
            s.close()
        data = bytes(rec["data"])
        if proto == "vless" and data:
            data = data[2:]
        self.assertEqual(len(data), down, "%s %s: bytes down" %
                         (user["email"], proto))
        return len(body), down

    def refused(self, user, proto, why):
        """Within an interval, a new connection of USER goes to the
        fallback, and the access log says WHY."""
        port, hdr = self.request(user, proto)

        def falls_back():
            before = self.fb.count()
            s = socket.create_connection(("127.0.0.1", port), timeout=T(10))
            try:
                s.sendall(hdr + b"hello")
                end = time.monotonic() + 0.5
                while time.monotonic() < end:
                    if self.fb.count() > before:
                        return True
                    time.sleep(0.02)
                return False
            finally:
                s.close()
        poll(falls_back, T(5) + 2 * INTERVAL,
             what="%s: the fallback gets the connection" % user["email"])
        poll(lambda: re.search(r'fallback .* reason="user %s %s"' %
                               (re.escape(user["email"]), why),
                               open(self.daemon.access_log).read()),
             T(10), what="access log: user %s %s" % (user["email"], why))


class Accounting(StateBase):

    def test_counted_exactly(self):
        """Mixed transfers by three database users and the config's user
        over both workers: stored figures equal the bytes moved, after a
        clean stop."""
        users = [self.add_user("u%d@example.test" % i) for i in range(3)]
        cfg = {"email": "config@example.test", "uuid": harness.VLESS_UUID}
        rng = random.Random(61)
        want = {}
        jobs = []
        for i in range(24):
            u = rng.choice(users + [cfg])
            proto = "vless" if u is cfg else rng.choice(("vless", "trojan"))
            jobs.append((u, proto, rng.randrange(0, 300000),
                         rng.randrange(0, 300000)))
        lock = threading.Lock()
        errors = []

        def run(job):
            u, proto, up, down = job
            try:
                got = self.transfer(u, proto, up, down)
            except BaseException as e:
                errors.append(e)
                return
            with lock:
                for key in (("0", u["email"]), ("1", "in-" + proto),
                            ("2", "direct")):
                    w = want.setdefault(key, [0, 0, 0])
                    w[0] += got[0]
                    w[1] += got[1]
                    w[2] += 1
        threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T(120))
        self.assertEqual(errors, [])
        # Live figures are visible before anything is stored.
        live = json.loads(self.ctl("stats", "--json").stdout)
        self.assertTrue(any(e["user"] == users[0]["email"] for e in live))
        self.daemon.stop()
        got = {(str(k), n): v for (k, n), v in self.stored().items()}
        self.assertEqual(got, want)
        # sluicectl stats reads the same, daemon gone.
        st = {e["user"]: e for e in
              json.loads(self.ctl("stats", "--json").stdout)}
        for u in users:
            w = want.get(("0", u["email"]), [0, 0, 0])
            self.assertEqual([st[u["email"]]["up"], st[u["email"]]["down"],
                              st[u["email"]]["connections"]], w)
        # The quota counts what was stored.
        info = {u["email"]: u for u in
                json.loads(self.ctl("user", "list", "--json").stdout)}
        for u in users:
            w = want.get(("0", u["email"]), [0, 0, 0])
            self.assertEqual(info[u["email"]]["used_up"], w[0])
            self.assertEqual(info[u["email"]]["used_down"], w[1])
        self.daemon.start()


class Enforcement(StateBase):

    def test_unknown_user_falls_back(self):
        before = self.fb.count()
        s = socket.create_connection(("127.0.0.1", self.vless))
        s.sendall(vless_req(self.backend.port, str(uuid.uuid4())))
        poll(lambda: self.fb.count() > before, T(10), what="fallback")
        s.close()

    def test_added_user_serves_without_restart(self):
        pids = [w["pid"] for w in self.status()["workers"]]
        u = self.add_user("new@example.test")
        self.transfer(u, "vless", 1000, 2000)
        self.transfer(u, "trojan", 10, 20)
        self.assertEqual([w["pid"] for w in self.status()["workers"]], pids)

    def status(self):
        return json.loads(self.ctl("status", "--json").stdout)

    def long_conn(self, u):
        """An open tunnel of U: the backend echoes nothing until told."""
        s = socket.create_connection(("127.0.0.1", self.vless),
                                     timeout=T(10))
        tid = random.getrandbits(31)
        s.sendall(vless_req(self.backend.port, u["uuid"]) +
                  HDR.pack(MAGIC, tid, 1 << 30, 0, NORMAL))
        poll(lambda: tid in self.backend.got, T(10), what="tunnel open")
        return s

    def assert_cut(self, s):
        s.settimeout(T(10) + 3 * INTERVAL)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
        s.close()

    def test_quota(self):
        u = self.add_user("quota@example.test", "--quota", "100K")
        s = self.long_conn(u)
        self.transfer(u, "vless", 60000, 30000)
        self.transfer(u, "trojan", 20000, 0)    # 110,000+ bytes > 100 KiB
        self.refused(u, "vless", "over quota")
        self.refused(u, "trojan", "over quota")
        self.assert_cut(s)
        self.ctl("user", "set", u["email"], "--quota", "10M")
        self.transfer(u, "vless", 10, 10)

    def test_expiry(self):
        u = self.add_user("expire@example.test")
        s = self.long_conn(u)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        self.ctl("user", "set", u["email"], "--expire", today)
        self.refused(u, "vless", "expired")
        self.assert_cut(s)
        self.ctl("user", "set", u["email"], "--expire", "never")
        self.transfer(u, "trojan", 10, 10)

    def test_disable(self):
        u = self.add_user("disable@example.test")
        s = self.long_conn(u)
        self.ctl("user", "disable", u["email"])
        self.refused(u, "trojan", "disabled")
        self.assert_cut(s)
        self.ctl("user", "enable", u["email"])
        self.transfer(u, "vless", 10, 10)
        self.ctl("user", "del", u["email"])
        before = self.fb.count()
        c = socket.create_connection(("127.0.0.1", self.vless))
        c.sendall(vless_req(self.backend.port, u["uuid"]))
        poll(lambda: self.fb.count() > before, T(10),
             what="a deleted user falls back")
        c.close()

    def test_connection_limit(self):
        u = self.add_user("limit@example.test", "--max-conn", "2")
        a, b = self.long_conn(u), self.long_conn(u)
        self.refused(u, "vless", "over its connection limit")
        a.close()
        b.close()
        poll(lambda: self.status_active(u) == 0, T(10),
             what="connections closed")
        self.transfer(u, "trojan", 10, 10)

    def status_active(self, u):
        live = json.loads(self.ctl("stats", "--json").stdout)
        for e in live:
            if e["user"] == u["email"]:
                return e.get("active", 0)
        return 0


class Concurrent(StateBase):

    def test_edits_while_flushing(self):
        """sluicectl edits from several processes while the master stores
        every second and a user's traffic flows: every edit lands, no
        stored byte is lost, no transfer fails."""
        a = self.add_user("busy@example.test", "--quota", "10G")
        others = [self.add_user("edit%d@example.test" % i) for i in range(4)]
        stop = threading.Event()
        moved, errors = [0], []

        def load():
            while not stop.is_set():
                try:
                    moved[0] += self.transfer(a, "trojan", 40000, 300)[0]
                except BaseException as e:
                    errors.append(e)
                    return

        def edit(u):
            for i in range(1, 31):
                self.ctl("user", "set", u["email"], "--max-conn", str(i))
                self.ctl("user", "set", a["email"], "--quota",
                         "%dG" % (10 + i))
        t = threading.Thread(target=load)
        t.start()
        try:
            editors = [threading.Thread(target=edit, args=(u,))
                       for u in others]
            for e in editors:
                e.start()
            for e in editors:
                e.join(T(120))
        finally:
            stop.set()
            t.join(T(60))
        self.assertEqual(errors, [])
        self.assertGreater(moved[0], 0)
        info = {u["email"]: u for u in
                json.loads(self.ctl("user", "list", "--json").stdout)}
        for u in others:
            self.assertEqual(info[u["email"]]["max_conn"], 30)
        poll(lambda: self.stored().get((0, a["email"]), [0])[0] == moved[0],
             T(10) + 3 * INTERVAL, what="all of busy's bytes stored")
        info = {u["email"]: u for u in
                json.loads(self.ctl("user", "list", "--json").stdout)}
        self.assertEqual(info[a["email"]]["used_up"], moved[0])


class Crash(StateBase):

    def test_kill9_master(self):
        """kill -9 of the master while it flushes every second: the
        database opens again and keeps all but the last interval."""
        u = self.add_user("crash@example.test")
        early = 0
        for i in range(5):
            early += self.transfer(u, "vless", 50000, 1000)[0]
        time.sleep(3 * INTERVAL + 0.5)      # stored by now
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    self.transfer(u, "trojan", 20000, 100)
                except BaseException:
                    return
        t = threading.Thread(target=load)
        t.start()
        time.sleep(2.3 * INTERVAL)
        os.kill(self.daemon.pid, signal.SIGKILL)
        stop.set()
        t.join(T(30))
        self.daemon.proc.stop()         # its workers too (the group)
        db = sqlite3.connect(self.daemon.state_db)
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0],
                         "ok")
        db.close()
        self.daemon.start()
        st = {e["user"]: e for e in
              json.loads(self.ctl("stats", "--json").stdout)}
        self.assertGreaterEqual(st[u["email"]]["up"], early)
        self.transfer(u, "vless", 10, 10)


class BadDatabase(StateBase):

    def test_locked_then_free(self):
        """A writer holding the database: traffic flows, figures wait in
        the master, and all of them land once the lock is gone."""
        u = self.add_user("locked@example.test")
        db = sqlite3.connect(self.daemon.state_db, timeout=10,
                             isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            up = sum(self.transfer(u, "vless", 30000, 500)[0]
                     for _ in range(3))
            poll(lambda: "locked" in open(self.daemon.error_log).read(),
                 T(10), what="the master logs the lock")
        finally:
            db.execute("ROLLBACK")
            db.close()
        poll(lambda: self.stored().get((0, u["email"]), [0])[0] == up,
             T(15), what="stored after the lock")
        self.assertRegex(open(self.daemon.error_log).read(),
                         "working again")

    def remove_db(self):
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(self.daemon.state_db + suffix)
            except FileNotFoundError:
                pass

    def test_corrupt_database_at_start(self):
        """A corrupt database: the configuration's users are served, the
        problem is logged, sluicectl says which file."""
        self.daemon.stop()
        self.remove_db()
        with open(self.daemon.state_db, "wb") as f:
            f.write(os.urandom(8192))
        try:
            self.daemon.start()
            cfg = {"email": "config@example.test",
                   "uuid": harness.VLESS_UUID}
            self.transfer(cfg, "vless", 100, 100)
            self.assertRegex(self.daemon.all_logs(),
                             r"state database .*: .*not a database")
            r = self.ctl("user", "list", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn(self.daemon.state_db, r.stderr)
        finally:
            self.daemon.stop()
            self.remove_db()
            self.daemon.start()


class Link(DaemonTest):
    """`sluicectl user link` parsed back and used by v2ray 4.34."""

    @classmethod
    def make_daemon(cls, env):
        cls.vless, cls.trojan = env.ports.get(), env.ports.get()
        tls = tls_settings(env, alpn=("http/1.1",))
        tls["serverName"] = "example.test"
        ins = [{"protocol": p, "listen": "127.0.0.1", "port": port,
                "tag": "in-" + p,
                "settings": ({"clients": [], "decryption": "none"}
                             if p == "vless" else {"clients": []}),
                "streamSettings": {"network": "tcp", "security": "tls",
                                   "tlsSettings": tls}}
               for p, port in (("vless", cls.vless), ("trojan", cls.trojan))]
        return Daemon(env, "link", ins, outbounds(allow_private=True))

    def test_link_drives_v2ray(self):
        d = self.daemon
        subprocess.run([SLUICECTL, "-c", d.conf, "user", "add",
                        "link@example.test"], check=True, capture_output=True,
                       timeout=T(60))
        out = subprocess.run([SLUICECTL, "-c", d.conf, "user", "link",
                              "link@example.test", "--host", "127.0.0.1"],
                             check=True, capture_output=True, text=True,
                             timeout=T(30)).stdout.split()
        self.assertEqual(len(out), 2, out)
        parsed = [links.parse(x) for x in out]
        self.assertEqual(sorted(p["protocol"] for p in parsed),
                         ["trojan", "vless"])
        client = harness.V2rayClient(self.env, [
            links.v2ray_outbound(p, self.env.pki["ca"]) for p in parsed])
        try:
            for i, p in enumerate(parsed):
                r = curl(self.env, "http://127.0.0.1:%d/index.html" %
                         self.env.nginx.port["web"],
                         ["--socks5-hostname", "127.0.0.1:%d" %
                          client.socks[i]], timeout=T(30))
                self.assertEqual(r.body, harness.INDEX_HTML, p["protocol"])
        finally:
            client.stop()
