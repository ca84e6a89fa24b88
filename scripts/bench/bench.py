#!/usr/bin/python3
"""make bench: sluiced side by side with haproxy (mode tcp), nginx stream,
trojan-gfw and v2ray 4.34 on this machine, in one run (issue 5).

    /usr/bin/python3 scripts/bench/bench.py

Environment:
  ROUNDS=3          rounds; every scenario runs its servers interleaved,
                    A B C ... A B C ..., with the start rotated each round
  BENCH_SMOKE=1     one round, very short loads (for `make test`)
  BENCH_DURATION=10 seconds of each wrk run
  BENCH_OUT=bench   where REPORT.md, runs.tsv, runs.json, ratios.png go
  BENCH_KEEP=1      keep the temporary directory (configs, logs)
  SLUICED           the binary under test (default build/sluiced)

Everything listens on 127.0.0.1 on free ports, in a temporary directory.
Every load is bounded (wrk -d under timeout, curl -m, s_time -time under
timeout, the relay.py clients by --seconds).  Every process started here
is stopped by its process group; nothing is killed by name.  A benchmark
asserts nothing: a missing peer, a mode sluiced refuses or a failed run is
written into the report, and the exit status is 0 once the report is
written.
"""

import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True          # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integ"))
sys.path.insert(0, HERE)

import harness                           # noqa: E402
import servers as sv                     # noqa: E402
import report                            # noqa: E402

PY = "/usr/bin/python3"
RELAY = os.path.join(HERE, "relay.py")
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
ROUNDS = 1 if SMOKE else max(1, int(os.environ.get("ROUNDS", "3")))
DUR = 1 if SMOKE else max(1, int(os.environ.get("BENCH_DURATION", "10")))
STIME = 1 if SMOKE else DUR             # openssl s_time -time
STIME_P = 4                             # parallel s_time clients
K_TLS = 1 if SMOKE else 5               # 100 MiB downloads per sample
K_TUN = 1 if SMOKE else 5
HOLD_N = 100 if SMOKE else 1000         # idle TLS connections held
HOLD_S = 1 if SMOKE else 2              # seconds before sampling memory
PINGS = 300 if SMOKE else 20000         # round trips per ping-pong sample
MIB100 = 100 * 1024 * 1024

RUNS = []               # every measurement: dict(scenario, server, round, ...)
COMMANDS = []           # (scenario, command template)
LOG = []


def say(msg):
    line = "%s %s" % (time.strftime("%H:%M:%S"), msg)
    print(line, flush=True)
    LOG.append(line)


def record(scenario, server, rnd, **values):
    r = {"scenario": scenario, "server": server, "round": rnd}
    r.update(values)
    RUNS.append(r)
    shown = " ".join("%s=%s" % (k, v) for k, v in values.items()
                     if not isinstance(v, (dict, list)))
    say("  s%s %-22s r%d %s" % (scenario, server, rnd, shown))
    return r


def child_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_client(argv, timeout):
    """Run a client to completion; (returncode, stdout, stderr, wall s,
    client CPU s).  The client CPU is the rusage of the reaped child: no
    other child is reaped meanwhile."""
    c0, t0 = child_cpu(), time.monotonic()
    try:
        r = subprocess.run([str(a) for a in argv], capture_output=True,
                           timeout=timeout, env=harness.clean_env())
        rc, out, err = r.returncode, r.stdout.decode(), r.stderr.decode()
    except subprocess.TimeoutExpired as e:
        rc, out, err = -1, (e.stdout or b"").decode(), "timed out"
    return rc, out, err, time.monotonic() - t0, child_cpu() - c0


def rotate(items, rnd):
    if not items:
        return items
    k = rnd % len(items)
    return items[k:] + items[:k]


def per(x, n, scale=1.0):
    return round(x / n * scale, 3) if n else None


# ------------------------------------------------------------------ wrk

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_argv(port, close, dur):
    h = ["-H", "Connection: close"] if close else []
    return (["timeout", "-k", "5", dur + 30, "wrk", "-t2", "-c50",
             "-d%ds" % dur, "--timeout", "5s", "--latency",
             "-H", "Host: example.test"] + h +
            ["https://127.0.0.1:%d/index.html" % port])


def parse_wrk(out):
    res = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+([\d.]+)(us|ms|s)\b" % pct, out,
                      re.M)
        if m:
            res[key] = round(float(m.group(1)) * UNITS[m.group(2)], 3)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    res["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    return res


def wrk_run(scn, label, srv, port, close, rnd):
    c0 = srv.cpu()
    rc, out, err, wall, ccpu = run_client(wrk_argv(port, close, DUR), DUR + 40)
    cpu = srv.cpu() - c0
    w = parse_wrk(out)
    n = w.get("requests", 0)
    if rc != 0 or not n:
        return record(scn, label, rnd, error="wrk exit %d: %s" % (
            rc, sv.first_line(err or out)))
    unit = "conn_per_s" if close else "rps"
    vals = {unit: w["rps"], "cpu_us": per(cpu, n, 1e6),
            "front_cpus": round(cpu / wall, 2),
            "client_cpu_us": per(ccpu, n, 1e6),
            "p50_ms": w.get("p50_ms"), "p99_ms": w.get("p99_ms"),
            "errors": w["errors"] + w["non2xx"]}
    return record(scn, label, rnd, **vals)


def stime_argv(port):
    return ["timeout", "-k", "5", STIME + 25, "openssl", "s_time", "-connect",
            "127.0.0.1:%d" % port, "-new", "-time", STIME, "-www",
            "/index.html"]


def stime_run(scn, label, srv, port, rnd):
    """STIME_P parallel `openssl s_time -new`: every connection a full
    handshake (s_time -new never offers a session; wrk offers its last
    one, which resumes only where the server sends tickets)."""
    c0, cc0, t0 = srv.cpu(), child_cpu(), time.monotonic()
    procs = [subprocess.Popen([str(a) for a in stime_argv(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=harness.clean_env())
             for _ in range(STIME_P)]
    n, errs = 0, []
    for p in procs:
        try:
            out, err = p.communicate(timeout=STIME + 35)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        m = re.search(r"(\d+) connections in [\d.]+s;", out.decode())
        if p.returncode != 0 or not m:
            errs.append("s_time exit %d: %s" % (
                p.returncode, sv.first_line(err.decode() or out.decode())))
        else:
            n += int(m.group(1))
    wall, cpu = time.monotonic() - t0, srv.cpu() - c0
    ccpu = child_cpu() - cc0
    if errs or not n:
        return record(scn, label, rnd, stime_error=errs[0] if errs else
                      "no connections")
    return record(scn, label, rnd, stime_conn_per_s=round(n / wall, 1),
                  stime_cpu_us=per(cpu, n, 1e6),
                  stime_client_cpu_us=per(ccpu, n, 1e6))


# ------------------------------------------------------------------ curl

def curl_bulk(srvs, opts, url, k, timeout):
    """One curl, K downloads of url over one connection; (MB/s, bytes,
    seconds, {name: CPU s}, error)."""
    argv = (["curl", "-sS", "-m", 60] + opts +
            ["-w", "%{size_download} %{time_total}\\n"])
    for _ in range(k):
        argv += ["-o", "/dev/null", url]
    c0 = {n: sv.cpu_seconds(p) for n, p in srvs.items()}
    rc, out, err, wall, ccpu = run_client(argv, timeout)
    cpu = {n: sv.cpu_seconds(p) - c0[n] for n, p in srvs.items()}
    cpu["curl"] = ccpu
    b = s = 0.0
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2:
            b += float(f[0])
            s += float(f[1])
    if rc != 0 or b < k * sv.BIG_SIZE:
        return None, b, s, cpu, "curl exit %d, %d bytes: %s" % (
            rc, b, sv.first_line(err))
    return round(b / s / 1e6, 1), b, s, cpu, None


def curl_sha(opts, url):
    """sha256 of one download (streamed), or an error string."""
    import hashlib
    p = subprocess.Popen(["curl", "-sS", "-m", "60"] + opts + [url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=harness.clean_env())
    h, n = hashlib.sha256(), 0
    try:
        while True:
            d = p.stdout.read(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        p.wait(70)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "timed out"
    if p.returncode:
        return "curl exit %d: %s" % (p.returncode,
                                    sv.first_line(p.stderr.read().decode()))
    return h.hexdigest() if n == sv.BIG_SIZE else "%d bytes" % n


def tls_opts(b, port):
    return (["--http1.1", "--cacert", b.pki["ca"], "--resolve",
             "example.test:%d:127.0.0.1" % port],
            "https://example.test:%d/%s" % (port, sv.BIG))


def socks_opts(b, socks):
    return (["--socks5-hostname", "127.0.0.1:%d" % socks],
            "http://127.0.0.1:%d/%s" % (b.backend.port["http"], sv.BIG))


# ------------------------------------------------------------------ scenarios

def fronts(b, sl, peers):
    """(label, server, port) of every fallback front that runs."""
    out = [("sluiced", sl, sl.port.get("vless"))]
    keys = {"haproxy": "tls", "nginx-stream": "tls", "trojan-gfw": "trojan",
            "v2ray": "vless"}
    for p in peers:
        out.append((p.name, p, p.port.get(keys[p.name])))
    return [f for f in out if f[1].available() and f[1].proc is not None]


def scenario_memory(b, fr):
    """6: idle memory of a fresh process, then HOLD_N idle TLS connections."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(b.pki["ca"])
    ctx.set_alpn_protocols(["http/1.1"])
    for rnd in range(ROUNDS):
        for label, srv, _ in rotate(fr, rnd):
            if not srv.restart():
                record(6, label, rnd, error=srv.reason)
                continue
            port = [p for k, p in srv.port.items()
                    if k in ("vless", "trojan", "tls")][0]
            time.sleep(1)
            idle = srv.memory()
            be0 = sv.loopback_established(b.backend.port["http"])
            socks, fails, t0 = [], 0, time.monotonic()
            for _ in range(HOLD_N):
                if time.monotonic() - t0 > 60:
                    break
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    socks.append(ctx.wrap_socket(s, server_hostname="example.test"))
                except OSError:
                    fails += 1
            time.sleep(HOLD_S)
            held = srv.memory()
            # connections of the previous server may still be closing
            be = max(0, sv.loopback_established(b.backend.port["http"]) - be0)
            alive = 0
            for s in socks:
                s.setblocking(False)
                try:
                    alive += 1 if s.recv(1) != b"" else 0
                except ssl.SSLWantReadError:
                    alive += 1
                except (OSError, ssl.SSLError):
                    pass
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass
            n = len(socks)
            record(6, label, rnd, idle_rss_kib=idle[0], idle_pss_kib=idle[1],
                   rss_per_conn_kib=per(held[0] - idle[0], n),
                   pss_per_conn_kib=per(held[1] - idle[1], n),
                   conns=n, failed=fails, alive=alive, backend_conns=be)
    COMMANDS.append((6, "fresh server; python ssl client: %d x (TCP connect, TLS "
                     "handshake, ALPN http/1.1, SNI example.test, no data); "
                     "sample RSS/PSS (sum of /proc/PID/smaps_rollup over the "
                     "process tree) %d s later" % (HOLD_N, HOLD_S)))


def scenario_wrk(scn, fr, close):
    for rnd in range(ROUNDS):
        for label, srv, port in rotate(fr, rnd):
            wrk_run(scn, label, srv, port, close, rnd)
            if close and scn == 2:
                stime_run(scn, label, srv, port, rnd)
    COMMANDS.append((scn, shlex.join(str(a) for a in wrk_argv(0, close, DUR))
                     .replace("127.0.0.1:0", "127.0.0.1:PORT")))
    if close and scn == 2:
        COMMANDS.append((2, "%d in parallel: %s (conn/s = summed connections "
                         "/ wall seconds)" % (STIME_P, shlex.join(
                             str(a) for a in stime_argv(0)).replace(
                                 "127.0.0.1:0", "127.0.0.1:PORT"))))


def scenario_bulk_tls(b, fr):
    """3: 100 MiB through each fallback, K per curl."""
    for label, srv, port in fr:
        opts, url = tls_opts(b, port)
        sha = curl_sha(opts, url)
        record(3, label, -1, sha256_ok=(sha == b.big_sha256),
               **({} if sha == b.big_sha256 else {"sha_error": sha}))
    for rnd in range(ROUNDS):
        for label, srv, port in rotate(fr, rnd):
            opts, url = tls_opts(b, port)
            mbs, nb, secs, cpu, err = curl_bulk({"front": srv.pid}, opts, url,
                                                K_TLS, K_TLS * 65)
            if err:
                record(3, label, rnd, error=err)
                continue
            record(3, label, rnd, mb_per_s=mbs,
                   cpu_s_per_100mib=per(cpu["front"], nb, MIB100),
                   client_cpu_s_per_100mib=per(cpu["curl"], nb, MIB100))
    COMMANDS.append((3, "curl -sS -m 60 --http1.1 --cacert ca.crt --resolve "
                     "example.test:PORT:127.0.0.1 -w '%%{size_download} "
                     "%%{time_total}\\n' (-o /dev/null https://example.test:PORT"
                     "/big.bin) x %d; MB/s = bytes / summed time_total; sha256 "
                     "of one download checked per server" % K_TLS))


def scenario_tunnel(scn, b, paths):
    """4/5: paths = (label, server, client); curl through the client's socks
    port, K per curl; CPU of server and client."""
    for label, srv, cl in paths:
        opts, url = socks_opts(b, cl.socks_port)
        sha = curl_sha(opts, url)
        record(scn, label, -1, sha256_ok=(sha == b.big_sha256),
               **({} if sha == b.big_sha256 else {"sha_error": sha}))
    for rnd in range(ROUNDS):
        for label, srv, cl in rotate(paths, rnd):
            opts, url = socks_opts(b, cl.socks_port)
            mbs, nb, secs, cpu, err = curl_bulk(
                {"server": srv.pid, "client": cl.pid}, opts, url, K_TUN,
                K_TUN * 65)
            if err:
                record(scn, label, rnd, error=err)
                continue
            record(scn, label, rnd, mb_per_s=mbs,
                   cpu_s_per_100mib=per(cpu["server"], nb, MIB100),
                   tunnel_client_cpu_s_per_100mib=per(cpu["client"], nb, MIB100))


class SocksView:
    """One socks port of a multi-route v2ray client, as a Client."""

    def __init__(self, client, i):
        self.client = client
        self.obj = client.obj
        self.socks_port = client.obj.socks[i]

    @property
    def pid(self):
        return self.client.pid


def scenario_relay(b):
    """7: plaintext relay per relay mode: bulk MB/s, ping-pong latency and
    relay CPU per round trip.  A mode sluiced refuses is 'unavailable'."""
    unavailable = {}
    modes = []
    for mode in ("copy", "splice", "sockmap"):
        s = sv.SluicedPlain(b, mode)
        if not s.available():
            unavailable[mode] = s.reason
            continue
        err = s.check()
        if err:
            unavailable[mode] = "sluiced -t refuses it: " + err.replace(
                b.dir + "/", "")
            continue
        if not s.start():
            unavailable[mode] = s.reason
            continue
        modes.append(("relay " + mode, s))
    echo_port = b.ports.get()
    echo = harness.Proc("echo", [PY, RELAY, "echo", "--port", echo_port,
                                 "--seconds", 3600], b.logdir)
    try:
        harness.wait_tcp(echo_port, 10, echo)
        web = b.backend.port["http"]
        rows = [("direct (no relay)", None)] + modes
        for label, s in rows:
            rc, out, err, _, _ = run_client(
                [PY, RELAY, "bulk", "--port", s.port["trojan"] if s else web,
                 "--dest", web, "--k", 1, "--sha", "--seconds", 60] +
                ([] if s else ["--raw"]), 70)
            res = parse_json(out)
            ok = res.get("sha256") == b.big_sha256
            record(7, label, -1, sha256_ok=ok,
                   **({} if ok else {"sha_error": res.get("error") or
                                     sv.first_line(err) or res.get("sha256")}))
        for mode, why in unavailable.items():
            record(7, "relay " + mode, -1, unavailable=why)
        for rnd in range(ROUNDS):
            for label, s in rotate(rows, rnd):
                port = s.port["trojan"] if s else web
                raw = [] if s else ["--raw"]
                c0 = s.cpu() if s else 0
                rc, out, err, _, ccpu = run_client(
                    [PY, RELAY, "bulk", "--port", port, "--dest", web,
                     "--k", K_TLS] + raw + ["--seconds", 60], 70)
                cpu = (s.cpu() - c0) if s else 0
                res = parse_json(out)
                if rc != 0 or not res.get("bytes"):
                    record(7, label, rnd, error="bulk: %s" % (
                        res.get("error") or sv.first_line(err)))
                    continue
                vals = {"mb_per_s": round(res["bytes"] / res["seconds"] / 1e6, 1)}
                if s:
                    vals["cpu_s_per_100mib"] = per(cpu, res["bytes"], MIB100)
                port = s.port["trojan"] if s else echo_port
                c0 = s.cpu() if s else 0
                rc, out, err, _, _ = run_client(
                    [PY, RELAY, "pingpong", "--port", port, "--dest", echo_port,
                     "--n", PINGS, "--size", 64, "--seconds", 60] + raw, 70)
                cpu = (s.cpu() - c0) if s else 0
                res = parse_json(out)
                if rc != 0 or not res.get("n"):
                    vals["error"] = "pingpong: %s" % (
                        res.get("error") or sv.first_line(err))
                else:
                    vals.update(rtt_p50_us=round(res["p50_us"], 1),
                                rtt_p99_us=round(res["p99_us"], 1))
                    if s:
                        vals["cpu_us_per_rt"] = per(cpu, res["n"], 1e6)
                record(7, label, rnd, **vals)
    finally:
        echo.stop()
        for _, s in modes:
            s.stop()
    notes = []
    for _, s in modes:
        try:
            with open(os.path.join(b.dir, s.name, "error.log")) as f:
                for line in f:
                    if re.search(r"sockmap|splice|bpf|relay", line, re.I):
                        notes.append("%s: %s" % (s.name, line.strip()[:200]))
        except OSError:
            pass
    COMMANDS.append((7, "sluiced Trojan inbound with security none, "
                     "sluice.relay = MODE, 2 workers; relay.py bulk: one "
                     "connection, Trojan request for the backend, %d x GET "
                     "/big.bin keep-alive; relay.py pingpong: Trojan request "
                     "for a python echo server, %d round trips of 64 B "
                     "(TCP_NODELAY); 'direct' = the same clients without "
                     "sluiced" % (K_TLS, PINGS)))
    return notes[:10]


def parse_json(out):
    for line in reversed(out.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def scenario_scaling(b, sl):
    """8: scenario 1 against sluiced with 1 and with 2 workers."""
    one = sv.Sluiced(b, name="sluiced-1w", workers=1)
    if not one.start():
        record(8, "sluiced 1 worker", -1, error=one.reason)
        return
    rows = [("sluiced 1 worker", one, one.port["vless"]),
            ("sluiced 2 workers", sl, sl.port["vless"])]
    COMMANDS.append((8, "as 1, against sluiced -w 1 and the sluiced -w 2 of "
                     "scenarios 1-5"))
    try:
        for rnd in range(ROUNDS):
            for label, srv, port in rotate(rows, rnd):
                wrk_run(8, label, srv, port, False, rnd)
    finally:
        one.stop()


# ------------------------------------------------------------------ main

def meta(b, all_servers):
    def out(argv):
        try:
            r = subprocess.run(argv, capture_output=True, timeout=10)
            return sv.first_line(r.stdout.decode() + r.stderr.decode())
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f
                       if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = out(["sh", "-c", "grep MemTotal /proc/meminfo"])
    m = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
         "kernel": os.uname().release, "cpus": os.cpu_count(), "cpu": cpu,
         "memory": mem.split(":", 1)[-1].strip(),
         "os": out(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
         "rounds": ROUNDS, "smoke": SMOKE, "wrk_seconds": DUR,
         "sluiced": harness.SLUICED}
    vers = {}
    for s in all_servers:
        if s.available():
            try:
                vers[s.name] = s.version()
            except (OSError, subprocess.TimeoutExpired):
                vers[s.name] = "?"
        else:
            vers[s.name] = "unavailable: " + s.reason
    vers["wrk"] = out(["wrk", "-v"])
    vers["openssl"] = out(["openssl", "version"])
    vers["curl"] = out(["curl", "--version"])
    vers["python"] = sys.version.split()[0]
    m["versions"] = vers
    return m


def main():
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))
    outdir = os.path.abspath(os.environ.get("BENCH_OUT") or
                             os.path.join(REPO, "bench"))
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="sluice-bench-")
    t_start = time.monotonic()
    say("bench: rounds %d, wrk %ds%s, temporary directory %s" % (
        ROUNDS, DUR, " (smoke)" if SMOKE else "", tmp))
    notes, started = [], []
    b = None
    m = {}
    try:
        b = sv.Bench(tmp)
        started.append(b.backend)
        sl = sv.Sluiced(b)
        peers = [sv.Haproxy(b), sv.NginxStream(b), sv.TrojanGfw(b), sv.V2ray(b)]
        for s in [sl] + peers:
            if s.start():
                started.append(s)
            else:
                notes.append("%s: %s" % (s.name, s.reason))
                say("  %s unavailable: %s" % (s.name, s.reason))
        m = meta(b, [sl] + peers)
        fr = fronts(b, sl, peers)
        steps = [
            ("6 memory", lambda: scenario_memory(b, fr)),
            ("1 keep-alive", lambda: scenario_wrk(1, fr, False)),
            ("2 new connection per request", lambda: scenario_wrk(2, fr, True)),
            ("3 fallback bulk", lambda: scenario_bulk_tls(b, fr)),
            ("4 Trojan tunnel", lambda: tunnel_trojan(b, sl, peers)),
            ("5 VLESS tunnel", lambda: tunnel_vless(b, sl, peers)),
            ("7 plaintext relay", lambda: notes.extend(scenario_relay(b))),
            ("8 scaling", lambda: scenario_scaling(b, sl)),
        ]
        for name, fn in steps:
            say("scenario %s" % name)
            try:
                fn()
            except Exception as e:  # one scenario's failure is reported
                scn = int(name.split()[0])
                record(scn, "(driver error)", -1, error="%s: %s" % (
                    type(e).__name__, sv.first_line(str(e))))
                say(traceback.format_exc())
        for s in [sl] + peers:
            if s.proc is not None and not s.proc.alive():
                notes.append("%s exited during the run (status %s): %s" % (
                    s.name, s.proc.p.returncode,
                    sv.first_line(harness.tail(s.proc.output(), 3))))
    finally:
        harness.Proc.stop_all()
        if b is not None:
            big = os.path.join(b.www, sv.BIG)
            if os.path.exists(big):
                os.unlink(big)
        if os.environ.get("BENCH_KEEP") == "1":
            say("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    m["elapsed_s"] = round(time.monotonic() - t_start)
    report.write(outdir, m, RUNS, COMMANDS, notes)
    say("bench: wrote %s/REPORT.md in %d s" % (outdir, m["elapsed_s"]))


def tunnel_trojan(b, sl, peers):
    """4: the trojan-gfw client against sluiced's Trojan inbound, the
    trojan-gfw server and v2ray's Trojan inbound."""
    targets = [("sluiced", sl)] + [(p.name, p) for p in peers
                                   if p.name in ("trojan-gfw", "v2ray")]
    paths, clients = [], []
    try:
        for label, srv in targets:
            if srv.proc is None:
                continue
            cl = sv.trojan_client(b, srv.port["trojan"], "trojan-client-" + label)
            clients.append(cl)
            if cl.obj is None:
                record(4, label, -1, error=cl.reason)
                continue
            cl.socks_port = cl.obj.socks
            paths.append((label, srv, cl))
        COMMANDS.append((4, "trojan-gfw client (socks) -> SERVER's Trojan+TLS; "
                         "curl -sS -m 60 --socks5-hostname 127.0.0.1:SOCKS (-o "
                         "/dev/null http://127.0.0.1:BACKEND/big.bin) x %d"
                         % K_TUN))
        scenario_tunnel(4, b, paths)
    finally:
        for c in clients:
            c.stop()


def tunnel_vless(b, sl, peers):
    """5: one v2ray client with a socks port per VLESS server."""
    targets = [("sluiced", sl)] + [(p.name, p) for p in peers
                                   if p.name == "v2ray" and p.proc is not None]
    if sl.proc is None:
        targets = targets[1:]
    routes = [("vless", srv.port["vless"]) for _, srv in targets]
    cl = sv.v2ray_client(b, routes, "v2ray-client")
    try:
        if cl.obj is None:
            record(5, "(v2ray client)", -1, error=cl.reason)
            return
        paths = [(label, srv, SocksView(cl, i))
                 for i, (label, srv) in enumerate(targets)]
        COMMANDS.append((5, "v2ray client (socks, VLESS+TLS outbound, one "
                         "process for both) -> SERVER's VLESS+TLS; curl as in 4"))
        scenario_tunnel(5, b, paths)
    finally:
        cl.stop()


if __name__ == "__main__":
    main()
