#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs one group of gasync's benchmarks against its peers.

Every measurement runs each implementation in rounds, one fresh process per
round, rotating the order of the implementations from round to round so
that drift in the machine (frequency, neighbours, page cache) spreads over
all of them instead of favouring whichever runs first.  It prints the
median, minimum and maximum per implementation and gasync's ratio to each
peer with the issue's target next to it, and appends one JSON object per
measurement to the results file (bench-results.jsonl in the build dir).

Where every operation must make its GObjects anew (the first burst of live
coroutines in a process in B2, B5's futures that the caller creates and
drops), a "gobject-floor" implementation (in the C programs) constructs and
finalizes as many objects per operation as gasync's implementation needs,
and does nothing else: the tables show gasync's ratio to it and, next to
each target on a ratio to a peer, the floor's own ratio to that peer, the
least any implementation with GObject futures could reach.  (B1, B3 and
B2's repeated bursts have no floor row: gasync recycles the futures and
coroutines it drops last, and comes in under it.)

--smoke runs every measurement once at a small n, checks only that the
results are sane numbers, and writes nothing: the `performance` test suite
uses it so that the benchmarks never rot.  --group summary reprints the
latest result of every measurement from the results file.

Usage: run_bench.py --group B1 --exe BENCH-PROGRAM --peers bench_peers.py
       [--results FILE] [--smoke]
"""

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

SKIPPED = 77
PYTHON_IMPLS = ("asyncio", "uvloop")
FLOOR = "gobject-floor"
FLOOR_NOTE = "(GObject new+unref alone)"


@dataclass
class Target:
    """A limit from the issue: on gasync's ratio to a peer, or absolute."""
    text: str
    limit: float
    peer: str = None           # ratio gasync / peer; None: absolute value


@dataclass
class Measurement:
    bench: str                 # what the JSON record calls it
    title: str
    impls: list
    n: int
    smoke_n: int
    metric: str = "ns_per_op"
    unit: str = "ns/op"
    variant: str = None
    program_bench: str = None  # --bench for the program, when not `bench`
    reps: int = 1
    warmup: int = 0
    rounds: int = 5
    extra_args: list = field(default_factory=list)
    targets: list = field(default_factory=list)


def b8_measurements():
    out = []
    for variant, title in (("B2", "spawn to completion"), ("B3", "ping-pong")):
        for n in (1_000, 10_000, 100_000, 1_000_000):
            out.append(Measurement(
                "B8", f"growth of {variant} {title}", ["gasync"], n, n // 100,
                variant=variant, program_bench=variant,
                # Small n repeat inside the process, so that each round
                # times at least about 1e5 operations; every size is warmed
                # by a run of its own size, as B2 is.
                reps=max(1, 100_000 // n), warmup=n))
    return out


def b4_measurements():
    sizes = [100_000]
    # A million suspended coroutines cost gasync about 4.5 GB and the
    # peers about 1 GB, and the 15 rounds take about 3.5 minutes: opt in.
    if os.environ.get("GASYNC_BENCH_B4_MILLION"):
        sizes.append(1_000_000)
    return [Measurement("B4", "resident bytes per suspended coroutine",
                        ["gasync", "asyncio", "uvloop"], n, 2_000,
                        metric="bytes_per_op", unit="bytes",
                        targets=[Target("<= 4.5 KiB", 4.5 * 1024)])
            for n in sizes]


GROUPS = {
    "B1": [Measurement("B1", "future round trip through the main context",
                       ["gasync", "gtask", "asyncio", "uvloop"], 100_000, 2_000,
                       warmup=20_000,
                       targets=[Target("<= 0.40 x gtask", 0.40, "gtask")])],
    # An untimed burst of the same size first, as B5 does: an application
    # that spawns such bursts more than once.  The first burst of a
    # process, which makes every GObject anew, is its own row.
    "B2": [Measurement("B2", "spawn to completion, repeated bursts, per coroutine",
                       ["gasync", "asyncio", "uvloop"], 100_000, 1_000,
                       warmup=100_000,
                       targets=[Target("<= 0.10 x uvloop", 0.10, "uvloop")]),
           Measurement("B2", "spawn to completion, first burst of a process, per coroutine",
                       ["gasync", FLOOR, "asyncio", "uvloop"], 100_000, 1_000,
                       variant="first-burst", program_bench="B2", warmup=100,
                       targets=[Target("<= 0.10 x uvloop", 0.10, "uvloop")])],
    "B3": [Measurement("B3", "ping-pong, per round trip",
                       ["gasync", "asyncio", "uvloop"], 100_000, 1_000,
                       warmup=10_000,
                       targets=[Target("<= 0.25 x uvloop", 0.25, "uvloop")])],
    "B4": b4_measurements(),
    # One gather per round, timed as a whole; an untimed one first warms
    # the allocator, as an application that gathers more than once would.
    "B5": [Measurement("B5", "gather of pending futures resolved one by one, per gather",
                       ["gasync", FLOOR, "asyncio", "uvloop"], 100_000, 1_000,
                       metric="total_ms", unit="ms", warmup=100_000,
                       targets=[Target("<= 0.10 x uvloop", 0.10, "uvloop")])],
    "B6": [Measurement("B6", "cross-thread latency, one core, per round trip",
                       ["gasyncqueue", "gasync", "gtask", "asyncio", "uvloop"], 10_000, 500,
                       variant="latency", warmup=1_000,
                       targets=[Target("<= 1.2 x gasyncqueue", 1.2, "gasyncqueue")]),
           Measurement("B6", "cross-thread throughput, 64 in flight, per op",
                       ["gasyncqueue", "gasync", "gtask", "asyncio", "uvloop"], 64_000, 640,
                       variant="throughput", warmup=6_400,
                       targets=[Target("<= 0.25 x gtask", 0.25, "gtask")])],
    "B7": [Measurement("B7", "16 ms timer at priority 120, p99 lateness",
                       ["gasync", "asyncio", "uvloop"], 100_000, 1_000,
                       metric="p99_ms", unit="ms",
                       extra_args=["--duration-ms", "2000"],
                       targets=[Target("<= 2 ms", 2.0)])],
    "B8": b8_measurements(),
}

TITLES = {
    "B1": "B1 future round trip: create, resolve, done callback via the main context",
    "B2": "B2 spawn to completion: n coroutines that return at once",
    "B3": "B3 ping-pong: two coroutines resolving each other's future",
    "B4": "B4 memory: resident bytes per coroutine suspended on a future",
    "B5": "B5 gather: one coroutine awaits all of 100,000 pending futures",
    "B6": "B6 cross-thread: a worker resolves futures a coroutine awaits",
    "B7": "B7 responsiveness: a 16 ms timer at priority 120 while 100,000 coroutines yield",
    "B8": "B8 growth: B2 and B3 per-op cost at n = 1e3 ... 1e6",
}


def log(*args):
    print(*args, flush=True)


def command(m, impl, opts, n, reps, warmup):
    if impl in PYTHON_IMPLS:
        # The interpreter running this script is Debian's /usr/bin/python3
        # (meson.build names it), the one with uvloop.
        cmd = [sys.executable, opts.peers]
    else:
        cmd = [opts.exe]
    cmd += ["--bench", m.program_bench or m.bench, "--impl", impl,
            "--n", str(n), "--reps", str(reps), "--warmup", str(warmup)]
    if m.variant and not m.program_bench:
        cmd += ["--variant", m.variant]
    extra = list(m.extra_args)
    if opts.smoke and "--duration-ms" in extra:
        extra[extra.index("--duration-ms") + 1] = "200"
    return cmd + extra


def run_one(m, impl, opts, n, reps, warmup):
    """Runs one round in a fresh process; returns its JSON object, or None
    when the implementation is not available here."""
    cmd = command(m, impl, opts, n, reps, warmup)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=opts.timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"Timed out after {opts.timeout} s: {' '.join(cmd)}")
    if proc.returncode == SKIPPED:
        return None
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"Failed with status {proc.returncode}: {' '.join(cmd)}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"No result from: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return json.loads(lines[-1])


def sane(m, result):
    value = result.get(m.metric)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if m.metric == "p99_ms":
        # gasync's timer must fire; a peer's may starve for the whole window
        # (then its lateness is the time it waited, see bench_peers.py).
        return value >= 0 and (result.get("firings", 0) >= 1 or result["impl"] != "gasync")
    if m.metric == "bytes_per_op":
        return value >= 0 and result["ns_per_op"] > 0
    return value > 0


def measure(m, opts):
    """Runs the rounds of one measurement; returns {impl: [results]}."""
    n = m.smoke_n if opts.smoke else m.n
    reps = 1 if opts.smoke else m.reps
    warmup = min(m.warmup, n) if opts.smoke else m.warmup
    rounds = 1 if opts.smoke else m.rounds
    samples = {impl: [] for impl in m.impls}
    skipped = set()

    for r in range(rounds):
        order = m.impls[r % len(m.impls):] + m.impls[:r % len(m.impls)]
        for impl in order:
            if impl in skipped:
                continue
            result = run_one(m, impl, opts, n, reps, warmup)
            if result is None:
                log(f"   {impl}: not available here, skipped")
                skipped.add(impl)
                continue
            if not sane(m, result):
                raise SystemExit(f"Insane result from {impl}: {json.dumps(result)}")
            samples[impl].append(result)
    return {impl: s for impl, s in samples.items() if s}


def summarize(m, samples):
    """One record per implementation: median/min/max of the metric, medians
    of the other numbers."""
    records = {}
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for impl, results in samples.items():
        values = [r[m.metric] for r in results]
        rec = {"bench": m.bench, "impl": impl}
        if m.variant:
            rec["variant"] = m.variant
        rec["n"] = results[0]["n"]
        rec[m.metric] = statistics.median(values)
        rec["min"] = min(values)
        rec["max"] = max(values)
        for key in results[0]:
            if key not in rec and key not in ("bench", "impl", "n", "reps") and key != m.metric:
                rec[key] = statistics.median(r[key] for r in results)
        rec["unit"] = m.unit
        rec["rounds"] = len(values)
        rec["time"] = stamp
        records[impl] = rec
    return records


def fmt(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# The CPU-time twin of each wall-clock metric.
CPU_METRICS = {"ns_per_op": "cpu_ns_per_op", "total_ms": "cpu_total_ms"}


def cpu_ratio(m, gasync, peer):
    """The ratio of CPU times, for time measurements: it shows what the
    wall-clock ratio would be without interference from other processes
    (and, for B6, how much work both threads do)."""
    cpu = CPU_METRICS.get(m.metric)
    if cpu is None or not peer.get(cpu):
        return None
    return gasync[cpu] / peer[cpu]


def target_rows(m, records):
    """(left, unit, ratio or value, cpu ratio, target, verdict) rows for
    the table; verdicts are on the wall-clock figures, as the issue states
    its targets, and only on gasync's.  The gobject-floor's ratio to each
    peer a target names comes last, with no verdict."""
    rows = []
    gasync = records.get("gasync")
    if gasync is None:
        return rows
    targets_by_peer = {t.peer: t for t in m.targets}
    for t in m.targets:
        if t.peer is None:
            value = gasync[m.metric]
            rows.append(("gasync", m.unit, value, None, t.text,
                         "met" if value <= t.limit else "MISSED"))
    for impl, rec in records.items():
        if impl == "gasync" or not rec[m.metric]:
            continue
        ratio = gasync[m.metric] / rec[m.metric]
        t = targets_by_peer.get(impl)
        rows.append(("gasync / " + impl, "", ratio, cpu_ratio(m, gasync, rec),
                     t.text if t else "",
                     ("met" if ratio <= t.limit else "MISSED") if t else ""))
    floor = records.get(FLOOR)
    for t in m.targets:
        peer = records.get(t.peer) if t.peer else None
        if floor is None or peer is None or not peer[m.metric]:
            continue
        rows.append((f"{FLOOR} / {t.peer}", "", floor[m.metric] / peer[m.metric],
                     cpu_ratio(m, floor, peer), FLOOR_NOTE, ""))
    return rows


def print_measurement(m, records, smoke):
    any_rec = next(iter(records.values()))
    log(f"-- {m.bench} {m.title}: n = {any_rec['n']}, {any_rec['rounds']} rounds, {m.unit}")
    log(f"   {'impl':<14}{'median':>12}{'min':>12}{'max':>12}"
        + (f"{'cpu median':>12}" if m.metric in CPU_METRICS else ""))
    for impl, rec in records.items():
        extra = ""
        if m.metric in CPU_METRICS:
            extra = f"{fmt(rec.get(CPU_METRICS[m.metric])):>12}"
        if m.metric == "total_ms" and "gather_ms" in rec:
            extra += (f"   ({fmt(rec['ns_per_op'])} ns per future; without creating and"
                      f" finalizing the futures {fmt(rec['gather_ms'])} ms)")
        elif m.metric == "total_ms":
            extra += f"   ({fmt(rec['ns_per_op'])} ns per future)"
        elif m.metric == "p99_ms":
            extra = (f"   p50 {fmt(rec['p50_ms'])} ms, {rec['firings']:.0f}/"
                     f"{rec['ideal_firings']:.0f} firings, {fmt(rec['ns_per_op'])} ns/yield")
        elif m.metric == "bytes_per_op":
            extra = f"   ({fmt(rec['ns_per_op'])} ns to spawn and park each)"
        log(f"   {impl:<14}{fmt(rec[m.metric]):>12}{fmt(rec['min']):>12}{fmt(rec['max']):>12}{extra}")
    for left, unit, value, cpu, target, verdict in target_rows(m, records):
        # A smoke run's numbers are not measurements: no verdicts.
        cpu_text = f"(cpu {fmt(cpu)})" if cpu is not None else ""
        log(f"   {left:<24}{fmt(value):>8} {unit:<6}{cpu_text:<12} {target:<22}"
            f"{'' if smoke else verdict}")


def growth_rows(records_by_n):
    """B8: the largest over the smallest median per-op cost, wall-clock
    (the verdict) and CPU time."""
    wall = [rec["ns_per_op"] for rec in records_by_n.values()]
    cpu = [rec.get("cpu_ns_per_op") or 0 for rec in records_by_n.values()]
    ratio = max(wall) / min(wall)
    cpu_ratio = max(cpu) / min(cpu) if min(cpu) > 0 else None
    return ratio, cpu_ratio, "met" if ratio <= 1.5 else "MISSED"


def run_group(group, opts):
    log(f"== {TITLES[group]}" + ("  (smoke run)" if opts.smoke else ""))
    written = []
    growth = {}
    for m in GROUPS[group]:
        samples = measure(m, opts)
        if not samples:
            log(f"-- {m.bench} {m.title}: nothing available to measure")
            continue
        records = summarize(m, samples)
        print_measurement(m, records, opts.smoke)
        written.extend(records.values())
        if m.bench == "B8":
            growth.setdefault(m.variant, {})[m.n] = records["gasync"]

    for variant, by_n in growth.items():
        ratio, cpu, verdict = growth_rows(by_n)
        log(f"-- B8 growth of {variant}: largest / smallest per-op cost = {ratio:.2f}"
            f" (cpu {fmt(cpu)})   target <= 1.5   {'' if opts.smoke else verdict}")

    if not opts.smoke and opts.results:
        with open(opts.results, "a") as f:
            for rec in written:
                f.write(json.dumps(rec) + "\n")
        log(f"   ({len(written)} records appended to {opts.results})")
    return 0


def print_summary(opts):
    """The latest record of every measurement in the results file, as one
    table of gasync against its peers and targets."""
    latest = {}
    try:
        with open(opts.results) as f:
            for line in f:
                line = line.strip()
                if line:
                    rec = json.loads(line)
                    latest[(rec["bench"], rec.get("variant"), rec["n"], rec["impl"])] = rec
    except FileNotFoundError:
        log(f"No results in {opts.results}: run the benchmarks first")
        return SKIPPED

    def row(*cols):
        widths = (16, 9, 6, 9, 12, 9, 7, 7, 22)
        text = ""
        for i, (col, width) in enumerate(zip(cols, widths)):
            text += f"{col:<{width}} " if i in (0, 2, 4, 8) else f"{col:>{width}} "
        log((text + (cols[9] if len(cols) > 9 else "")).rstrip())

    log(f"== Summary: latest results in {opts.results}")
    row("bench", "n", "unit", "gasync", "peer", "peer", "ratio", "cpu", "target", "status")
    all_measurements = [m for g in sorted(GROUPS) for m in GROUPS[g]]
    seen = set()
    growth = {}
    for m in all_measurements:
        # Every n in the file shows up (B4 at 1e6 from an opt-in run too).
        for (bench, variant, n, impl) in sorted(latest, key=lambda k: k[2]):
            if bench != m.bench or variant != m.variant or impl != "gasync":
                continue
            if (bench, variant, n) in seen:
                continue
            seen.add((bench, variant, n))
            records = {i: r for (b, v, nn, i), r in latest.items()
                       if b == bench and v == variant and nn == n}
            name = f"{bench} {variant}" if variant else bench
            g = records["gasync"]
            if bench == "B8":
                growth.setdefault(variant, {})[n] = g
                row(name, n, m.unit, fmt(g[m.metric]), "(cpu)", fmt(g.get(CPU_METRICS[m.metric])))
                continue
            first = True
            for left, unit, value, cpu, target, verdict in target_rows(m, records):
                peer = left.split(" / ")[1] if " / " in left else ""
                # The floor's rows: its ratio to the peer, not gasync's.
                label = "floor/" + peer if left.startswith(FLOOR) else (
                    "floor" if peer == FLOOR else peer)
                row(name if first else "", n if first else "", m.unit if first else "",
                    fmt(g[m.metric]) if first else "", label,
                    fmt(records[peer][m.metric]) if peer else "",
                    fmt(value) if peer else "", fmt(cpu) if cpu is not None else "",
                    target, verdict)
                first = False
            if m.metric == "p99_ms":
                log(f"{'':<42}p50 {fmt(g['p50_ms'])} ms, {g['firings']:.0f}/"
                    f"{g['ideal_firings']:.0f} firings (medians)")
            if m.metric == "total_ms":
                peers = ", ".join(f"{impl} {fmt(r['gather_ms'])}" for impl, r in records.items()
                                  if impl != "gasync" and "gather_ms" in r)
                log(f"{'':<42}without creating and finalizing the futures:"
                    f" gasync {fmt(g['gather_ms'])} ms ({peers})")
    for variant, by_n in growth.items():
        ratio, cpu, verdict = growth_rows(by_n)
        row(f"B8 {variant} growth", "", "", "", "max / min", "", f"{ratio:.2f}",
            fmt(cpu), "<= 1.5", verdict)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", required=True, choices=sorted(GROUPS) + ["summary"])
    parser.add_argument("--exe", help="the C benchmark program of the group")
    parser.add_argument("--peers", help="bench_peers.py")
    parser.add_argument("--results", default=os.environ.get("GASYNC_BENCH_RESULTS"),
                        help="JSONL file to append to (default: $GASYNC_BENCH_RESULTS)")
    parser.add_argument("--smoke", action="store_true",
                        help="one small round of everything, no timing, nothing written")
    parser.add_argument("--timeout", type=float, default=240,
                        help="seconds allowed to one round")
    opts = parser.parse_args()

    if opts.group == "summary":
        if not opts.results:
            parser.error("--results or GASYNC_BENCH_RESULTS is needed")
        return print_summary(opts)
    if not opts.exe or not opts.peers:
        parser.error("--exe and --peers are needed")

    start = time.monotonic()
    status = run_group(opts.group, opts)
    log(f"   ({opts.group} took {time.monotonic() - start:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
