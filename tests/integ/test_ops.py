"""Operations: `make install` into a temporary DESTDIR, the installed SysV
init script driven for real (start, status, reload, restart, stop,
configtest), the systemd unit checked with systemd-analyze verify, the
logrotate snippet run against a live daemon, and the usage texts of
sluiced and sluicectl against their man pages.

The init script reads the file named by $SLUICE_DEFAULTS instead of
/etc/default/sluiced; the tests point its DAEMON at the binary under test
($SLUICED) and its CONFIG and PIDFILE into the test's directory.  A daemon
started through the script detaches (its own session), so every test
remembers the master pids it saw and kills those groups, and only those,
if they are still there at the end."""

import os
import re
import signal
import stat
import subprocess
import unittest

import harness
from harness import (Daemon, Env, T, poll, run, tail, clean_env, have,
                     vless_inbound)
from probes import https_get

REPO = harness.REPO
OK_RE = re.compile(r"(?i)\b(ok|successful)\b")

# ---------------------------------------------------------------- install


def san_build():
    return os.path.basename(os.path.dirname(harness.SLUICED)) == "build-san"


def make_install(destdir, prefix="/usr", target="install"):
    """make TARGET DESTDIR=destdir PREFIX=prefix; raises on failure.  The
    sanitizer build is installed when that is the binary under test."""
    argv = ["make", "-s", "-C", REPO, target, "DESTDIR=" + destdir,
            "PREFIX=" + prefix]
    if san_build():
        argv.append("SAN=1")
    r = run(argv, T(300))
    if r.returncode != 0:
        raise AssertionError("%s failed (exit %d):\n%s" % (
            " ".join(argv), r.returncode,
            tail((r.stdout + r.stderr).decode("utf-8", "replace"))))
    return destdir


_installed = {}


def installed(env):
    """One `make install DESTDIR=... PREFIX=/usr` per run, shared."""
    if "dir" not in _installed:
        d = os.path.join(env.dir, "destdir")
        os.makedirs(d)
        make_install(d)
        _installed["dir"] = d
    return _installed["dir"]


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# Installed with PREFIX=/usr: path -> mode
LAYOUT = {
    "usr/sbin/sluiced": 0o755,
    "usr/bin/sluicectl": 0o755,
    "usr/share/man/man8/sluiced.8": 0o644,
    "usr/share/man/man8/sluicectl.8": 0o644,
    "usr/share/man/man5/sluice.conf.5": 0o644,
    "etc/sluice/sluice.conf": 0o640,
    "etc/default/sluiced": 0o644,
    "etc/init.d/sluiced": 0o755,
    "etc/logrotate.d/sluiced": 0o644,
    "usr/lib/systemd/system/sluiced.service": 0o644,
    "usr/lib/sysctl.d/60-sluice.conf": 0o644,
    "var/log/sluice": 0o750,
    "var/lib/sluice": 0o750,
}
SUBSTITUTED = ("etc/init.d/sluiced", "usr/lib/systemd/system/sluiced.service",
               "etc/default/sluiced")


class Install(unittest.TestCase):
    """make install / uninstall into temporary directories."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.dest = installed(cls.env)

    def path(self, rel):
        return os.path.join(self.dest, rel)

    def test_layout_and_modes(self):
        for rel, want in sorted(LAYOUT.items()):
            p = self.path(rel)
            self.assertTrue(os.path.exists(p), "%s not installed" % rel)
            self.assertEqual(oct(mode(p)), oct(want), "mode of %s" % rel)
        build = "build-san" if san_build() else "build"
        for rel in ("usr/sbin/sluiced", "usr/bin/sluicectl"):
            src = os.path.join(REPO, build, os.path.basename(rel))
            with open(src, "rb") as a, open(self.path(rel), "rb") as b:
                self.assertTrue(a.read() == b.read(),
                                "%s differs from %s" % (rel, src))

    def test_paths_substituted(self):
        for rel in SUBSTITUTED:
            text = read(self.path(rel))
            self.assertIsNone(re.search(r"@[A-Z]+@", text),
                              "%s keeps a placeholder" % rel)
        init = read(self.path("etc/init.d/sluiced"))
        self.assertRegex(init, r"(?m)^DAEMON=/usr/sbin/sluiced$")
        self.assertRegex(init, r"(?m)^CONFIG=/etc/sluice/sluice\.conf$")
        self.assertRegex(init, r"(?m)^PIDFILE=/run/sluice/sluiced\.pid$")
        unit = read(self.path("usr/lib/systemd/system/sluiced.service"))
        self.assertRegex(unit, r"(?m)^ExecStart=/usr/sbin/sluiced ")
        self.assertRegex(unit, r"(?m)^ExecStartPre=/usr/sbin/sluiced -t ")
        self.assertRegex(unit, r"(?m)^ExecReload=/usr/sbin/sluiced -t ")
        self.assertRegex(unit, r"(?m)^ExecReload=/bin/kill -HUP \$MAINPID$")
        self.assertRegex(unit, r"(?m)^EnvironmentFile=-/etc/default/sluiced$")
        self.assertRegex(unit, r"(?m)^Environment=CONFIG=/etc/sluice/sluice\.conf")
        dflt = read(self.path("etc/default/sluiced"))
        self.assertRegex(dflt, r"(?m)^#DAEMON=/usr/sbin/sluiced$")

    def test_unit_directives(self):
        unit = read(self.path("usr/lib/systemd/system/sluiced.service"))
        for line in ("Type=forking", "PIDFile=/run/sluice/sluiced.pid",
                     "KillSignal=SIGQUIT", "KillMode=mixed",
                     "RuntimeDirectory=sluice", "WantedBy=multi-user.target"):
            self.assertRegex(unit, r"(?m)^%s$" % re.escape(line))
        self.assertRegex(unit, r"(?m)^TimeoutStopSec=\d+$")
        # the pid file the unit expects is the one it passes with -p
        self.assertRegex(unit, r"(?m)^ExecStart=.* -p /run/sluice/sluiced\.pid")

    def test_init_script_header_and_syntax(self):
        p = self.path("etc/init.d/sluiced")
        text = read(p)
        m = re.search(r"### BEGIN INIT INFO\n(.*?)### END INIT INFO", text, re.S)
        self.assertIsNotNone(m, "no LSB header")
        hdr = {}
        for line in m.group(1).splitlines():
            k, _, v = line.lstrip("# ").partition(":")
            hdr[k.strip()] = v.split()
        self.assertEqual(hdr.get("Provides"), ["sluiced"])
        for fac in ("$network", "$remote_fs", "$syslog"):
            self.assertIn(fac, hdr.get("Required-Start", []))
        self.assertEqual(hdr.get("Default-Start"), ["2", "3", "4", "5"])
        self.assertEqual(hdr.get("Default-Stop"), ["0", "1", "6"])
        for sh in ("sh", "dash", "bash"):
            if have(sh):
                r = run([sh, "-n", p], T(10))
                self.assertEqual(r.returncode, 0, "%s -n: %s" % (sh, r.stderr))
        r = run([p, "no-such-action"], T(10),
                env=clean_env({"SLUICE_DEFAULTS": "/nonexistent"}))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"configtest", r.stderr)

    def test_sysctl_and_logrotate_files(self):
        self.assertRegex(read(self.path("usr/lib/sysctl.d/60-sluice.conf")),
                         r"(?m)^net\.ipv4\.tcp_migrate_req = 1$")
        lr = read(self.path("etc/logrotate.d/sluiced"))
        self.assertIn("/var/log/sluice/*.log {", lr)
        for opt in ("daily", "rotate 14", "compress", "delaycompress",
                    "missingok", "notifempty", "create 0640 root adm"):
            self.assertRegex(lr, r"(?m)^\s*%s$" % re.escape(opt))
        self.assertRegex(lr, r"kill -USR1 .*/run/sluice/sluiced\.pid")

    def test_installed_config_runs_workers_as_sluice(self):
        conf = read(self.path("etc/sluice/sluice.conf"))
        self.assertRegex(conf, r'(?m)^\s*user = "sluice";')
        self.assertRegex(conf, r'(?m)^\s*group = "sluice";')

    def test_reinstall_keeps_config_and_uninstall(self):
        d = os.path.join(self.env.dir, "destdir-local")
        os.makedirs(d)
        make_install(d, prefix="/usr/local")
        init = os.path.join(d, "etc/init.d/sluiced")
        self.assertRegex(read(init), r"(?m)^DAEMON=/usr/local/sbin/sluiced$")
        unit = os.path.join(d, "usr/local/lib/systemd/system/sluiced.service")
        self.assertRegex(read(unit), r"(?m)^ExecStart=/usr/local/sbin/sluiced ")
        self.assertTrue(os.path.exists(
            os.path.join(d, "usr/local/lib/sysctl.d/60-sluice.conf")))
        # an operator's edits survive a second install; the scripts do not
        conf = os.path.join(d, "etc/sluice/sluice.conf")
        dflt = os.path.join(d, "etc/default/sluiced")
        for p in (conf, dflt):
            with open(p, "a") as f:
                f.write("# edited by the operator\n")
        with open(init, "a") as f:
            f.write("# stray edit\n")
        make_install(d, prefix="/usr/local")
        for p in (conf, dflt):
            self.assertTrue(read(p).endswith("# edited by the operator\n"),
                            "%s overwritten" % p)
        self.assertNotIn("# stray edit", read(init))
        make_install(d, prefix="/usr/local", target="uninstall")
        for rel in ("usr/local/sbin/sluiced", "usr/local/bin/sluicectl",
                    "usr/local/share/man/man8/sluiced.8",
                    "etc/init.d/sluiced", "etc/logrotate.d/sluiced",
                    "usr/local/lib/systemd/system/sluiced.service",
                    "usr/local/lib/sysctl.d/60-sluice.conf"):
            self.assertFalse(os.path.exists(os.path.join(d, rel)),
                             "%s left after uninstall" % rel)
        for p in (conf, dflt):
            self.assertTrue(os.path.exists(p), "uninstall removed %s" % p)


# ---------------------------------------------------------------- init script

def proc_state(pid):
    """The /proc state letter of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def gone(pid):
    return proc_state(pid) in (None, "Z", "X")


class ServiceTest(unittest.TestCase):
    """A daemon run through the installed init script.  Subclasses call
    self.setup_daemon(); every master pid seen is killed at the end if it
    is still alive (a failed test must not leave a detached daemon)."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.dest = installed(cls.env)
        cls.script = os.path.join(cls.dest, "etc/init.d/sluiced")

    def setUp(self):
        self.masters = set()
        self.addCleanup(self.kill_leftovers)

    def setup_daemon(self, name, **defaults):
        env = self.env
        self.port = env.ports.get()
        self.d = Daemon(env, name, [vless_inbound(
            env, "in-vless", self.port, [{"dest": env.nginx.port["web"]}])])
        self.defaults = os.path.join(self.d.dir, "default-sluiced")
        values = {"DAEMON": harness.SLUICED, "CONFIG": self.d.conf,
                  "PIDFILE": self.d.pidfile,
                  "STOP_SCHEDULE": "QUIT/%d/TERM/5/KILL/5" % int(T(20))}
        values.update(defaults)
        with open(self.defaults, "w") as f:
            for k, v in values.items():
                f.write("%s='%s'\n" % (k, v))
        self.sanlog = os.path.join(self.d.dir, "san")
        os.makedirs(self.sanlog)

    def initd(self, action, timeout=None):
        """Run the init script; returns (exit status, stdout + stderr)."""
        env = clean_env({
            "SLUICE_DEFAULTS": self.defaults,
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:log_path="
                            + os.path.join(self.sanlog, "asan"),
            "UBSAN_OPTIONS": "print_stacktrace=1:log_path="
                             + os.path.join(self.sanlog, "ubsan")})
        try:
            r = run([self.script, action], timeout or T(90), env=env)
        except subprocess.TimeoutExpired:
            self.fail("init script %s did not finish in %.0fs"
                      % (action, timeout or T(90)))
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        return r.returncode, out

    def pid_from_file(self):
        def get():
            try:
                return int(read(self.d.pidfile).split()[0])
            except (OSError, ValueError, IndexError):
                return None
        pid = poll(get, T(10), what="pid file %s" % self.d.pidfile)
        self.masters.add(pid)
        return pid

    def assert_is_daemon(self, pid):
        self.assertFalse(gone(pid), "master %d is not running" % pid)
        self.assertEqual(os.readlink("/proc/%d/exe" % pid),
                         os.path.realpath(harness.SLUICED))

    def get(self, want="web"):
        r, _ = https_get(self.env, self.port)
        self.assertEqual(r.status, 200, r.raw_headers)
        self.assertEqual(r.header("x-backend"), want)

    def logs(self):
        return self.d.read("error")

    def stop(self, pid):
        """The stop action; the master must stop by itself on SIGQUIT
        (the schedule's TERM and KILL steps would also end it)."""
        size = len(self.logs())
        rc, out = self.initd("stop")
        self.assertEqual(rc, 0, "stop:\n" + out)
        poll(lambda: gone(pid), T(15), what="master %d to exit" % pid)
        self.assertRegex(self.logs()[size:], r"(?i)\bstopped\b",
                         "the master did not log its own stop (killed?)")

    def kill_leftovers(self):
        """Kill the process group of every master this test saw that is
        still there (the master leads its own session after detaching)."""
        left = []
        for pid in self.masters:
            if gone(pid):
                continue
            try:
                if (os.getpgid(pid) == pid and os.readlink("/proc/%d/exe" % pid)
                        == os.path.realpath(harness.SLUICED)):
                    os.killpg(pid, signal.SIGKILL)
                    left.append(pid)
            except OSError:
                pass
        self.check_sanitizers()
        if left:
            raise AssertionError("master(s) %s still running at the end; "
                                 "killed" % left)

    def check_sanitizers(self):
        reports = []
        sanlog = getattr(self, "sanlog", None)
        if sanlog is not None and os.path.isdir(sanlog):
            for fn in sorted(os.listdir(sanlog)):
                reports.append("%s:\n%s" % (fn, tail(read(
                    os.path.join(sanlog, fn)), 25)))
        rep = self.d.sanitizer_report() if hasattr(self, "d") else None
        if rep:
            reports.append(rep)
        if reports:
            raise AssertionError("sanitizer/alert output:\n"
                                 + "\n".join(reports))


class InitScript(ServiceTest):
    """The installed /etc/init.d/sluiced, run for real."""

    def test_lifecycle(self):
        self.setup_daemon("initd")
        rc, out = self.initd("status")
        self.assertEqual(rc, 3, "status before start:\n" + out)

        rc, out = self.initd("start")
        self.assertEqual(rc, 0, "start:\n" + out)
        pid = self.pid_from_file()
        self.assert_is_daemon(pid)
        rc, out = self.initd("status")
        self.assertEqual(rc, 0, "status:\n" + out)
        self.assertRegex(out, r"\brunning\b")
        self.assertIn(str(pid), out)
        rc, out = self.initd("start")           # already running: 0, same pid
        self.assertEqual(rc, 0, "second start:\n" + out)
        self.assertEqual(self.pid_from_file(), pid)
        self.get("web")

        rc, out = self.initd("configtest")
        self.assertEqual(rc, 0, "configtest:\n" + out)
        self.assertRegex(out, OK_RE)

        # reload: the new fallback serves, the master stays
        cfg = dict(self.d.config)
        cfg["inbounds"] = [vless_inbound(self.env, "in-vless", self.port,
                                         [{"dest": self.env.nginx.port["alt"]}])]
        self.d.write_config(cfg)
        size = len(self.logs())
        rc, out = self.initd("reload")
        self.assertEqual(rc, 0, "reload:\n" + out)
        try:
            poll(lambda: re.search(r"(?i)reload\w*\b.*\bgeneration 2\b|"
                                   r"\bgeneration 2\b.*(reload|in place|"
                                   r"new workers)", self.logs()[size:]),
                 T(15), what="a reload in the error log")
        except AssertionError:
            self.fail("no reload to generation 2 in the log:\n"
                      + tail(self.logs()[size:], 15))
        poll(lambda: https_get(self.env, self.port)[0].header("x-backend")
             == "alt", T(15), interval=0.1, what="the reloaded config")
        self.assertEqual(self.pid_from_file(), pid)
        self.assert_is_daemon(pid)

        # a broken config: reload and restart refuse, the server goes on
        good = read(self.d.conf)
        cfg["inbounds"][0]["port"] = 70000
        self.d.write_config(cfg)
        for action in ("reload", "restart"):
            rc, out = self.initd(action)
            self.assertNotEqual(rc, 0, "%s with a broken config:\n%s"
                                % (action, out))
            self.assertIn("$.inbounds[0].port", out, action)
            self.assertEqual(self.pid_from_file(), pid)
            self.assert_is_daemon(pid)
        self.get("alt")
        self.d.write_config(good)

        rc, out = self.initd("restart")
        self.assertEqual(rc, 0, "restart:\n" + out)
        poll(lambda: gone(pid), T(15), what="old master %d to exit" % pid)
        pid2 = self.pid_from_file()
        self.assertNotEqual(pid2, pid)
        self.assert_is_daemon(pid2)
        self.get("alt")

        self.stop(pid2)
        self.assertFalse(os.path.exists(self.d.pidfile), "pid file left")
        rc, out = self.initd("status")
        self.assertEqual(rc, 3, "status after stop:\n" + out)
        self.assertRegex(out, r"not running")
        rc, out = self.initd("stop")            # not running: still 0
        self.assertEqual(rc, 0, "second stop:\n" + out)

    def test_without_lsb_functions(self):
        self.setup_daemon("initd-nolsb", INIT_FUNCTIONS="/nonexistent")
        rc, out = self.initd("start")
        self.assertEqual(rc, 0, "start:\n" + out)
        pid = self.pid_from_file()
        self.assert_is_daemon(pid)
        rc, out = self.initd("status")
        self.assertEqual(rc, 0, "status:\n" + out)
        self.assertRegex(out, r"\brunning\b")
        self.get("web")
        self.stop(pid)
        rc, out = self.initd("status")
        self.assertEqual(rc, 3, "status after stop:\n" + out)

    def test_configtest_names_file_and_line(self):
        self.setup_daemon("initd-broken")
        broken = os.path.join(self.d.dir, "broken.conf")
        with open(broken, "w") as f:
            f.write('# broken on purpose: the port on line 5\n'
                    'inbounds = (\n'
                    '\t{\n'
                    '\t\tlisten = "127.0.0.1";\n'
                    '\t\tport = 70000;\n'
                    '\t\tprotocol = "trojan";\n'
                    '\t\tsettings = { clients = ( { password = "x"; } ); };\n'
                    '\t}\n'
                    ');\n'
                    'outbounds = ( { protocol = "freedom"; } );\n')
        with open(self.defaults, "a") as f:
            f.write("CONFIG='%s'\n" % broken)
        rc, out = self.initd("configtest")
        self.assertNotEqual(rc, 0, out)
        self.assertIn(broken + ":5:", out)
        self.assertNotRegex(out, r"(?i)configuration ok")
        rc, out = self.initd("start")           # sluiced refuses it too
        self.assertNotEqual(rc, 0, "start with a broken config:\n" + out)
        self.assertIn(broken + ":5:", out)
        self.assertFalse(os.path.exists(self.d.pidfile))


class Logrotate(ServiceTest):
    """The installed logrotate snippet, with its paths moved into the
    test's directory, rotates the logs of a live daemon: SIGUSR1 makes it
    write to new files."""

    def test_rotate_reopens(self):
        if not have("logrotate"):
            raise unittest.SkipTest("logrotate not installed")
        self.setup_daemon("logrotate")
        rc, out = self.initd("start")
        self.assertEqual(rc, 0, "start:\n" + out)
        pid = self.pid_from_file()
        self.get("web")
        access = self.d.access_log
        poll(lambda: os.path.exists(access) and os.path.getsize(access) > 0,
             T(10), what="an access log line")

        snippet = read(os.path.join(self.dest, "etc/logrotate.d/sluiced"))
        self.assertIn("/var/log/sluice/", snippet)
        self.assertIn("/run/sluice/sluiced.pid", snippet)
        snippet = (snippet.replace("/var/log/sluice/", self.d.dir + "/")
                   .replace("/run/sluice/sluiced.pid", self.d.pidfile))
        if run(["getent", "group", "adm"], T(10)).returncode != 0:
            snippet = snippet.replace("root adm", "root root")
        conf = os.path.join(self.d.dir, "logrotate.conf")
        with open(conf, "w") as f:
            f.write(snippet)
        r = run(["logrotate", "-f", "-s", os.path.join(self.d.dir, "lr.state"),
                 conf], T(60))
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
        for log in (access, self.d.error_log):
            self.assertTrue(os.path.exists(log + ".1"), log + ".1 missing")
        self.assertEqual(oct(mode(access)), oct(0o640))
        # requests after the rotation are logged in the new file, once
        # the master has handled SIGUSR1
        def logged_anew():
            self.get("web")
            return os.path.getsize(access) > 0
        poll(logged_anew, T(10), interval=0.5,
             what="the daemon to write the new access log")
        self.assertRegex(read(access), r"fallback|accepted")
        self.assertEqual(self.pid_from_file(), pid)
        self.stop(pid)


# ---------------------------------------------------------------- systemd


class SystemdUnit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not have("systemd-analyze"):
            raise unittest.SkipTest("systemd-analyze not installed")
        cls.env = Env.get()
        cls.dest = installed(cls.env)
        cls.unit = read(os.path.join(
            cls.dest, "usr/lib/systemd/system/sluiced.service"))

    def verify(self, name, text):
        d = os.path.join(self.env.dir, "unit-" + name)
        os.makedirs(d)
        p = os.path.join(d, "sluiced.service")
        with open(p, "w") as f:
            f.write(text)
        r = run(["systemd-analyze", "verify", "--man=no", p], T(60))
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        return r.returncode, [l for l in out.splitlines() if "sluiced" in l]

    def test_verify(self):
        """The installed unit with its binary paths moved to the build:
        verify reports nothing about it."""
        self.assertIn("/usr/sbin/sluiced", self.unit)
        text = self.unit.replace("/usr/sbin/sluiced",
                                 os.path.realpath(harness.SLUICED))
        rc, lines = self.verify("build", text)
        self.assertEqual((rc, lines), (0, []))

    def test_verify_can_fail(self):
        """The same check sees a missing binary, so a clean run means
        something."""
        text = self.unit.replace("/usr/sbin/sluiced", "/nonexistent/sluiced")
        rc, lines = self.verify("missing", text)
        self.assertNotEqual(rc, 0)
        self.assertTrue(lines)


# ---------------------------------------------------------------- usage vs man

def man_section(page, name):
    text = read(os.path.join(REPO, "man", page))
    m = re.search(r"(?ms)^\.Sh %s\n(.*?)(?=^\.Sh )" % re.escape(name), text)
    return m.group(1) if m else ""


def usage_text(argv):
    r = run(argv, T(10))
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


class UsageMatchesManual(unittest.TestCase):
    """`sluiced -h` and `sluicectl help` list what the man pages list."""

    def test_sluiced_options(self):
        _, out = usage_text([harness.SLUICED, "-h"])
        self.assertRegex(out, r"(?i)usage")
        usage = set()
        for m in re.finditer(r"\[-([A-Za-z]+)[\s\]]", out):
            usage.update(m.group(1))
        synopsis = set()
        for m in re.finditer(r"(?m)^\.Op Fl ([A-Za-z]+)",
                             man_section("sluiced.8", "SYNOPSIS")):
            synopsis.update(m.group(1))
        described = set(re.findall(r"(?m)^\.It Fl ([A-Za-z])\b",
                                   man_section("sluiced.8", "DESCRIPTION")))
        self.assertTrue(synopsis, "no options in the SYNOPSIS")
        self.assertEqual(sorted(usage), sorted(synopsis),
                         "sluiced -h:\n%s" % out)
        self.assertEqual(sorted(described), sorted(synopsis),
                         "options described in DESCRIPTION")

    def test_sluicectl_help_is_a_command(self):
        rc, out = usage_text([harness.SLUICECTL, "help"])
        self.assertEqual(rc, 0, "sluicectl help:\n" + out)

    def test_sluicectl_commands(self):
        _, out = usage_text([harness.SLUICECTL, "help"])
        # a command starts an indented line; continuation lines are
        # indented further
        listed = set(re.findall(r"(?m)^ {1,4}([a-z][a-z-]*)\b", out))
        self.assertTrue(listed, "no commands in:\n" + out)
        desc = man_section("sluicectl.8", "DESCRIPTION")
        desc = re.split(r"(?m)^\.Ss FUTURE\n", desc)[0]
        items = []          # the words of each command item: ["geodata", "lookup"]
        lines = desc.splitlines()
        for i, line in enumerate(lines):
            if line == ".It Xo" and i + 1 < len(lines):
                line = ".It " + lines[i + 1].lstrip(".")
            m = re.match(r"\.It Cm ([a-z][a-z -]*?)(?: (?:Ar|Op|Fl|Ns)\b.*)?$",
                         line)
            if m:
                items.append(m.group(1).split())
        documented = {w[0] for w in items}
        for cmd in ("check", "route", "geodata", "reload", "status", "stop",
                    "help"):
            self.assertIn(cmd, documented, "sluicectl.8 lacks %s" % cmd)
        self.assertEqual(sorted(listed - documented), [],
                         "commands of `sluicectl help` not in sluicectl.8")
        for words in items:
            for w in words:
                self.assertRegex(out, r"(?<![\w-])%s(?![\w-])" % re.escape(w),
                                 "sluicectl.8 documents '%s', `sluicectl "
                                 "help` does not list it" % " ".join(words))
        for opt in ("--json", "--fast"):
            self.assertIn(opt, out, "`sluicectl help` lacks %s" % opt)
