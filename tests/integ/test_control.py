"""The control socket and `sluicectl reload|status|stop`; in-place and
new-worker reloads seen from outside; the workers' privileges."""

import copy
import json
import os
import re
import signal
import stat
import time
import subprocess
import unittest

from harness import (SLUICECTL, Daemon, Env, T, children, poll, run, tail,
                     vless_inbound, trojan_inbound)
from probes import TLSClient, http_request, https_get, read_response


def control_daemon(env, name, workers=2):
    web = env.nginx.port["web"]
    d = Daemon(env, name, [
        vless_inbound(env, "in-vless", env.ports.get(), [{"dest": web}]),
        trojan_inbound(env, "in-trojan", env.ports.get(), [{"dest": web}]),
    ], workers=workers)
    return d


class Control(unittest.TestCase):
    """Each test starts its own daemon."""

    stopped_already = False

    def setUp(self):
        self.env = Env.get()
        self.d = control_daemon(self.env, self._testMethodName[5:])
        self.port = self.d.config["inbounds"][0]["port"]
        self.addCleanup(self.stop_and_check)
        # -w on the command line would pin the worker count: the config says.
        self.d.start(cli_workers=False)

    def stop_and_check(self):
        rc = self.d.stop()
        rep = self.d.sanitizer_report()
        self.assertIsNone(rep, "sanitizer/alert output:\n%s" % rep)
        if not self.stopped_already:
            self.assertEqual(rc, 0, "exit status:\n" + tail(self.d.read("stderr")))

    def ctl(self, *args, sock=True):
        argv = [SLUICECTL] + (["-s", self.d.control] if sock else []) + list(args)
        return run(argv, T(60), text=True)

    def status(self):
        r = self.ctl("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def workers(self, st):
        return sorted(w["pid"] for w in st["workers"] if w["slot"] != "observer"
                      and w["state"] == "running")

    def running(self, n=2):
        """The pids of N running workers, once they all run (a worker
        just started, or respawned by an earlier test, may not yet)."""
        return poll(lambda: (lambda p: p if len(p) >= n else None)(
            self.workers(self.status())), T(10),
            what="%d running workers" % n)

    def get(self, n=1, expect="web"):
        for _ in range(n):
            r, _ = https_get(self.env, self.port)
            self.assertEqual(r.status, 200, r.raw_headers)
            self.assertEqual(r.header("x-backend"), expect)

    def test_socket_mode_0600(self):
        st = os.stat(self.d.control)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_status_names_workers_and_counts(self):
        def accepted(st):
            return {l["tag"]: l["accepted"] for l in st["listeners"]}
        # The harness's readiness probes were connections too, accepted once
        # every worker runs: count from a settled state.
        def settled():
            a, b = self.status(), None
            time.sleep(0.1)
            b = self.status()
            ok = (all(w["state"] == "running" for w in b["workers"]) and
                  all(l["active"] == 0 for l in b["listeners"]) and
                  accepted(a) == accepted(b))
            return accepted(b) if ok else None
        before = poll(settled, T(10), what="idle workers")
        self.get(n=6)
        st = self.status()
        self.assertEqual(st["pid"], self.d.pid)
        self.assertEqual(st["generation"], 1)
        self.assertEqual(self.workers(st), sorted(children(self.d.pid)))
        lst = {l["tag"]: l for l in st["listeners"]}
        self.assertEqual(set(lst), {"in-vless", "in-trojan"})
        self.assertEqual(lst["in-vless"]["address"], "127.0.0.1:%d" % self.port)
        after = accepted(st)
        self.assertEqual(after["in-vless"] - before["in-vless"], 6)
        self.assertEqual(after["in-trojan"], before["in-trojan"])
        self.assertEqual(sum(w["accepted"] for w in st["workers"]),
                         sum(after.values()))
        text = self.ctl("status")
        self.assertEqual(text.returncode, 0, text.stderr)
        for pid in self.workers(st):
            self.assertIn(str(pid), text.stdout)
        self.assertIn("127.0.0.1:%d" % self.port, text.stdout)

    def test_status_via_config(self):
        r = self.ctl("-c", self.d.conf, "status", sock=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("generation 1", r.stdout)

    def test_no_daemon_is_exit_2(self):
        r = run([SLUICECTL, "-s", self.d.control + ".none", "status"], T(10), text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn(self.d.control + ".none", r.stderr)

    def test_reload_in_place_keeps_workers(self):
        before = self.running()
        cfg = copy.deepcopy(self.d.config)
        cfg["inbounds"][0]["settings"]["fallbacks"][0]["dest"] = \
            self.env.nginx.port["alt"]
        self.d.write_config(cfg)
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"generation 2: in place, 2 workers")
        # Answered only when every worker took it: the very next
        # connections see the new fallback.
        self.get(n=10, expect="alt")
        st = self.status()
        self.assertEqual(st["generation"], 2)
        self.assertEqual(self.workers(st), before)
        self.assertTrue(all(w["generation"] == 2 for w in st["workers"]))

    def test_reload_worker_count_starts_new_workers(self):
        before = self.running()
        cfg = copy.deepcopy(self.d.config)
        cfg["sluice"]["workers"] = 3
        self.d.write_config(cfg)
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"generation 2: new workers, 3 workers")
        self.get(n=10)
        poll(lambda: len(self.workers(self.status())) == 3 and
             not set(self.workers(self.status())) & set(before), T(10),
             what="3 new workers, old ones gone")

    def test_reload_error_names_line_and_keeps_serving(self):
        bad = copy.deepcopy(self.d.config)
        bad["inbounds"][0]["settings"]["fallbacks"][0]["xver"] = 3
        self.d.write_config(bad)
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("reload failed: generation 1 keeps serving", r.stderr)
        self.assertIn("fallbacks[0].xver", r.stderr)
        self.get(n=5)
        self.assertEqual(self.status()["generation"], 1)

    def test_stop_waits_for_exit(self):
        self.get()
        r = self.ctl("stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "stopped")
        self.assertIsNotNone(self.d.proc.wait(T(5)), "master still running")
        self.assertFalse(os.path.exists(self.d.control))
        self.stopped_already = True

    def test_stop_drains_open_connection(self):
        """A graceful stop lets a connection in flight finish."""
        with TLSClient(self.port, self.env.pki["ca"], sni="example.test",
                       alpn=("http/1.1",)) as c:
            stopper = subprocess.Popen(
                [SLUICECTL, "-s", self.d.control, "stop"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                poll(lambda: "draining" in self.d.read("error"), T(10),
                     what="workers to start draining")
                self.assertIsNone(stopper.poll(), "stop did not wait")
                c.send(http_request("/index.html"))
                r = read_response(c, T(10))
                self.assertEqual(r.status, 200, r.raw_headers)
                out, err = stopper.communicate(timeout=T(20))
            finally:
                if stopper.poll() is None:
                    stopper.kill()
                    stopper.wait()
        self.assertEqual(stopper.returncode, 0, err)
        self.assertEqual(out.strip(), "stopped")
        self.stopped_already = True


    def test_crash_loop_backs_off(self):
        """A worker that keeps dying is respawned ever more slowly and the
        master stays up."""
        pids = self.running()
        victim, other = pids[0], pids[1]
        delays = []
        for _ in range(4):
            size = len(self.d.read("error"))
            os.kill(victim, signal.SIGKILL)
            pat = re.compile(r"\(pid %d\) exited on signal 9; respawning in "
                             r"(\d+) ms" % victim)
            m = poll(lambda: pat.search(self.d.read("error")[size:]), T(10),
                     what="respawn of pid %d logged" % victim)
            delays.append(int(m.group(1)))
            victim = poll(lambda: next(iter(set(children(self.d.pid)) -
                                            {other}), None), T(10),
                          what="a respawned worker")
        self.assertEqual(delays, [0, 200, 400, 800])
        self.assertTrue(self.d.proc.alive())
        poll(lambda: len(children(self.d.pid)) == 2, T(10), what="2 workers")
        self.get(n=4)

    def test_usr1_reopens_logs(self):
        os.rename(self.d.error_log, self.d.error_log + ".1")
        os.kill(self.d.pid, signal.SIGUSR1)
        poll(lambda: os.path.exists(self.d.error_log) and
             "log files reopened" in open(self.d.error_log).read(), T(10),
             what="a new error.log after USR1")


class Privileges(unittest.TestCase):
    """As root, workers run as sluice.user/group with no capabilities."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        self.env = Env.get()
        self.d = control_daemon(self.env, "privs")
        self.d.config["sluice"]["user"] = "nobody"
        self.d.config["sluice"]["group"] = "nogroup"
        self.d.write_config(self.d.config)
        self.port = self.d.config["inbounds"][0]["port"]
        self.addCleanup(self.d.stop)
        self.d.start()

    @staticmethod
    def proc_status(pid):
        fields = {}
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.split()
        return fields

    def test_workers_unprivileged_master_root(self):
        r, _ = https_get(self.env, self.port)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.proc_status(self.d.pid)["Uid"][0], "0")
        ws = children(self.d.pid)
        self.assertTrue(ws)
        for pid in ws:
            st = self.proc_status(pid)
            self.assertEqual(set(st["Uid"]), {"65534"}, st["Uid"])
            self.assertEqual(st["CapEff"], ["0000000000000000"])
            self.assertEqual(st["CapPrm"], ["0000000000000000"])
            self.assertEqual(st["NoNewPrivs"], ["1"])


if __name__ == "__main__":
    unittest.main()
