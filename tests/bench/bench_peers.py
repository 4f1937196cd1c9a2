#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The asyncio and uvloop peers of gasync's benchmarks.

Measures one round of one benchmark on one event loop and prints the result
as a JSON object on stdout, the same shape as the C programs print, so
run_bench.py can interleave them.  Each benchmark does what its C
counterpart does, with the idiomatic asyncio calls the issue names:
create_future, add_done_callback, set_result, create_task, gather,
call_soon_threadsafe.

Exits 77 when uvloop is asked for and not installed.
"""

import argparse
import asyncio
import json
import os
import queue
import sys
import threading
import time

TICK = 0.016


class Clock:
    """Wall-clock and process CPU time, like the C programs' BenchClock: on
    a shared machine a gap between them says a round was disturbed."""

    def __init__(self):
        self.cpu = time.process_time_ns()
        self.wall = time.perf_counter_ns()

    def read(self, ops):
        """(wall, cpu) nanoseconds per operation since creation."""
        return ((time.perf_counter_ns() - self.wall) / ops,
                (time.process_time_ns() - self.cpu) / ops)


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


def b1_round_trip(loop, n):
    """Future round trip: each done callback starts the next round trip."""
    left = n
    finished = loop.create_future()

    def done_cb(fut):
        fut.result()
        step()

    def step():
        nonlocal left
        if left == 0:
            finished.set_result(None)
            return
        left -= 1
        fut = loop.create_future()
        fut.add_done_callback(done_cb)
        fut.set_result(left)

    clock = Clock()
    step()
    loop.run_until_complete(finished)
    return clock.read(n), {}


def b2_spawn(loop, n):
    """Spawn to completion: n tasks of a coroutine that returns at once."""
    finished = 0
    all_done = loop.create_future()

    async def trivial():
        nonlocal finished
        finished += 1
        if finished == n:
            all_done.set_result(None)

    async def main():
        clock = Clock()
        for _ in range(n):
            loop.create_task(trivial())
        await all_done
        return clock.read(n)

    return loop.run_until_complete(main()), {}


def b3_ping_pong(loop, n):
    """Ping-pong: two tasks take turns resolving the future the other awaits."""
    slots = {"to_a": None, "to_b": None}

    def wake(key):
        fut = slots[key]
        slots[key] = None
        fut.set_result(1)

    async def ping():
        for _ in range(n):
            mine = loop.create_future()
            slots["to_a"] = mine
            wake("to_b")
            await mine

    async def pong():
        for _ in range(n):
            mine = loop.create_future()
            slots["to_b"] = mine
            if slots["to_a"] is not None:
                wake("to_a")
            await mine
        wake("to_a")

    async def main():
        clock = Clock()
        b = loop.create_task(pong())
        a = loop.create_task(ping())
        await a
        await b
        return clock.read(n)

    return loop.run_until_complete(main()), {}


def b4_memory(loop, n):
    """Resident bytes per task suspended on one pending future."""
    parked = 0
    finished = 0

    async def parked_task(gate):
        nonlocal parked, finished
        parked += 1
        await gate
        finished += 1

    async def main():
        gate = loop.create_future()
        # The list holding the tasks is bookkeeping, not their cost.
        tasks = [None] * n
        await asyncio.sleep(0)
        before = resident_bytes()
        clock = Clock()
        for i in range(n):
            tasks[i] = loop.create_task(parked_task(gate))
        while parked < n:
            await asyncio.sleep(0)
        cost = clock.read(n)
        after = resident_bytes()
        # Let them all finish, as the C side does; counting is cheaper
        # than gather(), which would add a callback per task.
        gate.set_result(None)
        while finished < n:
            await asyncio.sleep(0)
        return cost, {"bytes_per_op": (after - before) / n}

    return loop.run_until_complete(main())


def b5_gather(loop, n):
    """Gather: one task awaits asyncio.gather() of n pending futures that a
    sibling task resolves one by one, in order; the total per gather."""
    async def main():
        clock = Clock()
        futures = [loop.create_future() for _ in range(n)]

        async def resolver():
            for i, fut in enumerate(futures):
                fut.set_result(i)

        start = time.perf_counter_ns()
        gathering = asyncio.gather(*futures)
        loop.create_task(resolver())
        results = await gathering
        if sum(results) != n * (n - 1) // 2:
            raise AssertionError("wrong results")
        del gathering, results
        gather_ms = (time.perf_counter_ns() - start) / 1e6
        # Tearing down is part of the cost, as on the C side.
        del futures
        return clock.read(1), gather_ms

    (cost, gather_ms) = loop.run_until_complete(main())
    return cost, {"gather_ms": gather_ms}


def b6_cross_thread(loop, n, variant, in_flight):
    """A worker thread resolves futures the loop's tasks await."""
    cpu = -1
    if variant == "latency":
        in_flight = 1
        # Pinned before the worker exists: it inherits the mask.
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    n = max(in_flight, n // in_flight * in_flight)
    requests = queue.SimpleQueue()

    def worker():
        if cpu >= 0:
            os.sched_setaffinity(0, {cpu})
        while True:
            fut = requests.get()
            if fut is None:
                break
            loop.call_soon_threadsafe(fut.set_result, 1)

    async def client(count):
        for _ in range(count):
            fut = loop.create_future()
            requests.put(fut)
            if await fut != 1:
                raise AssertionError("wrong value")

    async def main():
        clock = Clock()
        await asyncio.gather(*(client(n // in_flight) for _ in range(in_flight)))
        return clock.read(n)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        cost = loop.run_until_complete(main())
    finally:
        requests.put(None)
        thread.join()
    return cost, {"in_flight": in_flight, "pinned_cpu": cpu}


def b7_responsiveness(loop, n, duration_ms):
    """Timer lateness while n tasks yield in a loop."""
    state = {"stop": False, "started": 0, "yields": 0, "deadline": 0.0}
    lateness = []

    async def spin():
        state["started"] += 1
        while not state["stop"]:
            await asyncio.sleep(0)
            state["yields"] += 1

    def arm():
        state["deadline"] = loop.time() + TICK
        state["handle"] = loop.call_later(TICK, tick)

    def tick():
        lateness.append(loop.time() - state["deadline"])
        arm()

    async def main():
        tasks = [loop.create_task(spin()) for _ in range(n)]
        while state["started"] < n:
            await asyncio.sleep(0)
        yields_before = state["yields"]
        clock = Clock()
        end = loop.time() + duration_ms / 1000
        arm()
        while loop.time() < end:
            await asyncio.sleep(0)
        state["handle"].cancel()
        # A timer that never fired in the whole window (asyncio with 100,000
        # tasks on a loaded machine) was late by at least the time it had
        # waited: that is its lateness, rather than no figure at all.
        state["starved"] = None if lateness else loop.time() - state["deadline"]
        yields = max(1, state["yields"] - yields_before)
        cost = clock.read(yields)
        state["stop"] = True
        await asyncio.gather(*tasks)
        return cost

    cost = loop.run_until_complete(main())
    firings = len(lateness)
    if state.get("starved") is not None:
        lateness.append(state["starved"])
    lateness.sort()

    def percentile(q):
        if not lateness:
            return -1
        rank = min(len(lateness), max(1, int(q * len(lateness) + 0.999999)))
        return lateness[rank - 1] * 1000

    return cost, {
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": percentile(1.0),
        "firings": firings,
        "ideal_firings": duration_ms / (TICK * 1000),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True)
    parser.add_argument("--impl", required=True, choices=["asyncio", "uvloop"])
    parser.add_argument("--variant")
    parser.add_argument("-n", "--n", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--duration-ms", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64)
    args = parser.parse_args()

    if args.impl == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("uvloop is not installed (Debian: python3-uvloop)", file=sys.stderr)
            sys.exit(77)
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    if args.bench == "B1":
        run = lambda n: b1_round_trip(loop, n)
    elif args.bench == "B2":
        run = lambda n: b2_spawn(loop, n)
    elif args.bench == "B3":
        run = lambda n: b3_ping_pong(loop, n)
    elif args.bench == "B4":
        # One measurement in a fresh process: no warm-up, no repetitions.
        args.warmup, args.reps = 0, 1
        run = lambda n: b4_memory(loop, n)
    elif args.bench == "B5":
        run = lambda n: b5_gather(loop, n)
    elif args.bench == "B6" and args.variant in ("latency", "throughput"):
        run = lambda n: b6_cross_thread(loop, n, args.variant, args.in_flight)
    elif args.bench == "B7":
        args.warmup, args.reps = 0, 1
        run = lambda n: b7_responsiveness(loop, n, args.duration_ms)
    else:
        print(f"Unsupported: {args.bench} {args.variant or ''}", file=sys.stderr)
        sys.exit(2)

    if args.warmup > 0:
        run(args.warmup)
    wall = cpu = 0.0
    extra = {}
    for _ in range(args.reps):
        (ns, cpu_ns), extra = run(args.n)
        wall += ns / args.reps
        cpu += cpu_ns / args.reps
    if args.bench == "B6":
        # Whole tasks' worth of operations, as the C side counts them.
        args.n = max(extra["in_flight"], args.n // extra["in_flight"] * extra["in_flight"])

    if args.bench == "B5":
        # Measured per gather: the issue states B5 in total time.
        extra = {"total_ms": wall / 1e6, "cpu_total_ms": cpu / 1e6,
                 "gather_ms": extra["gather_ms"]}
        wall /= args.n
        cpu /= args.n
    result = {"bench": args.bench, "impl": args.impl, "n": args.n, "reps": args.reps,
              "ns_per_op": wall, "cpu_ns_per_op": cpu}
    result.update(extra)
    print(json.dumps(result), flush=True)
    loop.close()


if __name__ == "__main__":
    main()
