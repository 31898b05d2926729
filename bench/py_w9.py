#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""W9 fork-join in Python, for reference: fib with ThreadPoolExecutor.

Python runs fib(38) in minutes, so this runs fib(25) (fib(20) with
--quick) at the same cutoffs below 25; and a waiting task holds its
thread, so the pool has one thread per task that can be waiting (a pool
of 2 would deadlock at the second level). The speedup is over the serial
code in the same pass; the GIL keeps it at or below 1.

  py_w9.py --workload W9 [--pool P] [--quick]
"""

import argparse
import concurrent.futures as cf
import json
import time


def emit(case, value, unit, better):
    print(json.dumps({"workload": "W9", "case": case, "impl": "python",
                      "value": round(value, 6), "unit": unit,
                      "better": better}), flush=True)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def calls_above(n, cutoff):
    return 0 if n <= cutoff else 1 + calls_above(n - 1, cutoff) + \
        calls_above(n - 2, cutoff)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="W9")
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 20 if args.quick else 25
    t0 = time.thread_time_ns()
    expect = fib(n)
    serial = time.thread_time_ns() - t0
    for cutoff in (15, 20):
        workers = calls_above(n, cutoff) + 1
        with cf.ThreadPoolExecutor(max_workers=workers) as ex:
            def pfib(k):
                if k <= cutoff:
                    return fib(k)
                child = ex.submit(pfib, k - 1)
                y = pfib(k - 2)
                return child.result() + y
            t0 = time.perf_counter_ns()
            r = ex.submit(pfib, n).result()
            parallel = time.perf_counter_ns() - t0
        assert r == expect
        what = "fib(%d) cutoff %d" % (n, cutoff)
        emit(what + " ms", parallel / 1e6, "ms", "lower")
        emit(what + " speedup", serial / parallel, "x", "higher")


if __name__ == "__main__":
    main()
