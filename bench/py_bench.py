#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python's concurrent.futures and asyncio on workloads W1-W4.

One measurement pass of one workload; one JSON object per result line on
stdout, the same protocol as the C programs (see bench/run.py). Python is
slower by orders of magnitude, so it runs fewer tasks; every figure is per
task, so the counts do not enter the ratios.

  py_bench.py --workload W1|W2|W3|W4 [--pool P] [--quick] [--n N]
"""

import argparse
import asyncio
import concurrent.futures as cf
import json
import sys
import time


def emit(workload, case, impl, value, unit, better):
    print(json.dumps({"workload": workload, "case": case, "impl": impl,
                      "value": round(value, 6), "unit": unit,
                      "better": better}), flush=True)


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def noop(x=None):
    return x


def w1(pool, n):
    t0 = time.perf_counter_ns()
    with cf.ThreadPoolExecutor(max_workers=pool) as ex:
        for _ in range(n):
            ex.submit(noop)
    dt = time.perf_counter_ns() - t0
    emit("W1", "P=%d" % pool, "python", n / (dt / 1e9) / 1e6, "M tasks/s",
         "higher")


def w2_threads(n):
    lat = []
    with cf.ThreadPoolExecutor(max_workers=1) as ex:
        for _ in range(n):
            t0 = time.perf_counter_ns()
            ex.submit(noop).result()
            lat.append(time.perf_counter_ns() - t0)
    emit("W2", "median", "python", quantile(lat, 0.5) / 1e3, "us", "lower")
    emit("W2", "p99", "python", quantile(lat, 0.99) / 1e3, "us", "lower")


def w2_asyncio(n):
    async def main():
        loop = asyncio.get_running_loop()
        lat = []
        with cf.ThreadPoolExecutor(max_workers=1) as ex:
            for _ in range(n):
                t0 = time.perf_counter_ns()
                await loop.run_in_executor(ex, noop)
                lat.append(time.perf_counter_ns() - t0)
        return lat

    lat = asyncio.run(main())
    emit("W2", "median", "asyncio", quantile(lat, 0.5) / 1e3, "us", "lower")
    emit("W2", "p99", "asyncio", quantile(lat, 0.99) / 1e3, "us", "lower")


def spin(iters, seed):
    # Pure-Python arithmetic: holds the GIL all along, as such code does.
    x = seed
    for _ in range(iters):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return x


def w3(pool, n):
    probe = 20000
    best = min(_timed(spin, probe, 1) for _ in range(5))
    iters = max(1, int(probe * 2e-3 / best))
    # CPU time, not wall time, for the serial reference: other processes on
    # the machine then do not inflate it (the C programs do the same).
    t0 = time.thread_time()
    serial = [spin(iters, i + 1) for i in range(n)]
    t_serial = time.thread_time() - t0
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=pool) as ex:
        par = list(ex.map(spin, [iters] * n, range(1, n + 1)))
    t_par = time.perf_counter() - t0
    if par != serial:
        print("py_bench W3: results differ", file=sys.stderr)
    emit("W3", "efficiency", "python", t_serial / pool / t_par, "x",
         "higher")


def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def w4(pool, n):
    with cf.ThreadPoolExecutor(max_workers=pool) as ex:
        t0 = time.perf_counter_ns()
        fs = [ex.submit(noop) for _ in range(n)]
        cf.wait(fs, return_when=cf.ALL_COMPLETED)
        del fs
        emit("W4", "wait-all", "python", (time.perf_counter_ns() - t0) / n,
             "ns/future", "lower")
        t0 = time.perf_counter_ns()
        fs = [ex.submit(noop) for _ in range(n)]
        got = sum(1 for _ in cf.as_completed(fs))
        del fs
        emit("W4", "as-completed", "python",
             (time.perf_counter_ns() - t0) / n, "ns/future", "lower")
        if got != n:
            print("py_bench W4: as_completed gave %d of %d" % (got, n),
                  file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--pool", type=int, default=0)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    def count(full, quick):
        return args.n if args.n > 0 else (quick if args.quick else full)

    w = args.workload
    if w == "W1":
        w1(args.pool or 2, count(50000, 10000))
    elif w == "W2":
        n = count(10000, 2000)
        w2_threads(n)
        w2_asyncio(n)
    elif w == "W3":
        w3(args.pool or 2, count(200, 60))
    elif w == "W4":
        w4(args.pool or 2, count(20000, 5000))
    else:
        print("py_bench: workload %s is not implemented here" % w,
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
