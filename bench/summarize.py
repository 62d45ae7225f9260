#!/usr/bin/env python3
"""Turns the JSON results of bench/run.sh into a markdown report with per-pair ratios and PNG plots.

Usage: summarize.py <results dir>      markdown on stdout, plots in <dir>/plots/
       summarize.py --one <result.json>  one line for the run log
Standard library only; plots need gnuplot (skipped with a note when it is missing).
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys

FLOOR_US = 5.75  # NOTES-benchmark.md's C floor; used only when a run has no measured floor
KNEE_P99_US = 100_000


def load(path):
    with open(path) as f:
        return json.load(f)


def cpu_per_delivery(r):
    return r.get("server_cpu_us_per_delivery")


def p99(r):
    return (r.get("latency_us") or {}).get("p99")


def delivered_ratio(r):
    exp = r.get("expected") or 0
    return (r.get("delivered") or 0) / exp if exp else 0.0


def achieved_ratio(r):
    # --rate is messages/s over all publishers; each message reaches the subs of its room
    target = (r.get("rate_target") or 0) * (r.get("subs") or 1)
    return (r.get("deliveries_per_s") or 0) / target if target else 0.0


def ok_at_load(r):
    return (r is not None and r.get("loss", 1) == 0 and delivered_ratio(r) >= 0.99
            and achieved_ratio(r) >= 0.99 and (p99(r) or 1e12) <= KNEE_P99_US)


def one(path):
    r = load(path)
    lat = r.get("latency_us") or {}
    extra = ""
    if r.get("idle"):
        extra = " rss/conn %.1f KB, connects %.0f/s, cpu/connect+join %.0f us" % (
            (r.get("server_rss_per_conn_kb") or 0), r.get("connect_joins_per_s") or 0, r.get("server_cpu_us_per_connect") or 0)
    if r.get("server_jit_cpu_s"):
        extra += ", server JIT %.2f of %.2f s" % (r["server_jit_cpu_s"], r.get("server_cpu_s") or 0)
    return ("%.0f deliveries/s, server %.2f us/delivery, gen %.2f us/delivery, p50 %s p99 %s max %s us, loss %s, "
            "other cores %.2f%s" % (r.get("deliveries_per_s") or 0, cpu_per_delivery(r) or 0,
                                   r.get("gen_cpu_us_per_delivery") or 0, lat.get("p50"), lat.get("p99"), lat.get("max"),
                                   r.get("loss"), r.get("other_cores") or 0, extra))


def fmt_range(values, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return "%.*f (%.*f to %.*f)" % (digits, med, digits, min(values), digits, max(values))


def results(directory):
    out = {}
    for path in glob.glob(os.path.join(directory, "*-pair*.json")):
        name = os.path.basename(path)[:-5]
        scenario, point, rest = name.split("-", 2)
        kind, pair = rest.rsplit("-pair", 1)
        out.setdefault(scenario, {}).setdefault(point, {}).setdefault(int(pair), {})[kind] = load(path)
    return out


def sort_points(points):
    return sorted(points, key=lambda p: (not p.isdigit(), int(p) if p.isdigit() else p))


def knees(data, kinds):
    """Per kind, per pair: the highest offered load (a numeric point) that passes every knee criterion, 0 if none."""
    out = {}
    for pair in sorted({p for pt in data.values() for p in pt}):
        for kind in kinds:
            passing = [int(point) for point in data
                       if point.isdigit() and ok_at_load(data[point].get(pair, {}).get(kind))]
            out.setdefault(kind, []).append(max(passing, default=0))
    return out


def cpu_ratios(num, den):
    """Per pair: CPU per delivery of num's run over den's (both present)."""
    return [cpu_per_delivery(a) / cpu_per_delivery(b) for a, b in zip(num, den)
            if a and b and cpu_per_delivery(a) and cpu_per_delivery(b)]


def p99_ratios(num, den):
    """Per pair: p99 of num's run over den's (both present)."""
    return [p99(a) / p99(b) for a, b in zip(num, den) if a and b and p99(a) and p99(b)]


def floor_ratios(runs, floors):
    """Per pair: CPU per delivery over the same pair's floor (FLOOR_US when the pair has none)."""
    return [cpu_per_delivery(b) / (cpu_per_delivery(f) if f and cpu_per_delivery(f) else FLOOR_US)
            for b, f in zip(runs, floors) if b and cpu_per_delivery(b)]


def fanout_table(name, data, lines):
    lines.append("### %s\n" % name)
    lines.append("| offered deliveries/s | Socket.IO us/delivery | Parley us/delivery | C floor us/delivery "
                 "| CPU efficiency (SIO / Parley) | Parley / floor | p99 SIO (ms) | p99 Parley (ms) | p99 floor (ms) "
                 "| p99 Parley / SIO | loss SIO / Parley |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for point in sort_points(data):
        pairs = data[point]
        ref = [pairs[p].get("reference") for p in pairs]
        par = [pairs[p].get("parley") for p in pairs]
        flo = [pairs[p].get("floor") for p in pairs]
        eff = cpu_ratios(ref, par)
        lat_ratio = p99_ratios(par, ref)
        floor_ratio = floor_ratios(par, flo)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            point,
            fmt_range([cpu_per_delivery(r) for r in ref if r]),
            fmt_range([cpu_per_delivery(r) for r in par if r]),
            fmt_range([cpu_per_delivery(r) for r in flo if r]),
            fmt_range(eff),
            fmt_range(floor_ratio),
            fmt_range([p99(r) / 1000 for r in ref if r and p99(r)], 1),
            fmt_range([p99(r) / 1000 for r in par if r and p99(r)], 1),
            fmt_range([p99(r) / 1000 for r in flo if r and p99(r)], 1),
            fmt_range(lat_ratio),
            sum((r or {}).get("loss", 0) for r in ref), sum((r or {}).get("loss", 0) for r in par)))
    kn = knees(data, ("reference", "parley", "floor"))
    ratios = [p / r for r, p in zip(kn["reference"], kn["parley"]) if r]
    lines.append("")
    lines.append("Open-loop knee (highest offered load with >= 99%% delivered, no loss, p99 <= 100 ms; lower bound "
                 "when the sweep's top passes; 0: no tested load passed): Socket.IO %s, Parley %s, C floor %s; "
                 "Parley / Socket.IO %s.\n" % (
                     kn["reference"], kn["parley"], kn["floor"], fmt_range(ratios)))
    shares = []
    for point in sort_points(data):
        runs = [data[point][p].get("parley") for p in data[point]]
        vals = [100 * r["server_jit_cpu_s"] / r["server_cpu_s"] for r in runs
                if r and r.get("server_cpu_s") and "server_jit_cpu_s" in r]
        if vals:
            shares.append("%s: %s%%" % (point, fmt_range(vals, 0)))
    if shares:
        lines.append("Share of Parley's CPU in the window used by its JIT compiler threads: %s.\n" % "; ".join(shares))
    if has_kind(data, SIO):
        sio_fanout_table(name, data, lines)


SIO = "parley-sio"  # Parley with the generator speaking Socket.IO to its /socket.io/


def has_kind(data, kind):
    return any(kind in runs for pairs in data.values() for runs in pairs.values())


def sio_fanout_table(name, data, lines):
    """Parley with Socket.IO clients beside the Socket.IO server, Parley with native clients and the floor."""
    lines.append("#### %s, Socket.IO clients on Parley\n" % name.split(":")[0])
    lines.append("| offered deliveries/s | Socket.IO us/delivery | Parley us/delivery | Parley with Socket.IO clients "
                 "us/delivery | C floor us/delivery | Socket.IO / Parley-sio CPU efficiency | Parley-sio / Parley "
                 "| Parley-sio / floor | p99 SIO (ms) | p99 Parley-sio (ms) | p99 Parley-sio / SIO "
                 "| loss SIO / Parley-sio |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for point in sort_points(data):
        pairs = data[point]
        ref = [pairs[p].get("reference") for p in pairs]
        par = [pairs[p].get("parley") for p in pairs]
        sio = [pairs[p].get(SIO) for p in pairs]
        flo = [pairs[p].get("floor") for p in pairs]
        ratios = cpu_ratios
        lat_ratio = p99_ratios(sio, ref)
        floor_ratio = floor_ratios(sio, flo)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            point,
            fmt_range([cpu_per_delivery(r) for r in ref if r]),
            fmt_range([cpu_per_delivery(r) for r in par if r]),
            fmt_range([cpu_per_delivery(r) for r in sio if r]),
            fmt_range([cpu_per_delivery(r) for r in flo if r]),
            fmt_range(ratios(ref, sio)),
            fmt_range(ratios(sio, par)),
            fmt_range(floor_ratio),
            fmt_range([p99(r) / 1000 for r in ref if r and p99(r)], 1),
            fmt_range([p99(r) / 1000 for r in sio if r and p99(r)], 1),
            fmt_range(lat_ratio),
            sum((r or {}).get("loss", 0) for r in ref), sum((r or {}).get("loss", 0) for r in sio)))
    kn = knees(data, ("reference", "parley", SIO))
    ratios_sio = [s / r for r, s in zip(kn["reference"], kn[SIO]) if r]
    lines.append("")
    lines.append("Open-loop knee (same criteria): Socket.IO %s, Parley %s, Parley with Socket.IO clients %s; "
                 "Parley-sio / Socket.IO %s.\n" % (kn["reference"], kn["parley"], kn[SIO], fmt_range(ratios_sio)))
    shares = []
    for point in sort_points(data):
        runs = [data[point][p].get(SIO) for p in data[point]]
        vals = [100 * r["server_jit_cpu_s"] / r["server_cpu_s"] for r in runs
                if r and r.get("server_cpu_s") and "server_jit_cpu_s" in r]
        if vals:
            shares.append("%s: %s%%" % (point, fmt_range(vals, 0)))
    if shares:
        lines.append("Share of Parley-sio's CPU in the window used by its JIT compiler threads: %s.\n" % "; ".join(shares))


def simple_ratio_table(title, data, metric, label, higher_is_better=True, lines=None):
    lines.append("### %s\n" % title)
    lines.append("| point | Socket.IO | Parley | Parley / Socket.IO |")
    lines.append("|---|---|---|---|")
    for point in sort_points(data):
        pairs = data[point]
        ref = [metric(pairs[p]["reference"]) for p in pairs if "reference" in pairs[p]]
        par = [metric(pairs[p]["parley"]) for p in pairs if "parley" in pairs[p]]
        ratio = [b / a for a, b in zip(ref, par) if a and b is not None]
        lines.append("| %s %s | %s | %s | %s |" % (point, label, fmt_range(ref), fmt_range(par), fmt_range(ratio)))
        if any(SIO in pairs[p] for p in pairs):
            # the same pair's Socket.IO server against Parley with Socket.IO clients, in the Parley columns
            both = [(metric(pairs[p]["reference"]) if "reference" in pairs[p] else None, metric(pairs[p][SIO]))
                    for p in pairs if SIO in pairs[p]]
            sio = [b for _, b in both]
            ratio = [b / a for a, b in both if a and b is not None]
            lines.append("| %s, Parley with Socket.IO clients | %s | %s | %s |" % (
                " ".join(x for x in (point, label) if x), fmt_range(ref), fmt_range(sio), fmt_range(ratio)))
    lines.append("")


LABELS = {"reference": "Socket.IO", "reference-presence": "Socket.IO with presence", "parley": "Parley",
          "parley-sio": "Parley with Socket.IO clients", "parley-hz": "Parley with Hazelcast"}


def kinds_table(title, data, kinds, metric, labels=None, digits=2, points=None, lines=None):
    """One column per kind (median over pairs, range), then each kind against the same pair's reference."""
    labels = dict(LABELS, **(labels or {}))
    present = [k for k in kinds if any(k in pr for pt in data.values() for pr in pt.values())]
    if not present:
        return
    others = [k for k in present if k != "reference"]
    lines.append("### %s\n" % title)
    lines.append("| point | " + " | ".join(labels[k] for k in present) + "".join(
        " | %s / %s" % (labels[k], labels["reference"]) for k in others if "reference" in present) + " |")
    lines.append("|---" * (1 + len(present) + (len(others) if "reference" in present else 0)) + "|")
    for point in (points or sort_points(data)):
        if point not in data:
            continue
        pairs = data[point]
        cells = []
        for k in present:
            cells.append(fmt_range([metric(pairs[p][k]) for p in pairs if k in pairs[p]], digits))
        if "reference" in present:
            for k in others:
                ratio = [metric(pairs[p][k]) / metric(pairs[p]["reference"]) for p in pairs
                         if k in pairs[p] and "reference" in pairs[p] and metric(pairs[p]["reference"])
                         and metric(pairs[p][k]) is not None]
                cells.append(fmt_range(ratio))
        lines.append("| %s | %s |" % (point, " | ".join(cells)))
    lines.append("")


def heartbeat_ms_per_10k(r):
    """Server CPU over an idle hold, in ms per second per 10k connections (heartbeats and timers only)."""
    n = r.get("connections") or 0
    return (r.get("server_cpu_util") or 0) * 1000 / (n / 10000) if n else None


def churn_table(data, lines):
    """C1: what join/leave churn costs beside a steady fan-out, each churn rate against the same pair's churn 0."""
    lines.append("### C1: join/leave churn during F1 (1 room x 1000 subscribers, 2 publishers)\n")
    lines.append("| churn ops/s offered | acked ops/s SIO / Parley | skipped (ack pending) SIO / Parley "
                 "| server cores SIO | server cores Parley | cores SIO / Parley | CPU per churn op SIO (us) "
                 "| CPU per churn op Parley (us) | p99 SIO (ms) | p99 Parley (ms) | loss SIO / Parley |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")

    def cores(r):
        return r.get("server_cpu_util") if r else None

    def per_s(r, field):
        c = (r or {}).get("churn") or {}
        return c.get(field, 0) / r["duration_s"] if r and r.get("duration_s") else 0.0

    def acked(r):
        return per_s(r, "acked_in_window")

    def op_cost_us(r, base):
        # the churners also receive the room's messages while joined: those deliveries are charged at the
        # baseline's CPU per delivery, the rest of the increase is the joins and leaves themselves
        deliveries = (r.get("deliveries_per_s") or 0) + per_s(r, "deliveries_in_window")
        return (cores(r) - cpu_per_delivery(base) * deliveries / 1e6) * 1e6 / acked(r)

    for point in sort_points(data):
        pairs = data[point]
        row = {}
        for kind in ("reference", "parley"):
            runs = [(pairs[p].get(kind), data.get("0", {}).get(p, {}).get(kind)) for p in pairs]
            per_op = [op_cost_us(r, b) for r, b in runs
                      if r and b and acked(r) and cores(r) is not None and cpu_per_delivery(b)]
            row[kind] = dict(
                acked=fmt_range([acked(r) for r, _ in runs if r], 0),
                skipped=sum(((r or {}).get("churn") or {}).get("busy_skipped", 0) for r, _ in runs),
                cores=fmt_range([cores(r) for r, _ in runs if r and cores(r) is not None]),
                per_op=fmt_range(per_op, 0) if point != "0" else "-",
                p99=fmt_range([p99(r) / 1000 for r, _ in runs if r and p99(r)], 1),
                loss=sum((r or {}).get("loss", 0) for r, _ in runs))
        ratio = [cores(pairs[p]["reference"]) / cores(pairs[p]["parley"]) for p in pairs
                 if pairs[p].get("reference") and pairs[p].get("parley") and cores(pairs[p]["parley"])]
        ref, par = row["reference"], row["parley"]
        lines.append("| %s | %s / %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            point, ref["acked"], par["acked"], ref["skipped"], par["skipped"], ref["cores"], par["cores"],
            fmt_range(ratio), ref["per_op"], par["per_op"], ref["p99"], par["p99"], ref["loss"], par["loss"]))
    lines.append("")
    lines.append("Server cores over the measured window. CPU per churn op = (cores at this churn rate - the CPU its "
                 "deliveries, the churners' included, cost at the same pair's churn-0 CPU per delivery) / acknowledged "
                 "joins and leaves per second. The room has more than "
                 "1000 members while churners are in it, so (limits.maxAnnouncedRoomSize 1000, the same rule in "
                 "the reference server) joins and leaves are acknowledged, with presence, but not announced.\n")


def plots(directory, res):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "(plots skipped: gnuplot not installed)"
    pdir = os.path.join(directory, "plots")
    os.makedirs(pdir, exist_ok=True)
    made = []
    for scenario in ("F1", "F2", "F3", "X1"):
        if scenario not in res:
            continue
        if scenario == "X1":
            kinds, titles = ("reference", "parley", "parley-hz"), (
                "Socket.IO x2 + Redis adapter", "Parley x2 + Redis broker", "Parley x2, Hazelcast")
        else:
            kinds = ("reference", "parley", "floor") + ((SIO,) if has_kind(res[scenario], SIO) else ())
            titles = ("Socket.IO 4.8", "Parley", "C floor (fanout_stub)", "Parley, Socket.IO clients")
        for metric, ylabel, fn in (("cpu", "server CPU us per delivery", cpu_per_delivery),
                                   ("p99", "p99 latency (ms)", lambda r: (p99(r) or 0) / 1000)):
            dat = os.path.join(pdir, "%s-%s.dat" % (scenario, metric))
            with open(dat, "w") as f:
                for point in sort_points(res[scenario]):
                    if not point.isdigit():
                        continue
                    row = [point]
                    for kind in kinds:
                        vals = [fn(res[scenario][point][p][kind]) for p in res[scenario][point]
                                if kind in res[scenario][point][p] and fn(res[scenario][point][p][kind]) is not None]
                        row.append("%.3f" % statistics.median(vals) if vals else "NaN")
                    f.write(" ".join(row) + "\n")
            png = os.path.join(pdir, "%s-%s.png" % (scenario, metric))
            script = ("set terminal png size 800,500 noenhanced; set output '%s'; set title '%s: %s vs offered load'; "
                      "set xlabel 'offered deliveries/s'; set ylabel '%s'; set key left top; set grid; "
                      "plot " % (png, scenario, ylabel, ylabel))
            script += ", ".join("'%s' using 1:%d with linespoints title '%s'" % (dat, i + 2, titles[i])
                                for i in range(len(kinds)))
            subprocess.run([gnuplot, "-e", script], check=False)
            made.append(os.path.basename(png))
    return "Plots: " + ", ".join("plots/" + m for m in made)


def main():
    if sys.argv[1] == "--one":
        print(one(sys.argv[2]))
        return
    directory = sys.argv[1]
    res = results(directory)
    lines = ["# Benchmark results: %s\n" % os.path.basename(os.path.abspath(directory))]
    setup = os.path.join(directory, "setup.txt")
    if os.path.exists(setup):
        lines.append("```\n" + open(setup).read().strip() + "\n```\n")
    lines.append("Median over the pairs, range in parentheses. Ratios are computed within each pair. The floor is "
                 "bench/loadgen/fanout_stub (C, epoll, each event encoded once, one send() per connection per loop "
                 "turn), measured in the same pair.\n")
    for scenario in ("F1", "F2", "F3"):
        if scenario in res:
            fanout_table({"F1": "F1: 1 room x 1000 subscribers, 2 publishers",
                          "F2": "F2: 1 room x 5000 subscribers, 2 publishers",
                          "F3": "F3: 100 rooms x 50 members, 100 publishers"}[scenario], res[scenario], lines)
    if "S1" in res:
        simple_ratio_table("S1: closed-loop saturation, F1 shape (deliveries/s)", res["S1"],
                           lambda r: r.get("deliveries_per_s"), "", lines=lines)
    if "M1" in res:
        simple_ratio_table("M1: idle RSS growth per joined connection (KB)", res["M1"],
                           lambda r: r.get("server_rss_per_conn_kb"), "connections", lines=lines)
        lines.append("Parley's Java heap is allocated and touched at start (-Xms = -Xmx, AlwaysPreTouch), so its RSS "
                     "growth shows only native memory. The next table adds the growth of its live heap (after a full "
                     "GC, before and with everyone connected); Socket.IO's V8 heap is already inside its RSS.\n")
        simple_ratio_table("M1: memory per joined connection, RSS growth + live Java heap growth (KB)", res["M1"],
                           lambda r: (r.get("server_rss_per_conn_kb") or 0) + (r.get("server_live_heap_per_conn_kb") or 0),
                           "connections", lines=lines)
        simple_ratio_table("M1: server CPU per connect + join (us)", res["M1"],
                           lambda r: r.get("server_cpu_us_per_connect"), "connections", lines=lines)
        simple_ratio_table("M1: connects + joins per second", res["M1"],
                           lambda r: r.get("connect_joins_per_s"), "connections", lines=lines)
    if "C1" in res:
        churn_table(res["C1"], lines)
    if "X1" in res:
        x1 = {"reference": "Socket.IO x2 + Redis adapter", "parley": "Parley x2 + Redis broker",
              "parley-hz": "Parley x2, Hazelcast"}
        kinds = ("reference", "parley", "parley-hz")
        lines.append("X1: two nodes, one room of 1000 members spread over both, 2 publishers; nothing pinned, so both "
                     "nodes, redis-server and the generator share the machine's two cores. Server CPU counts every "
                     "server process (both nodes and redis-server).\n")
        kinds_table("X1: server CPU per delivery, all processes (us)", res["X1"], kinds, cpu_per_delivery, x1, lines=lines)
        kinds_table("X1: p99 latency (ms)", res["X1"], kinds, lambda r: (p99(r) or 0) / 1000, x1, 1, lines=lines)
        kinds_table("X1: messages lost", res["X1"], kinds, lambda r: r.get("loss"), x1, 0, lines=lines)
        kn = knees(res["X1"], kinds)
        for kind in kinds:
            if kind in kn:
                lines.append("- %s: open-loop knee per pair: %s" % (x1[kind], kn[kind]))
        lines.append("")
    if "M2" in res:
        kinds = ("reference", "parley", SIO)
        lines.append("M2: 100k connections on one node (from 8 loopback addresses), heartbeats on, then one room of "
                     "all of them.\n")
        kinds_table("M2: memory per connection, RSS growth + live Java heap growth (KB)", res["M2"], kinds,
                    lambda r: (r.get("server_rss_per_conn_kb") or 0) + (r.get("server_live_heap_per_conn_kb") or 0)
                    if r.get("idle") else None, points=[p for p in res["M2"] if p.isdigit()], lines=lines)
        kinds_table("M2: server CPU while idle, heartbeats included (ms per second per 10k connections)", res["M2"], kinds,
                    lambda r: heartbeat_ms_per_10k(r) if r.get("idle") else None,
                    points=[p for p in res["M2"] if p.isdigit()], lines=lines)
        kinds_table("M2: server CPU per connect + join (us)", res["M2"], kinds,
                    lambda r: r.get("server_cpu_us_per_connect"), digits=0, lines=lines)
        kinds_table("M2: connects + joins per second (offered 5000/s)", res["M2"], kinds,
                    lambda r: r.get("connect_joins_per_s"), digits=0, lines=lines)
        if "fanout" in res["M2"]:
            kinds_table("M2 fan-out to one room of all connections: deliveries/s", res["M2"], kinds,
                        lambda r: r.get("deliveries_per_s"), digits=0, points=["fanout"], lines=lines)
            kinds_table("M2 fan-out: p99 latency (ms)", res["M2"], kinds, lambda r: (p99(r) or 0) / 1000, digits=1,
                        points=["fanout"], lines=lines)
            kinds_table("M2 fan-out: server CPU per delivery (us)", res["M2"], kinds, cpu_per_delivery,
                        points=["fanout"], lines=lines)
            kinds_table("M2 fan-out: messages lost", res["M2"], kinds, lambda r: r.get("loss"), digits=0,
                        points=["fanout"], lines=lines)
    if "R1" in res:
        kinds = ("reference", "reference-presence", "parley", SIO)
        lines.append("R1: 10k clients connect and join 100 rooms of 100 at once; cold: the server's first connections "
                     "after it started; warm: the same again on the same server.\n")
        kinds_table("R1: seconds until every client is back in its room", res["R1"], kinds,
                    lambda r: r.get("connect_join_s"), points=["cold", "warm"], lines=lines)
        kinds_table("R1: server CPU per connect + join (us)", res["R1"], kinds,
                    lambda r: r.get("server_cpu_us_per_connect"), digits=0, points=["cold", "warm"], lines=lines)
        kinds_table("R1: p99 from a client's connect to its join's acknowledgement (ms)", res["R1"], kinds,
                    lambda r: ((r.get("connect_to_joined_us") or {}).get("p99") or 0) / 1000, digits=1,
                    points=["cold", "warm"], lines=lines)
        kinds_table("R1: p99 of the join acknowledgements, from the join (ms)", res["R1"], kinds,
                    lambda r: ((r.get("join_ack_us") or {}).get("p99") or 0) / 1000, digits=1, points=["cold", "warm"],
                    lines=lines)
    if "W1" in res:
        lines.append("### W1: whole machine, unpinned (Parley -instances 2, one Node process)\n")
        kn = knees(res["W1"], ("reference", "parley"))
        for kind in ("reference", "parley"):
            lines.append("- %s: highest offered deliveries/s with p99 <= 100 ms and no loss, per pair: %s" % (kind, kn[kind]))
        ratios = [p / r for r, p in zip(kn["reference"], kn["parley"]) if r]
        lines.append("- Parley / Socket.IO per pair: %s (0 means no tested load passed; a top-of-sweep value "
                     "is a lower bound)" % fmt_range(ratios))
        lines.append("")
    gen = [r.get("gen_cpu_us_per_delivery") for sc in res.values() for pt in sc.values() for pr in pt.values()
           for r in pr.values() if r.get("gen_cpu_us_per_delivery")]
    if gen:
        lines.append("Load generator CPU per delivery: %s us.\n" % fmt_range(gen))
    lines.append(plots(directory, res))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
