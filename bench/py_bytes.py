# SPDX-License-Identifier: MIT
"""The 64-byte workloads py_w5.py and py_w8.py share, on any
concurrent.futures executor (the Python side of bench_bytes.c). Each runs
one measurement and returns its figures; the caller names and prints them.
"""
import time


def echo(b):
    return b


def quantile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def round_trips(ex, n):
    """submit(echo, 64 bytes).result(), n times after n // 10 of warm-up:
    the times in us."""
    msg = bytes(64)
    for _ in range(n // 10):
        ex.submit(echo, msg).result()
    s = []
    for _ in range(n):
        t0 = time.perf_counter()
        ex.submit(echo, msg).result()
        s.append((time.perf_counter() - t0) * 1e6)
    return s


def submits(ex, n):
    """n submits, then each result: the seconds it took."""
    msg = bytes(64)
    t0 = time.perf_counter()
    fs = [ex.submit(echo, msg) for _ in range(n)]
    for f in fs:
        f.result()
    return time.perf_counter() - t0


def map_chunks(ex, n, chunksize):
    """map over n 64-byte items in chunks, every result read: the seconds
    it took."""
    msg = bytes(64)
    t0 = time.perf_counter()
    got = sum(1 for _ in ex.map(echo, [msg] * n, chunksize=chunksize))
    assert got == n
    return time.perf_counter() - t0
