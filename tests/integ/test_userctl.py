"""sluicectl user and stats on a temporary state database and configuration:
round trips, generated credentials, refused input, share links read back
with links.py, stored traffic figures, and what sluicectl does without a
daemon and with a stand-in control socket.  LinkTunnel then hands the
links of users written in the configuration to v2ray 4.34 and fetches a
page through a real sluiced with them."""

import json
import os
import re
import socket
import sqlite3
import threading
import unittest
import uuid

import harness
import links
from harness import (Daemon, DaemonTest, Env, Proc, T, INDEX_HTML, have, run,
                     outbounds, trojan_inbound, vless_inbound,
                     wait_tcp, VLESS_EMAIL, VLESS_UUID, TROJAN_EMAIL,
                     TROJAN_PASS)
from probes import curl
from test_geodata import sluicectl

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                     r"-[0-9a-f]{12}$")
PASS_RE = re.compile(r"^[A-Za-z0-9_-]{24}$")
ODD_PASS = "p@ss w/rd#?&=%+"


class FakeControl:
    """A stand-in for sluiced's control socket: answers each command line
    from `answers` (command -> full answer text), records what it was
    asked, and closes after each answer, as sluiced does."""

    def __init__(self, path, answers):
        self.path, self.answers, self.asked = path, answers, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(T(10))
                line = b""
                try:
                    while not line.endswith(b"\n") and len(line) < 256:
                        chunk = c.recv(256)
                        if not chunk:
                            break
                        line += chunk
                    cmd = line.decode().strip()
                    self.asked.append(cmd)
                    c.sendall(self.answers.get(
                        cmd, "error\nunknown command\n").encode())
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join(T(5))
        self.sock.close()
        os.unlink(self.path)


class UserCtl(unittest.TestCase):
    """No daemon: each test has its own configuration and database."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.base = os.path.join(cls.env.dir, "userctl")
        os.makedirs(cls.base, exist_ok=True)

    def setUp(self):
        self.dir = os.path.join(self.base, self._testMethodName)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "state", "sluice.db")
        self.sock = os.path.join(self.dir, "control.sock")
        env = self.env
        trojan = trojan_inbound(env, "in-trojan", env.ports.get(),
                                [{"dest": 80}], alpn=("http/1.1",))
        trojan["streamSettings"]["tlsSettings"]["serverName"] = "tr.example.test"
        plain = trojan_inbound(env, "in-plain", env.ports.get(),
                               [{"dest": 80}], tls=False)
        plain["listen"] = "0.0.0.0"
        plain["settings"]["clients"][0]["email"] = "plain@test"
        # behind in-vless: what does not speak VLESS and asks for http/1.1
        inner = trojan_inbound(env, "in-inner", env.ports.get(),
                               [{"dest": 80}], tls=False)
        inner["settings"]["clients"][0]["email"] = "inner@test"
        self.cfg = {
            "inbounds": [vless_inbound(env, "in-vless", env.ports.get(),
                                       [{"dest": 80},
                                        {"alpn": "http/1.1",
                                         "dest": inner["port"]}]),
                         trojan, plain, inner],
            "outbounds": outbounds(),
            "sluice": {"stateDb": self.db, "controlSocket": self.sock},
        }
        self.conf = os.path.join(self.dir, "config.json")
        with open(self.conf, "w") as f:
            json.dump(self.cfg, f, indent=1)

    def ctl(self, *args):
        return sluicectl("-c", self.conf, *args)

    def ok(self, *args):
        rc, out, err = self.ctl(*args)
        self.assertEqual(rc, 0, "sluicectl %s: %s%s" % (" ".join(args), out, err))
        return out, err

    def fails(self, rc_want, pattern, *args):
        rc, out, err = self.ctl(*args)
        self.assertEqual(rc, rc_want, "sluicectl %s: %s%s" % (" ".join(args), out, err))
        self.assertRegex(err, pattern)
        self.assertEqual(out, "")
        return err

    def users(self):
        out, _ = self.ok("user", "list", "--json")
        return {u["email"]: u for u in json.loads(out)}

    def show(self, email):
        out, _ = self.ok("user", "show", email)
        return dict(l.split(": ", 1) for l in out.splitlines())

    def sql(self, statements):
        con = sqlite3.connect(self.db, timeout=5)
        try:
            with con:
                for s, args in statements:
                    con.execute(s, args)
        finally:
            con.close()

    # -- round trips

    def test_add_show_list(self):
        out, err = self.ok("user", "add", "a@x", "--inbound", "in-vless",
                           "--inbound", "in-trojan", "--quota", "10G",
                           "--expire", "2030-01-31", "--max-conn", "3",
                           "--level", "1")
        self.assertIn("added a@x", out)
        self.assertIn("not running at %s" % self.sock, err)
        self.assertEqual(os.stat(os.path.dirname(self.db)).st_mode & 0o777, 0o750)
        self.assertEqual(os.stat(self.db).st_mode & 0o777, 0o600)
        self.ok("user", "add", "b@x", "--uuid",
                "27848739-7E62-4138-9FD3-098A63964B6B", "--password", ODD_PASS,
                "--flow", "xtls-rprx-vision", "--quota", "512KiB")
        self.ok("user", "add", "c@x", "--uuid", "short-id", "--quota", "0")
        us = self.users()
        self.assertEqual(sorted(us), ["a@x", "b@x", "c@x"])
        a, b, c = us["a@x"], us["b@x"], us["c@x"]
        self.assertEqual(a["inbounds"], ["in-vless", "in-trojan"])
        self.assertEqual((a["quota"], a["expire"], a["max_conn"], a["level"]),
                         (10 << 30, "2030-01-31", 3, 1))
        self.assertIs(a["enabled"], True)
        self.assertEqual((a["used_up"], a["used_down"], a["flow"]), (0, 0, ""))
        # generated: a v4 UUID and 24 URL-safe characters, not repeated
        self.assertRegex(a["uuid"], UUID_V4)
        self.assertRegex(a["password"], PASS_RE)
        self.assertRegex(c["password"], PASS_RE)
        self.assertNotEqual(a["password"], c["password"])
        # given: stored canonical (lower case; a short id as Xray maps it)
        self.assertEqual(b["uuid"], VLESS_UUID)
        self.assertEqual(b["password"], ODD_PASS)
        self.assertEqual((b["flow"], b["quota"], b["expire"], b["inbounds"]),
                         ("xtls-rprx-vision", 512 << 10, None, []))
        self.assertEqual(c["uuid"], str(uuid.uuid5(uuid.UUID(int=0), "short-id")))
        self.assertEqual(c["quota"], 0)
        s = self.show("a@x")
        self.assertEqual((s["email"], s["uuid"], s["password"]),
                         ("a@x", a["uuid"], a["password"]))
        self.assertEqual((s["enabled"], s["expire"], s["max-conn"], s["level"]),
                         ("yes", "2030-01-31", "3", "1"))
        self.assertEqual(s["inbounds"], "in-vless,in-trojan")
        self.assertIn("10.0 GiB", s["quota"])
        out, _ = self.ok("user", "list")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["EMAIL", "ENABLED", "USED/QUOTA",
                                            "EXPIRE", "MAX-CONN", "INBOUNDS"])
        self.assertEqual(lines[1].split(), ["a@x", "yes", "0", "B/10.0", "GiB",
                                            "2030-01-31", "3",
                                            "in-vless,in-trojan"])
        self.assertEqual(lines[2].split()[:6], ["b@x", "yes", "0", "B/512.0",
                                                "KiB", "never"])

    def test_set_enable_disable_del(self):
        self.ok("user", "add", "a@x", "--inbound", "in-vless", "--quota", "1G")
        before = self.users()["a@x"]
        self.sql([("UPDATE users SET used_up = 5, used_down = 7", ())])
        out, _ = self.ok("user", "set", "a@x", "--quota", "2M", "--inbound",
                         "in-trojan", "--expire", "2031-12-31", "--flow",
                         "xtls-rprx-vision", "--level", "4")
        self.assertIn("changed a@x", out)
        a = self.users()["a@x"]
        self.assertEqual((a["quota"], a["inbounds"], a["expire"], a["flow"],
                          a["level"]), (2 << 20, ["in-trojan"], "2031-12-31",
                                        "xtls-rprx-vision", 4))
        # untouched: credentials and usage
        self.assertEqual((a["uuid"], a["password"]), (before["uuid"], before["password"]))
        self.assertEqual((a["used_up"], a["used_down"]), (5, 7))
        self.ok("user", "set", "a@x", "--inbound", "", "--expire", "never",
                "--flow", "", "--reset-usage", "--max-conn", "0")
        a = self.users()["a@x"]
        self.assertEqual((a["inbounds"], a["expire"], a["flow"], a["used_up"],
                          a["used_down"], a["quota"]), ([], None, "", 0, 0, 2 << 20))
        self.ok("user", "set", "a@x", "--uuid", VLESS_UUID, "--password", "pw2")
        a = self.users()["a@x"]
        self.assertEqual((a["uuid"], a["password"]), (VLESS_UUID, "pw2"))
        out, _ = self.ok("user", "disable", "a@x")
        self.assertIn("disabled a@x", out)
        self.assertIs(self.users()["a@x"]["enabled"], False)
        self.assertEqual(self.show("a@x")["state"], "disabled")
        self.ok("user", "enable", "a@x")
        self.assertIs(self.users()["a@x"]["enabled"], True)
        out, _ = self.ok("user", "del", "a@x")
        self.assertIn("deleted a@x", out)
        self.assertEqual(self.users(), {})
        self.fails(1, r"no user a@x", "user", "del", "a@x")
        self.fails(1, r"no user a@x", "user", "set", "a@x", "--level", "1")
        self.fails(1, r"no user a@x", "user", "show", "a@x")

    def test_errors(self):
        self.fails(1, re.escape(self.db) + r": No such file", "user", "list")
        self.fails(1, r"No such file", "user", "show", "a@x")
        self.fails(1, r"No such file", "stats")
        self.fails(1, r"No such file", "user", "disable", "a@x")
        self.assertFalse(os.path.exists(self.db))
        for email in ("", "a b@x", "a\tb@x", "a\x01@x", "x" * 256):
            self.fails(2, r"bad email", "user", "add", email)
        self.fails(1, r"--inbound nope: .*config\.json has no VLESS or Trojan "
                   r"inbound", "user", "add", "a@x", "--inbound", "nope")
        self.fails(1, re.escape(self.conf) +
                   r": \$\.inbounds\[0\]\.settings\.clients\[0\]",
                   "user", "add", VLESS_EMAIL)
        for size in ("10X", "-1", "1.5G", "G", "10GG", "99999999999T", ""):
            self.fails(2, r"bad --quota", "user", "add", "a@x", "--quota", size)
        for day in ("2026-02-30", "2026/01/01", "26-01-01", "2026-1-1",
                    "tomorrow", "1969-12-31"):
            self.fails(2, r"bad --expire", "user", "add", "a@x", "--expire", day)
        self.fails(2, r"bad --flow", "user", "add", "a@x", "--flow", "xtls-rprx-direct")
        self.fails(2, r"bad --uuid", "user", "add", "a@x", "--uuid", "z" * 32)
        self.fails(2, r"bad --max-conn", "user", "add", "a@x", "--max-conn", "-1")
        self.fails(2, r"bad --level", "user", "add", "a@x", "--level", "x")
        self.fails(2, r"unexpected option --reset-usage", "user", "add", "a@x",
                   "--reset-usage")
        self.fails(2, r"needs one EMAIL", "user", "add")
        self.fails(2, r"unknown subcommand", "user", "rename", "a@x")
        self.fails(2, r"--since wants YYYY-MM-DD", "stats", "--since", "yesterday")
        self.assertFalse(os.path.exists(self.db), "a refused add made the database")
        self.ok("user", "add", "a@x")
        self.fails(1, r"a@x exists already", "user", "add", "a@x")
        self.fails(2, r"nothing to change", "user", "set", "a@x")
        self.fails(2, r"goes alone", "user", "set", "a@x", "--inbound", "",
                   "--inbound", "in-vless")
        # a file that is no database
        with open(self.db, "wb") as f:
            f.write(os.urandom(4096))
        for f in (self.db + "-wal", self.db + "-shm"):
            if os.path.exists(f):
                os.unlink(f)
        self.fails(1, re.escape(self.db) + r": file is not a database",
                   "user", "list")
        self.fails(1, r"file is not a database", "user", "add", "b@x")
        # -c naming a config that does not load
        rc, out, err = sluicectl("-c", os.path.join(self.dir, "nope.json"),
                                 "user", "list")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("nope.json", err)

    # -- links

    def link(self, email, *extra):
        out, _ = self.ok("user", "link", email, *extra)
        return [links.parse(l) for l in out.splitlines()]

    def test_links(self):
        env = self.env
        ib = {i["tag"]: i for i in self.cfg["inbounds"]}
        self.ok("user", "add", "a@x", "--inbound", "in-vless")
        self.ok("user", "add", "b@x", "--inbound", "in-trojan", "--password",
                ODD_PASS)
        self.ok("user", "add", "v@x", "--flow", "xtls-rprx-vision",
                "--inbound", "in-vless", "--inbound", "in-trojan")
        us = self.users()
        (a,) = self.link("a@x")
        self.assertEqual((a["protocol"], a["id"], a["host"], a["port"],
                          a["security"], a["sni"], a["alpn"], a["flow"],
                          a["remark"]),
                         ("vless", us["a@x"]["uuid"], "example.test",
                          ib["in-vless"]["port"], "tls", "example.test",
                          ["h2", "http/1.1"], "", "a@x"))
        (b,) = self.link("b@x")
        # serverName wins over the certificate's name, for host and SNI
        self.assertEqual((b["protocol"], b["password"], b["host"], b["port"],
                          b["sni"], b["alpn"], b["remark"]),
                         ("trojan", ODD_PASS, "tr.example.test",
                          ib["in-trojan"]["port"], "tr.example.test",
                          ["http/1.1"], "b@x"))
        v = self.link("v@x", "--host", "2001:db8::7")
        self.assertEqual([(l["protocol"], l["host"], l["flow"]) for l in v],
                         [("vless", "2001:db8::7", "xtls-rprx-vision"),
                          ("trojan", "2001:db8::7", "")])
        self.assertEqual(v[0]["sni"], "example.test")
        # every inbound, in config order; the plain one listens on 0.0.0.0
        self.ok("user", "add", "all@x")
        err = self.fails(1, r"in-plain .*give --host", "user", "link", "all@x")
        out, _ = self.ok("user", "link", "all@x", "--host", "h.test")
        got = [links.parse(l) for l in out.splitlines()]
        self.assertEqual([(l["protocol"], l["port"], l["security"], l["sni"])
                          for l in got],
                         [("vless", ib["in-vless"]["port"], "tls", "example.test"),
                          ("trojan", ib["in-trojan"]["port"], "tls",
                           "tr.example.test"),
                          ("trojan", ib["in-plain"]["port"], "none", None),
                          ("trojan", ib["in-vless"]["port"], "tls",
                           "example.test")])
        self.assertEqual(got[2]["alpn"], [])
        # in-inner is reached through in-vless's fallback: its ALPN only
        self.assertEqual(got[3]["alpn"], ["http/1.1"])
        (inner,) = self.link("inner@test")
        self.assertEqual((inner["host"], inner["port"], inner["password"]),
                         ("example.test", ib["in-vless"]["port"], TROJAN_PASS))
        # users written in the config: no database needed for them
        (t,) = self.link(TROJAN_EMAIL)
        self.assertEqual((t["password"], t["port"]),
                         (TROJAN_PASS, ib["in-trojan"]["port"]))
        (cv,) = self.link(VLESS_EMAIL)
        self.assertEqual(cv["id"], VLESS_UUID)
        self.fails(1, r"neither in the database nor in the configuration",
                   "user", "link", "nobody@x")
        # v2ray 4.34 takes the outbounds built from them
        if have("v2ray"):
            outs = [links.v2ray_outbound(d, env.pki["ca"], tag="o%d" % i)
                    for i, d in enumerate([a, b, t, cv])]
            cfg = {"inbounds": [{"port": env.ports.get(), "listen": "127.0.0.1",
                                 "protocol": "socks", "settings": {}}],
                   "outbounds": outs}
            path = os.path.join(self.dir, "v2ray.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            r = run(["v2ray", "-test", "-config", path], T(30))
            self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
        with self.assertRaises(ValueError):
            links.v2ray_outbound(v[0], env.pki["ca"])

    def test_link_parser_rejects(self):
        good = ("vless://%s@h:443?encryption=none&security=tls&type=tcp"
                "&headerType=none#x" % VLESS_UUID)
        links.parse(good)
        for bad in (good.replace("vless", "vmess"), good.replace(":443", ""),
                    good.replace(":443", ":0"), good.replace(VLESS_UUID + "@", ""),
                    good.replace("security=tls", "security=reality"),
                    good.replace("type=tcp", "type=ws"),
                    "trojan://pw@h:1?security=tls&flow=xtls-rprx-vision"):
            with self.assertRaises(ValueError, msg=bad):
                links.parse(bad)

    # -- the daemon

    def test_daemon_not_running(self):
        rc, out, err = self.ctl("user", "add", "a@x")
        self.assertEqual(rc, 0, err)
        self.assertIn("sluicectl: saved; sluiced is not running at %s: the change "
                      "applies when it starts" % self.sock, err)
        # a stale socket file is the same
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.close()
        rc, out, err = self.ctl("user", "disable", "a@x")
        self.assertEqual(rc, 0, err)
        self.assertIn("not running at %s" % self.sock, err)
        self.assertIs(self.users()["a@x"]["enabled"], False)
        os.unlink(self.sock)

    def test_daemon_told(self):
        fake = FakeControl(self.sock, {"users": "ok\nusers: 1 loaded\n"})
        try:
            out, err = self.ok("user", "add", "a@x")
            self.assertEqual(out, "added a@x\nusers: 1 loaded\n")
            self.ok("user", "set", "a@x", "--level", "2")
            self.ok("user", "del", "a@x")
            self.fails(1, r"no user", "user", "del", "a@x")
            self.ok("user", "list")
            self.assertEqual(fake.asked, ["users"] * 3)
            fake.answers["users"] = "error\nusers: database is locked\n"
            rc, out, err = self.ctl("user", "add", "b@x")
            self.assertEqual(rc, 1)
            self.assertIn("saved, but sluiced did not take it:\n"
                          "users: database is locked", err)
            self.assertIn("b@x", self.users())
        finally:
            fake.close()

    # -- stats

    def stored(self):
        rows = [(0, "a@x", "2026-11-20", 1000, 20000, 3),
                (0, "a@x", "2026-11-21", 500, 4 << 20, 2),
                (0, "cfg@test", "2026-11-21", 7, 8, 1),
                (1, "in-vless", "2026-11-21", 1507, (4 << 20) + 20008, 6),
                (2, "direct", "2026-11-21", 1507, (4 << 20) + 20008, 6)]
        self.sql([("INSERT INTO traffic (kind, name, day, up, down, conns) "
                   "VALUES (?, ?, ?, ?, ?, ?)", r) for r in rows])

    def stats(self, *args):
        out, err = self.ok("stats", "--json", *args)
        return {u["user"]: u for u in json.loads(out)}, err

    def test_stats_stored(self):
        self.ok("user", "add", "a@x")
        self.ok("user", "add", "idle@x")
        self.stored()
        st, err = self.stats()
        self.assertIn("sluiced is not running at %s: stored figures only"
                      % self.sock, err)
        self.assertEqual(sorted(st), ["a@x", "cfg@test", "idle@x"])
        a = st["a@x"]
        self.assertEqual((a["up"], a["down"], a["connections"]),
                         (1500, 20000 + (4 << 20), 5))
        self.assertEqual(a["days"], [
            {"day": "2026-11-20", "up": 1000, "down": 20000, "connections": 3},
            {"day": "2026-11-21", "up": 500, "down": 4 << 20, "connections": 2}])
        self.assertEqual((st["idle@x"]["up"], st["idle@x"]["days"]), (0, []))
        self.assertEqual(st["cfg@test"]["connections"], 1)
        st, _ = self.stats("--since", "2026-11-21")
        self.assertEqual((st["a@x"]["up"], len(st["a@x"]["days"])), (500, 1))
        st, _ = self.stats("--user", "a@x", "--since", "2026-11-21")
        self.assertEqual(list(st), ["a@x"])
        self.assertEqual(st["a@x"]["down"], 4 << 20)
        out, _ = self.ok("stats")
        self.assertIn("user a@x: up 1.5 KiB, down 4.0 MiB, 5 connections", out)
        self.assertIn("  2026-11-20  up 1000 B, down 19.5 KiB, 3 connections", out)
        self.assertIn("inbound in-vless: up 1.5 KiB, down 4.0 MiB, 6 connections", out)
        self.assertIn("outbound direct:", out)
        out, _ = self.ok("stats", "--user", "a@x")
        self.assertNotIn("inbound", out)

    def test_stats_live(self):
        self.ok("user", "add", "a@x")
        self.stored()
        live = {"day": "2026-11-21",
                "user": {"a@x": {"up": 10, "down": 20, "connections": 1,
                                 "active": 1},
                         "new@x": {"up": 1, "down": 2, "connections": 3,
                                   "active": 0}},
                "inbound": {"in-vless": {"up": 11, "down": 22,
                                         "connections": 4, "active": 1}},
                "outbound": {}}
        fake = FakeControl(self.sock, {"stats": "ok\n" + json.dumps(live) + "\n"})
        try:
            st, err = self.stats()
            self.assertEqual(err, "")
            a = st["a@x"]
            self.assertEqual((a["up"], a["down"], a["connections"], a["active"]),
                             (1510, 20020 + (4 << 20), 6, 1))
            self.assertEqual(a["days"][1], {"day": "2026-11-21", "up": 510,
                                            "down": (4 << 20) + 20,
                                            "connections": 3})
            self.assertEqual(st["new@x"]["days"], [
                {"day": "2026-11-21", "up": 1, "down": 2, "connections": 3}])
            # a live day before --since is left out
            st, _ = self.stats("--since", "2026-11-22")
            self.assertEqual((st["a@x"]["up"], list(st)), (0, ["a@x"]))
            out, _ = self.ok("stats")
            self.assertIn("inbound in-vless: up 1.5 KiB, down 4.0 MiB, "
                          "10 connections, 1 active", out)
            # an older daemon: no live figures, stored ones, a note
            fake.answers = {}
            st, err = self.stats()
            self.assertIn("sluiced has no live figures (unknown command): "
                          "stored figures only", err)
            self.assertEqual(st["a@x"]["up"], 1500)
            self.assertEqual(fake.asked, ["stats"] * 4)
        finally:
            fake.close()


class LinkTunnel(DaemonTest):
    """The links of users written in the config, read back by links.py and
    given to v2ray 4.34: a page comes back through sluiced."""

    @classmethod
    def make_daemon(cls, env):
        if not have("v2ray"):
            raise unittest.SkipTest("v2ray not installed")
        fb = [{"dest": env.nginx.port["web"]}]
        inner = trojan_inbound(env, "in-inner", env.ports.get(), fb, tls=False)
        inner["settings"]["clients"][0]["email"] = "inner@test"
        return Daemon(env, "userlink", [
            vless_inbound(env, "in-vless", env.ports.get(),
                          fb + [{"alpn": "http/1.1", "dest": inner["port"]}]),
            trojan_inbound(env, "in-trojan", env.ports.get(), fb),
            inner,
        ], outbounds(allow_private=True))

    def fetch_with(self, email, proto, inbound=None):
        d = type(self).daemon
        rc, out, err = sluicectl("-c", d.conf, "user", "link", email,
                                 "--host", "127.0.0.1")
        self.assertEqual(rc, 0, err)
        (link,) = [links.parse(l) for l in out.splitlines()]
        self.assertEqual(link["protocol"], proto)
        self.assertEqual((link["security"], link["sni"]), ("tls", "example.test"))
        socks = self.env.ports.get()
        cfg = {"log": {"loglevel": "warning"},
               "inbounds": [{"port": socks, "listen": "127.0.0.1",
                             "protocol": "socks",
                             "settings": {"auth": "noauth", "udp": False}}],
               "outbounds": [links.v2ray_outbound(link, self.env.pki["ca"])]}
        path = os.path.join(d.dir, "v2ray-%s.json" % proto)
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = Proc("v2ray-link-" + proto, ["v2ray", "-config", path], self.env.dir)
        try:
            wait_tcp(socks, T(20), p)
            r = curl(self.env, "http://127.0.0.1:%d/index.html"
                     % self.env.nginx.port["web"],
                     ["--socks5-hostname", "127.0.0.1:%d" % socks], timeout=T(30))
        finally:
            p.stop()
        self.assertEqual((r.rc, r.status), (0, 200), r.stderr)
        self.assertEqual(r.body, INDEX_HTML)
        d.wait_log(r"accepted tcp:127\.0\.0\.1:%d \[%s >> direct\] email: %s"
                   % (self.env.nginx.port["web"], inbound or "in-" + proto,
                      re.escape(email)))

    def test_vless_link(self):
        self.fetch_with(VLESS_EMAIL, "vless")

    def test_trojan_link(self):
        self.fetch_with(TROJAN_EMAIL, "trojan")

    def test_trojan_behind_vless_link(self):
        self.fetch_with("inner@test", "trojan", "in-inner")
