"""bench/REPORT.md, runs.tsv, runs.json, ratios.dat and ratios.png from
the runs of scripts/bench/bench.py.  `report.py DIR` writes them again
from DIR/runs.json.

Each scenario's table gives, per server, the median and min-max over the
rounds of each figure, and the ratio of the reference row to the server's
(sluiced/peer: above 1 means sluiced's figure is larger, which is better
for throughput and worse for a cost).  The chart shows every such ratio
turned into an advantage (higher is better: cost ratios inverted)."""

import json
import sys
import os
import shutil
import statistics
import subprocess

HI, LO = "hi", "lo"

# Scenarios 4 and 5 measure a tunnel the same way.
TUNNEL_METRICS = [
    ("mb_per_s", "MB/s", HI, True, True),
    ("cpu_s_per_100mib", "server CPU-s/100 MiB", LO, True, True),
    ("tunnel_client_cpu_s_per_100mib", "client CPU-s/100 MiB", LO, False, False)]

# id: title, reference row, ratio direction, metrics
#   metric: key, header, better, ratio column, in the chart
SCENARIOS = [
    (1, "Fallback, keep-alive small requests (wrk -t2 -c50, 185 B page)",
     "sluiced", "ref/row", [
         ("rps", "req/s", HI, True, True),
         ("cpu_us", "front CPU µs/req", LO, True, True),
         ("front_cpus", "front CPUs busy", HI, False, False),
         ("p50_ms", "p50 ms", LO, False, False),
         ("p99_ms", "p99 ms", LO, False, False),
         ("client_cpu_us", "wrk CPU µs/req", LO, False, False),
         ("errors", "errors", LO, False, False)]),
    (2, "Fallback, one new TLS connection per request (openssl s_time -new; wrk -H 'Connection: close')",
     "sluiced", "ref/row", [
         ("stime_conn_per_s", "conn/s (s_time ×4)", HI, True, True),
         ("stime_cpu_us", "front CPU µs/conn (s_time)", LO, True, True),
         ("stime_client_cpu_us", "s_time CPU µs/conn", LO, False, False),
         ("conn_per_s", "wrk conn/s", HI, True, False),
         ("cpu_us", "wrk: front CPU µs/conn", LO, True, False),
         ("front_cpus", "wrk: front CPUs busy", HI, False, False),
         ("p99_ms", "wrk p99 ms", LO, False, False),
         ("client_cpu_us", "wrk CPU µs/conn", LO, False, False),
         ("errors", "wrk errors", LO, False, False)]),
    (3, "Fallback, 100 MiB download over one TLS connection (curl)",
     "sluiced", "ref/row", [
         ("mb_per_s", "MB/s", HI, True, True),
         ("cpu_s_per_100mib", "front CPU-s/100 MiB", LO, True, True),
         ("client_cpu_s_per_100mib", "curl CPU-s/100 MiB", LO, False, False)]),
    (4, "Trojan tunnel, trojan-gfw client (socks) -> server, 100 MiB (curl)",
     "sluiced", "ref/row", TUNNEL_METRICS),
    (5, "VLESS tunnel, v2ray client (socks) -> server, 100 MiB (curl)",
     "sluiced", "ref/row", TUNNEL_METRICS),
    (6, "Memory: idle process, and per idle TLS connection (handshake done, no data)",
     "sluiced", "ref/row", [
         ("idle_rss_kib", "idle RSS KiB", LO, True, False),
         ("idle_pss_kib", "idle PSS KiB", LO, True, True),
         ("rss_per_conn_kib", "RSS KiB/conn", LO, True, False),
         ("pss_per_conn_kib", "PSS KiB/conn", LO, True, True),
         ("conns", "conns held", HI, False, False),
         ("alive", "alive at end", HI, False, False),
         ("backend_conns", "backend conns opened", LO, False, False)]),
    (7, "Plaintext relay (Trojan inbound, security none) per sluice.relay mode",
     "relay copy", "row/ref", [
         ("mb_per_s", "MB/s", HI, True, True),
         ("cpu_s_per_100mib", "relay CPU-s/100 MiB", LO, True, True),
         ("rtt_p50_us", "64 B RTT p50 µs", LO, True, True),
         ("rtt_p99_us", "64 B RTT p99 µs", LO, True, False),
         ("cpu_us_per_rt", "relay CPU µs/round trip", LO, True, True)]),
    (8, "Scaling: scenario 1 against sluiced with 1 and 2 workers",
     "sluiced 1 worker", "row/ref", [
         ("rps", "req/s", HI, True, True),
         ("cpu_us", "front CPU µs/req", LO, True, False),
         ("front_cpus", "front CPUs busy", HI, False, False),
         ("p99_ms", "p99 ms", LO, False, False)]),
]

# What a table needs said under it.
NOTES = {
    2: "Both clients make a full handshake per connection here: "
       "`openssl s_time -new` never offers a session, and wrk (which "
       "closes with SSL_clear() and offers the last session again) finds "
       "no ticket to resume, since every server runs with tickets off "
       "(sluiced: no `enableSessionResumption`, Xray's default).  The "
       "target is judged on the s_time columns.",
    7: "The round trips go client -> sluiced -> a python echo server and "
       "back, all on the same CPUs: the latency includes python's own time "
       "and moves a lot between rounds (see min-max); compare modes by the "
       "relay CPU columns first.  Relay CPU is sluiced's own (its "
       "processes' utime+stime): in sockmap mode the kernel moves the "
       "bytes in the sender's softirq and in kworker threads, which no "
       "column here counts, so its 0 is the worker's CPU, not the "
       "machine's (the lab notes measured more total CPU per GiB for "
       "sockmap than for copying).",
    8: "All of wrk (2 threads), the backend nginx (2 workers) and sluiced "
       "share the machine's CPUs; 'front CPUs busy' shows how much of them "
       "sluiced got.  With as many CPUs as workers, the second worker has no "
       "free CPU to scale onto.",
}

# text, scenario, key, numerator row, denominator row, op, threshold
TARGETS = [
    ("1: sluiced front CPU per request ≤ 0.75× haproxy's", 1, "cpu_us",
     "sluiced", "haproxy", "<=", 0.75),
    ("1: requests/s ≥ 1.1× haproxy's", 1, "rps", "sluiced", "haproxy",
     ">=", 1.1),
    ("2: front CPU per new connection ≤ 0.75× nginx stream's (s_time -new)",
     2, "stime_cpu_us",
     "sluiced", "nginx-stream", "<=", 0.75),
    ("3: MB/s ≥ 1.2× haproxy's", 3, "mb_per_s", "sluiced", "haproxy",
     ">=", 1.2),
    ("4: MB/s ≥ 1.3× trojan-gfw server's", 4, "mb_per_s", "sluiced",
     "trojan-gfw", ">=", 1.3),
    ("5: MB/s ≥ 1.2× v2ray's", 5, "mb_per_s", "sluiced", "v2ray", ">=", 1.2),
    ("6: memory (PSS) per idle TLS connection ≤ 0.5× haproxy's", 6,
     "pss_per_conn_kib", "sluiced", "haproxy", "<=", 0.5),
    ("8: 2 workers ≥ 1.7× 1 worker (req/s)", 8, "rps", "sluiced 2 workers",
     "sluiced 1 worker", ">=", 1.7),
]


def med(v):
    return statistics.median(v) if v else None


def fmt(x):
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, int) or float(x).is_integer() and abs(x) >= 100:
        return "{:,}".format(int(x))
    ax = abs(x)
    if ax >= 100:
        return "{:,.0f}".format(x)
    if ax >= 10:
        return "%.1f" % x
    if ax >= 1:
        return "%.2f" % x
    return "%.3f" % x


def rfmt(r):
    return "–" if r is None else "%.2f" % r


class Table:
    """The runs of one scenario, by row (server) and key."""

    def __init__(self, scn, runs):
        self.scn = scn
        self.rows = []
        self.vals = {}
        self.once = {}          # row -> merged dict of round -1 records
        self.errors = {}
        for r in runs:
            if r["scenario"] != scn:
                continue
            row = r["server"]
            if row not in self.rows:
                self.rows.append(row)
            for k, v in r.items():
                if k in ("scenario", "server", "round"):
                    continue
                if k.endswith("error"):
                    self.errors.setdefault(row, []).append(
                        "round %s: %s" % (r["round"], v))
                elif r["round"] < 0:
                    self.once.setdefault(row, {})[k] = v
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.vals.setdefault((row, k), []).append(v)

    def median(self, row, key):
        return med(self.vals.get((row, key), []))

    def ratio(self, num, den, key):
        a, b = self.median(num, key), self.median(den, key)
        if a is None or not b:
            return None
        return a / b


def ratio_of(t, ref, mode, row, key):
    if row == ref:
        return None
    return t.ratio(ref, row, key) if mode == "ref/row" else t.ratio(row, ref, key)


def scenario_md(scn, title, ref, mode, metrics, t):
    out = ["## %d. %s" % (scn, title), ""]
    if not t.rows:
        return out + ["No runs recorded.", ""]
    shown = [m for m in metrics if any((r, m[0]) in t.vals for r in t.rows)]
    hdr = ["server"] + [m[1] for m in shown]
    rcols = [m for m in shown if m[3]]
    label = "%s/%s" % (("sluiced", "peer") if mode == "ref/row" else
                       ("row", ref))
    hdr += ["ratio %s: %s" % (label, m[1]) for m in rcols]
    extra = any(t.once.get(r) for r in t.rows)
    if extra:
        hdr.append("checks")
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|" + "---|" * len(hdr))
    for row in t.rows:
        cells = [row]
        for m in shown:
            v = t.vals.get((row, m[0]), [])
            if not v:
                cells.append("–")
            elif len(v) == 1:
                cells.append("**%s**" % fmt(v[0]))
            else:
                cells.append("**%s** (%s–%s)" % (fmt(med(v)), fmt(min(v)),
                                                  fmt(max(v))))
        for m in rcols:
            cells.append(rfmt(ratio_of(t, ref, mode, row, m[0])))
        if extra:
            o = t.once.get(row, {})
            c = []
            if "sha256_ok" in o:
                c.append("sha256 %s" % ("ok" if o["sha256_ok"] else "WRONG"))
            if "unavailable" in o:
                c.append("unavailable (%s)" % o["unavailable"])
            cells.append("; ".join(c))
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    out.append("")
    n = max((len(v) for v in t.vals.values()), default=0)
    if scn in NOTES:
        out.append(NOTES[scn])
        out.append("")
    out.append("Median of %d round(s), min–max in brackets.%s" % (
        n, " Ratio columns: the median of %s over the median of the row "
        "(above 1: sluiced's figure is larger)." % ref
        if mode == "ref/row" else
        " Ratio columns: the row's median over %s's." % ref))
    for row, errs in t.errors.items():
        for e in errs[:3]:
            out.append("- %s: %s" % (row, e))
        if len(errs) > 3:
            out.append("- %s: %d more errors (runs.tsv)" % (row, len(errs) - 3))
    out.append("")
    return out


def targets_md(tables):
    out = ["## Targets (issue 5)", "",
           "| target | measured ratio | met |", "|---|---|---|"]
    chart = {}
    for text, scn, key, num, den, op, thr in TARGETS:
        t = tables[scn]
        r = t.ratio(num, den, key)
        if r is None:
            out.append("| %s | not measured (%s or %s missing) | – |" % (
                text, num, den))
            continue
        ok = r <= thr if op == "<=" else r >= thr
        out.append("| %s | %.2f (%s %s / %s %s) | %s |" % (
            text, r, num, fmt(t.median(num, key)), den,
            fmt(t.median(den, key)), "met" if ok else "**not met**"))
        chart[(scn, key, num if scn in (7, 8) else den)] = (
            thr if op == ">=" else 1 / thr)
    t7 = tables[7]
    modes = [r for r in t7.rows if r.startswith("relay ")]
    avail = [r for r in modes if "unavailable" not in t7.once.get(r, {})]
    bad = [r for r in avail if t7.once.get(r, {}).get("sha256_ok") is not True]
    miss = [r for r in modes if r not in avail]
    txt = ("byte-exact sha256 of a 100 MiB relay in: %s" %
           (", ".join(avail) or "no mode"))
    if miss:
        txt += "; unavailable: %s" % ", ".join(miss)
    out.append("| 7: every relay mode byte-exact (here: one checksummed 100 MiB "
               "transfer per mode; the 1000-transfer check with early closes "
               "belongs to the test suite) | %s | %s |" % (
                   txt, "not met" if bad or miss or not avail else "met"))
    out.append("")
    out += sockmap_md(t7)
    return out, chart


def sockmap_md(t7):
    s = "relay sockmap"
    if s not in t7.rows:
        return []
    o = t7.once.get(s, {})
    if "unavailable" in o:
        return ["Sockmap: unavailable in this run (%s), so where it wins or "
                "loses is not measured." % o["unavailable"], ""]
    out = ["Sockmap against the other modes (medians):", ""]
    for key, name, better in (("rtt_p50_us", "64 B round-trip p50", LO),
                              ("cpu_us_per_rt", "relay CPU per round trip", LO),
                              ("mb_per_s", "bulk MB/s", HI),
                              ("cpu_s_per_100mib", "relay CPU per 100 MiB", LO)):
        a = t7.median(s, key)
        for other in ("relay copy", "relay splice"):
            b = t7.median(other, key)
            if a is None or not b:
                continue
            win = a > b if better == HI else a < b
            out.append("- %s: sockmap %s vs %s %s → sockmap %s (×%.2f)" % (
                name, fmt(a), other.split()[1], fmt(b),
                "wins" if win else "loses", a / b))
    return out + [""]


def chart_rows(tables, target_marks):
    rows = []
    for scn, title, ref, mode, metrics in SCENARIOS:
        t = tables[scn]
        for key, hdr, better, ratio, chart in metrics:
            if not (ratio and chart):
                continue
            for row in t.rows:
                if row == ref or row.startswith("direct"):
                    continue
                r = ratio_of(t, ref, mode, row, key)
                if not r:
                    continue
                adv = r if better == HI else 1 / r
                if mode == "ref/row":
                    lab = "%d %s vs %s" % (scn, hdr, row)
                else:
                    lab = "%d %s: %s vs %s" % (scn, hdr, row, ref)
                rows.append((lab, adv, target_marks.get((scn, key, row))))
    return rows


def chart(outdir, rows):
    dat = os.path.join(outdir, "ratios.dat")
    with open(dat, "w") as f:
        f.write("# index advantage target color label\n")
        for i, (lab, adv, tgt) in enumerate(rows):
            color = 0x2e8b57 if adv >= (tgt or 1) else (
                0xcc3333 if tgt else 0x999999 if adv < 1 else 0x2e8b57)
            f.write('%d %.4f %s %d "%s"\n' % (i, adv, "%.4f" % tgt if tgt
                                               else "NaN", color,
                                               lab.replace('"', "'")))
    if not rows or shutil.which("gnuplot") is None:
        return "no chart (%s)" % ("no ratios" if not rows else
                                  "gnuplot not installed")
    lo = min(min(a for _, a, _ in rows), 0.5)
    hi = max(max(max(a, t or 0) for _, a, t in rows), 2)
    gp = os.path.join(outdir, "ratios.gp")
    with open(gp, "w") as f:
        f.write("""set terminal pngcairo noenhanced size 1100,%(h)d font "sans,10"
set output "%(png)s"
set title "sluiced against each peer, per scenario: advantage = sluiced/peer for throughput, peer/sluiced for costs\\n(> 1: sluiced better; scenario 7: mode vs copy; 8: 2 workers vs 1; x marks a target of issue 5)"
set logscale x 2
set xrange [%(lo)g:%(hi)g]
set yrange [%(n)d:-1]
set ytics nomirror font ",9"
set xtics nomirror
set grid xtics
unset key
unset colorbox
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "black"
set style fill solid 0.75 noborder
plot "%(dat)s" using 2:1:($2<1?$2:1):($2<1?1:$2):($1-0.38):($1+0.38):4:ytic(5) \\
       with boxxyerror lc rgb variable notitle, \\
     "" using ($2<1?NaN:$2):1:(sprintf(" %%.2f", $2)) with labels left font ",8", \\
     "" using ($2<1?$2:NaN):1:(sprintf("%%.2f ", $2)) with labels right font ",8", \\
     "" using 3:1 with points pt 2 ps 1.6 lw 2 lc rgb "black"
""" % {"h": 140 + 22 * len(rows), "png": os.path.join(outdir, "ratios.png"),
       "lo": lo / 1.3, "hi": hi * 1.6, "n": len(rows), "dat": dat})
    r = subprocess.run(["gnuplot", gp], capture_output=True, timeout=60)
    if r.returncode:
        return "gnuplot failed: %s" % r.stderr.decode()[:300]
    return None


def write(outdir, meta, runs, commands, notes):
    tables = {s[0]: Table(s[0], runs) for s in SCENARIOS}
    with open(os.path.join(outdir, "runs.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs, "notes": notes,
                   "commands": commands}, f, indent=1)
    keys = []
    for r in runs:
        for k in r:
            if k not in keys:
                keys.append(k)
    with open(os.path.join(outdir, "runs.tsv"), "w") as f:
        f.write("\t".join(keys) + "\n")
        for r in runs:
            f.write("\t".join(str(r.get(k, "")) for k in keys) + "\n")
    tmd, marks = targets_md(tables)
    err = chart(outdir, chart_rows(tables, marks))
    v = meta.get("versions", {})
    out = ["# sluice benchmark report", "",
           "Written by `make bench` (scripts/bench/bench.py) on %s in %s s%s." % (
               meta.get("date", "?"), meta.get("elapsed_s", "?"),
               " — **smoke run: one round, 1-second loads; the figures mean "
               "nothing**" if meta.get("smoke") else ""), "",
           "| item | value |", "|---|---|"]
    for k in ("os", "kernel", "cpu", "cpus", "memory", "rounds", "wrk_seconds"):
        out.append("| %s | %s |" % (k, meta.get(k, "?")))
    out.append("| binary under test | %s |" % meta.get("sluiced", "?"))
    for k, val in v.items():
        out.append("| %s | %s |" % (k, str(val).replace("|", "/")))
    out += ["",
            "Everything ran on 127.0.0.1 on the same CPUs: the client (wrk, curl,"
            " python), the server under test and the backend nginx (2 workers, "
            "plain HTTP, `index.html` 185 B and `big.bin` 100 MiB of random "
            "bytes). Each server ran with 2 workers or threads (sluiced "
            "`-w 2`, haproxy `nbthread 2`, nginx `worker_processes 2`, v2ray "
            "`GOMAXPROCS=2`; trojan-gfw has one thread), TLS 1.3 with an "
            "ECDSA P-256 certificate, resumption off (sluiced: no "
            "`enableSessionResumption`, the default), ALPN http/1.1, logs "
            "off or warnings only. "
            "Rounds are interleaved (A B C … A B C …, the start rotated each "
            "round). CPU = utime+stime from /proc/PID/stat summed over the "
            "server's process tree (master and workers, all threads), "
            "difference around the run. Memory = Rss and Pss of "
            "/proc/PID/smaps_rollup summed over the tree.", "",
            "![ratios](ratios.png)" if err is None else "Chart: %s" % err, ""]
    out += tmd
    for scn, title, ref, mode, metrics in SCENARIOS:
        out += scenario_md(scn, title, ref, mode, metrics, tables[scn])
    out += ["## Commands", ""]
    for scn, cmd in commands:
        out.append("- %d: `%s`" % (scn, cmd.replace("`", "'")))
    out += ["", "## Notes", ""]
    out += ["- %s" % n for n in notes] or ["- none"]
    out += ["", "Raw data: runs.tsv and runs.json (one record per run; round "
            "-1 = a check made once), ratios.dat and ratios.gp (the chart).", ""]
    with open(os.path.join(outdir, "REPORT.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "bench"
    with open(os.path.join(d, "runs.json")) as f:
        data = json.load(f)
    write(d, data["meta"], data["runs"], data.get("commands", []),
          data.get("notes", []))
