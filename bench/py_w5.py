#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""W5 for Python's ProcessPoolExecutor, the peer of bench_w5.

Prints the same cases as bench_w5 (one JSON object per line): 64-byte round
trip, throughput with plain submits and with map(chunksize=1000), 1 MiB in /
1 MiB out one at a time and 8 at a time, and the start of a 2-worker pool.
Standard library only. The start method is the platform's default.
"""
import concurrent.futures as cf
import json
import statistics
import sys
import time

from py_bytes import echo, map_chunks, quantile, round_trips, submits

IMPL = "python"


def emit(case, value, unit, better):
    print(json.dumps({"workload": "W5", "case": case, "impl": IMPL,
                      "value": value, "unit": unit, "better": better}),
          flush=True)


def start(n):
    msg = bytes(64)
    new, first = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        ex = cf.ProcessPoolExecutor(max_workers=2)
        new.append((time.perf_counter() - t0) * 1e3)
        ex.submit(echo, msg).result()
        ex.shutdown()
    for _ in range(n):
        t0 = time.perf_counter()
        ex = cf.ProcessPoolExecutor(max_workers=2)
        ex.submit(echo, msg).result()
        first.append((time.perf_counter() - t0) * 1e3)
        ex.shutdown()
    emit("pool start 2 workers", statistics.median(new), "ms", "lower")
    emit("pool start to first result", statistics.median(first), "ms",
         "lower")


def round_trip(ex, n):
    s = round_trips(ex, n)
    emit("64B round trip median", quantile(s, 0.5), "us", "lower")
    emit("64B round trip p99", quantile(s, 0.99), "us", "lower")


def throughput(ex, n):
    emit("64B throughput submit", n / submits(ex, n), "tasks/s", "higher")
    emit("64B throughput map chunksize=1000", n / map_chunks(ex, n, 1000),
         "tasks/s", "higher")


def mib(ex, n, inflight, case):
    buf = bytes(1 << 20)
    for f in [ex.submit(echo, buf) for _ in range(inflight)]:
        f.result()
    t0 = time.perf_counter()
    pending = []
    sent = 0
    done = 0
    while done < n:
        while sent < n and len(pending) < inflight:
            pending.append(ex.submit(echo, buf))
            sent += 1
        pending.pop(0).result()
        done += 1
    emit(case, n / (time.perf_counter() - t0), "MiB/s each way", "higher")


def main():
    quick = "--quick" in sys.argv[1:]
    start(3 if quick else 10)
    with cf.ProcessPoolExecutor(max_workers=1) as ex:
        round_trip(ex, 500 if quick else 5000)
    with cf.ProcessPoolExecutor(max_workers=2) as ex:
        throughput(ex, 5000 if quick else 50000)
        mib(ex, 30 if quick else 300, 1, "1MiB sequential")
        mib(ex, 60 if quick else 600, 8, "1MiB concurrent")


if __name__ == "__main__":
    main()
