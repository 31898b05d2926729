#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""W8 for mpi4py.futures, the peer of bench_mpi. Runs under mpirun:

  mpirun -n N python3 bench/py_w8.py [--quick]

MPICommExecutor(MPI.COMM_WORLD, root=0): rank 0 gets the executor, the
other N - 1 ranks serve it. Rank 0 prints the same cases as bench_mpi (one
JSON object per line, each case ending in " -n N"): the 64-byte round trip
(submit(echo, 64 bytes).result(), one at a time), throughput with plain
submits (n submits, then wait for each) and with map(chunksize=1000).
Needs mpi4py (Debian: python3-mpi4py); bench/run.py finds a python3 that
has it, as ${PYTHON_MPI4PY}.
"""
import json
import sys

from mpi4py import MPI
from mpi4py.futures import MPICommExecutor
from py_bytes import map_chunks, quantile, round_trips, submits

IMPL = "mpi4py"
NRANKS = MPI.COMM_WORLD.Get_size()


def emit(what, value, unit, better):
    print(json.dumps({"workload": "W8", "case": "%s -n %d" % (what, NRANKS),
                      "impl": IMPL, "value": value, "unit": unit,
                      "better": better}), flush=True)


def round_trip(ex, n):
    s = round_trips(ex, n)
    emit("64B round trip median", quantile(s, 0.5), "us", "lower")
    emit("64B round trip p99", quantile(s, 0.99), "us", "lower")


def throughput(ex, n, report=True):
    secs = submits(ex, n)
    if report:
        emit("64B throughput submit", n / secs, "tasks/s", "higher")


def throughput_map(ex, n):
    emit("64B throughput map chunksize=1000", n / map_chunks(ex, n, 1000),
         "tasks/s", "higher")


def main():
    quick = "--quick" in sys.argv[1:]
    if NRANKS < 2:
        sys.exit("py_w8.py: needs 2 ranks or more (mpirun -n 2)")
    with MPICommExecutor(MPI.COMM_WORLD, root=0) as ex:
        if ex is not None:  # rank 0; the others serve until the with ends
            round_trip(ex, 1000 if quick else 3000)
            throughput(ex, 500, report=False)
            throughput(ex, 1000 if quick else 5000)  # one task in flight
            throughput_map(ex, 50000 if quick else 500000)  # per rank


if __name__ == "__main__":
    main()
