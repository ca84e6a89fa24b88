#!/usr/bin/python3
"""Run the sluice integration suite.

    /usr/bin/python3 tests/integ/run.py [--only REGEX] [--list] [-v]

Environment: SLUICED, SLUICECTL (binaries under test), SLUICE_INTEG_SCALE,
SLUICE_INTEG_KEEP (see harness.py).

Prints one line per test: "PASS name", "FAIL name: reason" or
"SKIP name: reason"; the last line is "integ: N passed, N failed" (plus
", N skipped").  Exit status 1 if anything failed.  Every test runs under
an alarm; SIGTERM/SIGINT stop the run and kill only what it started."""

import argparse
import importlib
import os
import re
import signal
import sys
import time
import traceback
import unittest

sys.dont_write_bytecode = True      # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

TEST_LIMIT = 150          # seconds per test, before scaling
CLASS_LIMIT = 120         # setUpClass / tearDownClass


class TestTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that no `except Exception` in
    a test swallows it."""


def on_alarm(signum, frame):
    raise TestTimeout("time limit exceeded")


def on_stop(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


class Alarm:
    def __init__(self, seconds):
        self.seconds = max(1, int(seconds))

    def __enter__(self):
        signal.alarm(self.seconds)

    def __exit__(self, *a):
        signal.alarm(0)


def one_line(text, limit=400):
    text = " | ".join(l.strip() for l in str(text).strip().splitlines() if l.strip())
    return text if len(text) <= limit else text[:limit] + "..."


def reason_of(err):
    etype, value, tb = err
    if etype is TestTimeout:
        frames = traceback.extract_tb(tb)
        where = next((f for f in reversed(frames)
                      if os.path.basename(f.filename).startswith("test_")),
                     frames[-1] if frames else None)
        loc = " at %s:%d" % (os.path.basename(where.filename), where.lineno) if where else ""
        return "timed out%s" % loc
    msg = str(value)
    if etype is AssertionError:
        return one_line(msg) or "assertion failed"
    return one_line("%s: %s" % (etype.__name__, msg))


class Result(unittest.TestResult):
    def __init__(self, details):
        super().__init__()
        self.outcome = None
        self.details = details

    def startTest(self, test):
        super().startTest(test)
        self.outcome = None

    def _set(self, status, reason, err=None):
        if self.outcome is None or self.outcome[0] == "PASS":
            self.outcome = (status, reason)
        if err is not None:
            self.details.write("".join(traceback.format_exception(*err)) + "\n")

    def addSuccess(self, test):
        self._set("PASS", "")

    def addFailure(self, test, err):
        self._set("FAIL", reason_of(err), err)

    def addError(self, test, err):
        self._set("FAIL", reason_of(err), err)

    def addSkip(self, test, reason):
        self._set("SKIP", one_line(reason))

    def addExpectedFailure(self, test, err):
        self._set("PASS", "")

    def addUnexpectedSuccess(self, test):
        self._set("FAIL", "unexpected success")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._set("FAIL", "%s: %s" % (subtest._subDescription(), reason_of(err)), err)


def collect(only):
    loader = unittest.TestLoader()
    classes = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        mod = importlib.import_module(fn[:-3])
        for name in sorted(dir(mod)):
            cls = getattr(mod, name)
            if (isinstance(cls, type) and issubclass(cls, unittest.TestCase)
                    and cls.__module__ == mod.__name__):
                names = loader.getTestCaseNames(cls)
                tests = []
                for tn in names:
                    full = "%s.%s.%s" % (mod.__name__, name, tn)
                    if only is None or re.search(only, full):
                        tests.append((full, cls(tn)))
                if tests:
                    classes.append((cls, tests))
    return classes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", metavar="REGEX",
                    help="run tests whose module.Class.test name matches")
    ap.add_argument("--list", action="store_true", help="list test names")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print tracebacks of failures to stderr")
    args = ap.parse_args()

    classes = collect(args.only)
    if args.list:
        for _, tests in classes:
            for full, _ in tests:
                print(full)
        return 0

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGHUP, on_stop)

    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    details_path = None
    t_start = time.monotonic()

    class Details:
        def __init__(self):
            self.chunks = []

        def write(self, s):
            self.chunks.append(s)
            if args.verbose:
                sys.stderr.write(s)

    details = Details()
    durations = []

    def report(status, name, reason=""):
        counts[status] += 1
        print("%s %s%s" % (status, name, (": " + reason) if status != "PASS" else ""),
              flush=True)

    sys.stderr.write("integ: SLUICED=%s SCALE=%g\n" % (harness.SLUICED, harness.SCALE))
    interrupted = False
    try:
        for cls, tests in classes:
            try:
                with Alarm(harness.T(CLASS_LIMIT)):
                    cls.setUpClass()
            except unittest.SkipTest as e:
                for full, _ in tests:
                    report("SKIP", full, one_line(e))
                continue
            except (Exception, TestTimeout):
                err = sys.exc_info()
                details.write("%s.setUpClass:\n%s\n" % (cls.__name__,
                              "".join(traceback.format_exception(*err))))
                for full, _ in tests:
                    report("FAIL", full, "setUpClass: " + reason_of(err))
                try:
                    with Alarm(harness.T(CLASS_LIMIT)):
                        cls.tearDownClass()
                except (Exception, TestTimeout):
                    pass
                continue
            for full, test in tests:
                res = Result(details)
                details.write("== %s\n" % full)
                t0 = time.monotonic()
                try:
                    with Alarm(harness.T(TEST_LIMIT)):
                        test.run(res)
                except TestTimeout:
                    res._set("FAIL", "timed out (outside the test body)")
                durations.append((time.monotonic() - t0, full))
                status, reason = res.outcome or ("FAIL", "no result")
                report(status, full, reason)
            try:
                with Alarm(harness.T(CLASS_LIMIT)):
                    cls.tearDownClass()
                    cls.doClassCleanups()
            except (Exception, TestTimeout):
                err = sys.exc_info()
                details.write("%s.tearDownClass:\n%s\n" % (cls.__name__,
                              "".join(traceback.format_exception(*err))))
                report("FAIL", "%s.%s.tearDownClass" % (cls.__module__, cls.__name__),
                       reason_of(err))
    except KeyboardInterrupt as e:
        interrupted = True
        signal.alarm(0)
        print("FAIL run: interrupted (%s)" % one_line(e), flush=True)
        counts["FAIL"] += 1
    finally:
        signal.alarm(0)
        env = harness.Env._instance
        failed = counts["FAIL"] > 0
        if env is not None:
            details_path = os.path.join(env.dir, "details.txt")
            try:
                with open(details_path, "w") as f:
                    f.write("".join(details.chunks))
            except OSError:
                details_path = None
        kept = harness.Env.shutdown(failed=failed)
        harness.Proc.stop_all()
        if kept:
            sys.stderr.write("integ: logs and tracebacks kept in %s\n" % kept)
        slow = ", ".join("%s %.1fs" % (n.split(".", 1)[1], d)
                         for d, n in sorted(durations, reverse=True)[:5])
        sys.stderr.write("integ: %.0fs; slowest: %s\n"
                         % (time.monotonic() - t_start, slow))

    line = "integ: %d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        line += ", %d skipped" % counts["SKIP"]
    print(line, flush=True)
    return 1 if counts["FAIL"] or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
