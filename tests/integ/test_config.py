"""Configuration checks (-t, sluicectl check) and the master's lifecycle:
SIGHUP with a broken and with a good config, SIGTERM, worker respawn."""

import copy
import json
import os
import re
import signal
import threading
import unittest

import harness
from harness import (Daemon, Env, T, poll, run, tail,
                     vless_inbound, trojan_inbound)
from probes import https_get, curl_sha256, curl_tls_args

OK_RE = re.compile(r"(?i)\b(ok|successful)\b")


def base_config(env, name="cfg"):
    web = env.nginx.port["web"]
    return Daemon(env, name, [
        vless_inbound(env, "in-vless", env.ports.get(),
                      [{"dest": web}, {"path": "/pp", "dest": env.nginx.port["pp"],
                                       "xver": 1}]),
        trojan_inbound(env, "in-trojan", env.ports.get(), [{"dest": web}]),
    ])


class ConfigCheck(unittest.TestCase):
    """sluiced -t -c FILE and sluicectl check -c FILE."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.d = base_config(cls.env, "check")
        cls.good = cls.d.config

    def write(self, name, cfg):
        path = os.path.join(self.d.dir, name)
        with open(path, "w") as f:
            f.write(cfg if isinstance(cfg, str) else json.dumps(cfg, indent=1))
        return path

    def check(self, path, tool="sluiced"):
        if tool == "sluiced":
            argv = [harness.SLUICED, "-t", "-c", path]
        else:
            argv = [harness.SLUICECTL, "check", "-c", path]
        if not os.path.exists(argv[0]):
            self.fail("%s does not exist" % argv[0])
        r = run(argv, T(30))
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        bad = [l for l in out.splitlines() if any(p in l for p in harness.SAN_PATTERNS)]
        self.assertEqual(bad, [], out)
        return r.returncode, out

    def mutate(self, fn):
        cfg = copy.deepcopy(self.good)
        fn(cfg)
        return cfg

    def assert_good(self, tool):
        rc, out = self.check(self.write("good.json", self.good), tool)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, OK_RE)

    def assert_bad(self, name, cfg, path, tool="sluiced"):
        rc, out = self.check(self.write(name, cfg), tool)
        self.assertEqual(rc, 1, out)
        self.assertNotRegex(out, r"(?i)configuration ok")
        if path:
            self.assertIn(path, out, "error does not name the field")

    def test_good(self):
        self.assert_good("sluiced")

    def test_bad_json_syntax(self):
        text = json.dumps(self.good, indent=1)
        rc, out = self.check(self.write("syntax.json", text[:len(text) // 2]))
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.strip(), "no error message")

    def test_bad_port(self):
        cfg = self.mutate(lambda c: c["inbounds"][0].__setitem__("port", 70000))
        self.assert_bad("port.json", cfg, "$.inbounds[0].port")

    def test_bad_port_type(self):
        cfg = self.mutate(lambda c: c["inbounds"][1].__setitem__("port", "https"))
        self.assert_bad("porttype.json", cfg, "$.inbounds[1].port")

    def test_bad_xver(self):
        cfg = self.mutate(lambda c: c["inbounds"][0]["settings"]["fallbacks"][1]
                          .__setitem__("xver", 3))
        self.assert_bad("xver.json", cfg, "$.inbounds[0].settings.fallbacks[1].xver")

    def test_bad_fallback_path(self):
        cfg = self.mutate(lambda c: c["inbounds"][0]["settings"]["fallbacks"][1]
                          .__setitem__("path", "pp"))
        self.assert_bad("fbpath.json", cfg, "$.inbounds[0].settings.fallbacks[1].path")

    def test_missing_dest(self):
        cfg = self.mutate(lambda c: c["inbounds"][0]["settings"]["fallbacks"][0]
                          .pop("dest"))
        self.assert_bad("nodest.json", cfg, "$.inbounds[0].settings.fallbacks[0]")

    def test_bad_uuid(self):
        # 32-36 characters are parsed as hex (1-30 would map to a UUIDv5)
        cfg = self.mutate(lambda c: c["inbounds"][0]["settings"]["clients"][0]
                          .__setitem__("id", "27848739-7e62-4138-9fd3-098a6396zzzz"))
        self.assert_bad("uuid.json", cfg, "$.inbounds[0].settings.clients[0].id")

    def test_unsupported_field_refused(self):
        cfg = self.mutate(lambda c: c["inbounds"][0]["settings"]
                          .__setitem__("noSuchSetting", True))
        self.assert_bad("unknown.json", cfg, "$.inbounds[0].settings.noSuchSetting")

    def test_missing_certificate_file(self):
        cfg = self.mutate(lambda c: c["inbounds"][0]["streamSettings"]["tlsSettings"]
                          ["certificates"][0].__setitem__(
                              "certificateFile", "/nonexistent/cert.pem"))
        self.assert_bad("nocert.json", cfg, "")

    def test_unknown_user_refused(self):
        cfg = self.mutate(lambda c: c.setdefault("sluice", {})
                          .__setitem__("user", "no-such-user-sluice"))
        self.assert_bad("user.json", cfg, "$.sluice.user")

    def test_sluicectl_check_good(self):
        self.assert_good("sluicectl")

    def test_sluicectl_check_bad(self):
        cfg = self.mutate(lambda c: c["inbounds"][0].__setitem__("port", 70000))
        self.assert_bad("ctl-port.json", cfg, "$.inbounds[0].port", tool="sluicectl")


class Lifecycle(unittest.TestCase):
    """Each test starts its own daemon."""

    stopped_already = False     # the test itself stopped the master
    allowed_alert = None        # regex: [alert] lines this test provokes

    def setUp(self):
        self.env = Env.get()
        self.d = base_config(self.env, self._testMethodName[5:])
        self.port = self.d.config["inbounds"][0]["port"]
        self.addCleanup(self.stop_and_check)    # runs even if start() fails
        self.d.start()

    def stop_and_check(self):
        rc = self.d.stop()
        rep = self.d.sanitizer_report(self.allowed_alert)
        self.assertIsNone(rep, "sanitizer/alert output:\n%s" % rep)
        if not self.stopped_already:
            self.assertEqual(rc, 0, "exit status after SIGTERM:\n"
                             + tail(self.d.read("stderr")))

    def get(self, path="/index.html", n=1):
        for _ in range(n):
            r, sport = https_get(self.env, self.port, path)
            self.assertEqual(r.status, 200, r.raw_headers)
        return r

    def test_pidfile_names_master(self):
        self.assertEqual(self.d.master_pid_from_file(), self.d.pid)

    def test_sigterm_exits_cleanly(self):
        self.get()
        workers = self.d.worker_pids()
        self.assertTrue(workers, "no worker processes")
        os.kill(self.d.pid, signal.SIGTERM)
        rc = self.d.proc.wait(T(5))
        self.assertEqual(rc, 0, "exit status %s (None: still running after "
                         "%.0fs)" % (rc, T(5)))
        for w in workers:
            poll(lambda: not os.path.exists("/proc/%d" % w) or
                 open("/proc/%d/stat" % w).read().split()[2] == "Z", T(5),
                 what="worker %d to exit" % w)
        self.stopped_already = True

    def test_sighup_broken_config_keeps_serving(self):
        self.get()
        master = self.d.master_pid_from_file()
        bad = copy.deepcopy(self.d.config)
        bad["inbounds"][0]["settings"]["fallbacks"][1]["xver"] = 3
        size = self.d.log_size("error")
        stderr_size = self.d.log_size("stderr")
        self.d.write_config(bad)
        os.kill(master, signal.SIGHUP)

        def said_why():
            new = self.d.read("error")[size:] + self.d.read("stderr")[stderr_size:]
            return "fallbacks[1].xver" in new or None
        try:
            poll(said_why, T(10), what="reload error in the logs")
        except AssertionError:
            self.fail("no error naming $.inbounds[0].settings.fallbacks[1].xver "
                      "after SIGHUP; error log:\n%s\nstderr:\n%s"
                      % (tail(self.d.read("error")[size:], 10),
                         tail(self.d.read("stderr")[stderr_size:], 10)))
        self.assertTrue(self.d.proc.alive(), "master exited")
        r = self.get("/pp", n=1)
        self.assertTrue(r.header("x-proxy-client"), "old config not serving")
        self.get(n=20)
        self.assertTrue(self.d.proc.alive(), "master exited")

    def test_sighup_good_config_applies(self):
        r = self.get()
        self.assertEqual(r.header("x-backend"), "web")
        cfg = copy.deepcopy(self.d.config)
        cfg["inbounds"][0]["settings"]["fallbacks"][0]["dest"] = \
            self.env.nginx.port["alt"]
        self.d.write_config(cfg)
        os.kill(self.d.master_pid_from_file(), signal.SIGHUP)

        def switched():
            r, _ = https_get(self.env, self.port)
            return r.header("x-backend") == "alt"
        poll(switched, T(10), interval=0.1, what="new config to serve")
        for _ in range(20):       # every worker has the new generation
            r, _ = https_get(self.env, self.port)
            self.assertEqual(r.header("x-backend"), "alt")

    def test_reload_keeps_running_transfer(self):
        result = {}

        def fetch():
            result["r"] = curl_sha256(
                self.env, "https://example.test:%d/big.bin" % self.port,
                ["--http1.1", "--limit-rate", "25M"] +
                curl_tls_args(self.env, self.port), timeout=T(120))
        t = threading.Thread(target=fetch, daemon=True)
        t.start()
        poll(self._transfer_started, T(10), what="transfer to start")
        cfg = copy.deepcopy(self.d.config)
        cfg["inbounds"][0]["settings"]["fallbacks"][0]["dest"] = \
            self.env.nginx.port["alt"]
        self.d.write_config(cfg)
        os.kill(self.d.master_pid_from_file(), signal.SIGHUP)
        poll(lambda: https_get(self.env, self.port)[0].header("x-backend") == "alt",
             T(10), interval=0.1, what="reload")
        t.join(T(130))
        self.assertFalse(t.is_alive(), "download did not finish")
        rc, sha, size, err = result["r"]
        self.assertEqual(rc, 0, err)
        self.assertEqual((size, sha), (100 << 20, self.env.big_sha256))

    def _transfer_started(self):
        # nginx writes the access line at the end; watch the socket table instead
        return any(self._conns_to(self.env.nginx.port["web"]))

    def _conns_to(self, port):
        hexport = ":%04X" % port
        try:
            with open("/proc/net/tcp") as f:
                for line in f.read().splitlines()[1:]:
                    fields = line.split()
                    if fields[2].endswith(hexport) and fields[3] == "01":
                        yield fields
        except OSError:
            return

    def test_worker_killed_is_respawned(self):
        self.get()
        before = poll(lambda: self.d.worker_pids() if len(self.d.worker_pids()) >= 2
                      else None, T(10), what="2 workers")
        victim = before[0]
        self.allowed_alert = re.compile(r"\b%d\b|signal 9|SIGKILL|killed" % victim)
        os.kill(victim, signal.SIGKILL)

        def respawned():
            now = self.d.worker_pids()
            return now if (victim not in now and len(now) >= len(before)) else None
        now = poll(respawned, T(15), what="worker respawn")
        self.assertTrue(set(now) - set(before), now)
        self.get(n=30)
        self.assertTrue(self.d.proc.alive())
