"""TLS session tickets (shm/tickets.h): keys made by the master and shared
by every worker, kept across reloads.  A session saved by `openssl
s_client -sess_out` resumes (TLS 1.2 and TLS 1.3) on every worker,
connection after connection from new source ports, then after a reload
that changes only a fallback and after one that starts new workers; a
second sluiced (its own master, so its own keys) makes a full handshake
with it."""

import copy
import os
import re
import signal
import unittest

from harness import (Daemon, Env, T, poll, run, tail,
                     vless_inbound, wait_tcp)
from probes import https_get

VERSIONS = ("tls1_2", "tls1_3")
SUMMARY_RE = re.compile(r"^(New|Reused), (TLSv1\.[23]),", re.M)
# The worker that made a fallback: the debug line of worker/fallback.c.
SERVED_RE = re.compile(r"\[debug\] (worker \d+): fallback starts")
REQUEST = (b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n"
           b"Connection: close\r\n\r\n")
ROUNDS = 20         # connections per check: spread over the workers


def tickets_daemon(env, name, resumption=True):
    inb = vless_inbound(env, "in-tls", env.ports.get(),
                        [{"dest": env.nginx.port["web"]}])
    if resumption:
        inb["streamSettings"]["tlsSettings"]["enableSessionResumption"] = True
    d = Daemon(env, name, [inb], workers=2)
    d.config["log"]["loglevel"] = "debug"
    d.write_config(d.config)
    return d


class Tickets(unittest.TestCase):
    """Each test starts its own daemon(s)."""

    def setUp(self):
        self.env = Env.get()
        self.daemons = []
        self.d = self.start(tickets_daemon(self.env, "tickets"))
        self.port = self.d.config["inbounds"][0]["port"]

    def start(self, d):
        self.daemons.append(d)
        self.addCleanup(self.stop_and_check, d)
        return d.start()

    def stop_and_check(self, d):
        rc = d.stop()
        rep = d.sanitizer_report()
        self.assertIsNone(rep, "sanitizer/alert output:\n%s" % rep)
        self.assertEqual(rc, 0, "exit status after SIGTERM:\n"
                         + tail(d.read("stderr")))

    # -- s_client

    def s_client(self, port, version, sess_in=None, sess_out=None,
                 ticket=None):
        """One connection and one HTTP request through the fallback;
        returns "New" or "Reused".  TICKET: assert that the server sent
        a session ticket (True) or none (False)."""
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                "-servername", "example.test", "-CAfile", self.env.pki["ca"],
                "-verify_return_error", "-verify_hostname", "example.test",
                "-alpn", "http/1.1", "-ign_eof", "-" + version]
        if sess_in:
            argv += ["-sess_in", sess_in]
        if sess_out:
            argv += ["-sess_out", sess_out]
        r = run(argv, T(20), input=REQUEST)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "s_client failed:\n%s\n%s"
                         % (tail(out, 15), tail(err, 10)))
        m = SUMMARY_RE.search(out)
        self.assertIsNotNone(m, "no session summary:\n" + tail(out, 30))
        self.assertEqual(m.group(2), {"tls1_2": "TLSv1.2",
                                      "tls1_3": "TLSv1.3"}[version])
        # The answer came through: with TLS 1.3 the ticket came before it.
        self.assertIn("HTTP/1.1 200", out, tail(out, 30))
        if ticket is not None:
            self.assertEqual("TLS session ticket:" in out, ticket,
                             "session ticket sent: " + tail(out, 30))
        return m.group(1)

    def new_session(self, d, version):
        path = os.path.join(d.dir, "%s.sess" % version)
        port = d.config["inbounds"][0]["port"]
        self.assertEqual(self.s_client(port, version, sess_out=path,
                                       ticket=True), "New")
        self.assertTrue(os.path.getsize(path) > 0, "no session saved")
        return path

    def served_by(self, d, since):
        """Which workers made fallbacks after error-log offset since."""
        return set(SERVED_RE.findall(d.read("error")[since:]))

    def expect_resumed(self, sessions, what, rounds=ROUNDS):
        """Every connection resumes, and the connections of each version
        went to more than one worker."""
        for version, path in sorted(sessions.items()):
            since = self.d.log_size("error")
            got = [self.s_client(self.port, version, sess_in=path)
                   for _ in range(rounds)]
            self.assertEqual(got.count("Reused"), rounds,
                             "%s, %s: %d of %d connections resumed"
                             % (what, version, got.count("Reused"), rounds))
            served = poll(lambda: (lambda s: s if len(s) >= 2 else None)(
                self.served_by(self.d, since)), T(10),
                what="fallback lines of 2 workers")
            self.assertGreaterEqual(len(served), 2, served)

    def reload(self, cfg):
        self.d.write_config(cfg)
        self.d.config = cfg
        os.kill(self.d.master_pid_from_file(), signal.SIGHUP)

    # -- tests

    def test_resume_across_workers_and_reloads(self):
        sessions = {v: self.new_session(self.d, v) for v in VERSIONS}
        self.expect_resumed(sessions, "same generation")

        # A reload that changes a fallback only.
        cfg = copy.deepcopy(self.d.config)
        cfg["inbounds"][0]["settings"]["fallbacks"].append(
            {"path": "/pp", "dest": self.env.nginx.port["pp"], "xver": 1})
        self.reload(cfg)
        poll(lambda: https_get(self.env, self.port, "/pp")[0]
             .header("x-proxy-client"), T(10), interval=0.1,
             what="the added fallback to serve")
        self.expect_resumed(sessions, "after a fallback reload")

        # A reload that adds a listener: new workers, the old ones leave.
        old = self.d.worker_pids()
        cfg = copy.deepcopy(self.d.config)
        cfg["inbounds"].append(vless_inbound(
            self.env, "in-more", self.env.ports.get(),
            [{"dest": self.env.nginx.port["web"]}]))
        self.reload(cfg)
        wait_tcp(cfg["inbounds"][1]["port"], T(10), self.d.proc)
        poll(lambda: not set(old) & set(self.d.worker_pids()), T(20),
             what="the old workers to exit")
        self.expect_resumed(sessions, "after new workers started")

    def test_no_tickets_without_resumption(self):
        # Xray's default: a TLS inbound without enableSessionResumption
        # issues no session tickets at all.
        off = self.start(tickets_daemon(self.env, "off", resumption=False))
        port = off.config["inbounds"][0]["port"]
        for version in VERSIONS:
            self.assertEqual(self.s_client(port, version, ticket=False),
                             "New")

    def test_other_master_full_handshake(self):
        sessions = {v: self.new_session(self.d, v) for v in VERSIONS}
        other = self.start(tickets_daemon(self.env, "other"))
        port = other.config["inbounds"][0]["port"]
        for version, path in sorted(sessions.items()):
            got = [self.s_client(port, version, sess_in=path)
                   for _ in range(5)]
            self.assertEqual(got, ["New"] * 5, "%s: a session of another "
                             "master was resumed" % version)
            # Its own sessions do resume: the refusal was the keys.
            own = self.new_session(other, version)
            self.assertEqual(self.s_client(port, version, sess_in=own),
                             "Reused")
