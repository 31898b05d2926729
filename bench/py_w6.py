#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""W6 peer: asyncio's loop.run_in_executor on a one-worker ThreadPoolExecutor.

From the event loop, submit a no-op and await its completion back on the
loop: median and p99 round trip in us. Then a burst: 1000 submits gathered
at once, us per task. Prints one JSON result per line (bench/run.py).
"""
import argparse
import asyncio
import concurrent.futures
import json
import statistics
import time


def noop():
    return None


def emit(case, value, unit):
    print(json.dumps({"workload": "W6", "case": case, "impl": "asyncio",
                      "value": round(value, 3), "unit": unit,
                      "better": "lower"}), flush=True)


async def measure(n, workers):
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        samples = []
        for i in range(n + n // 10):
            t0 = time.perf_counter_ns()
            await loop.run_in_executor(ex, noop)
            if i >= n // 10:
                samples.append(time.perf_counter_ns() - t0)
        samples.sort()
        emit("round trip median", statistics.median(samples) / 1e3, "us")
        emit("round trip p99", samples[int(0.99 * (len(samples) - 1))] / 1e3,
             "us")
        t0 = time.perf_counter_ns()
        await asyncio.gather(*(loop.run_in_executor(ex, noop)
                               for _ in range(1000)))
        emit("burst 1000: us per task",
             (time.perf_counter_ns() - t0) / 1e3 / 1000, "us")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--pool", type=int, default=1)
    a = p.parse_args()
    n = a.n or (1000 if a.quick else 10000)
    asyncio.run(measure(n, a.pool))


if __name__ == "__main__":
    main()
