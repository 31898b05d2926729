#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs every benchmark listed in bench/suites.txt and prints the table.

Each registered command runs one measurement pass and prints one JSON object
per result line:

  {"workload": "W5", "case": "64B round trip", "impl": "cfutures",
   "value": 21.3, "unit": "us", "better": "lower"}

The commands run K times each, interleaved (round-robin over the commands,
so that a slow spell of the machine hits every implementation alike, rather
than one of them K times). For each (workload, case, impl) the table gives
the median of the K values, their min and max, and, for every peer, how
many times better or worse cfutures is on that row.

  python3 bench/run.py [--build build/bench] [--quick] [--runs K]
                       [--only W1,W2] [--json]

The registry, bench/suites.txt, has one line per command:
  <workload-id> <command line>
run from the build's bench/ directory; ${SRC} stands for the source tree's
root (so ${SRC}/bench/py_bench.py is a script beside this one), and
${MPIRUN} for the mpirun on PATH with the options this machine needs (a
line using it is skipped where there is no mpirun), and ${PYTHON_MPI4PY}
for a python3 that can import mpi4py (python3 on PATH, this one, or
/usr/bin/python3, where Debian's python3-mpi4py goes; a line using it is
skipped where none can).

W8 (the MPI pool) is compared with W5 (the process pool): its table gets,
in every case that W5 measures too, W5's cfutures row as impl
"process-pool (W5)"; running W8 alone (--only W8) runs bench_w5 as well.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORDER = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "MEM", "FLOOR"]

# W8 cases are "<what> -n <ranks>[ <variant>]"; <what> names a W5 case.
MPI_CASE = re.compile(r"^(.*) -n (\d+)( .+)?$")
# The W5 command that W8 needs for its process-pool rows.
W5_POOL_CMD = "./bench_w5"
POOL_IMPL = "process-pool (W5)"

# The targets of TARGETS.md that a run can check, as
# (workload, case, against, threshold, label): against None compares
# cfutures' median with the threshold in the row's own direction ("better");
# against a peer requires "cfutures is X times better" with X >= threshold
# (a threshold below 1 allows cfutures to be that much slower, as for the
# W2 floor). Rows a run did not produce are reported as not measured.
TARGETS = [
    ("W1", "P=2", None, 10.0, ">= 10 M tasks/s"),
    ("W1", "P=2", "libuv", 7.5, ">= 7.5x libuv"),
    ("W1", "P=2", "glib", 2.3, ">= 2.3x GLib"),
    ("W1", "P=2", "python", 250.0, ">= 250x Python"),
    ("W1", "P=4", None, 5.0, ">= 5 M tasks/s oversubscribed"),
    ("W2", "median", "floor", 1 / 1.15, "<= 1.15x futex ping-pong"),
    ("W2", "median / futex ping-pong, interleaved", None, 1.15,
     "<= 1.15"),
    ("W2", "spin median", None, 2.0, "<= 2 us with spin"),
    ("W3", "efficiency", None, 0.97, ">= 0.97"),
    ("W4", "wait-all", None, 250.0, "<= 250 ns/future"),
    ("W4", "as-completed", None, 400.0, "<= 400 ns/future"),
    ("W4", "wait-all", "naive", 5.0, ">= 5x naive futures"),
    ("W4", "as-completed", "naive", 5.0, ">= 5x naive futures"),
    ("W4", "wait-all", "python", 100.0, ">= 100x Python"),
    ("W4", "as-completed", "python", 100.0, ">= 100x Python"),
    ("W5", "64B round trip median", None, 25.0, "<= 25 us"),
    ("W5", "64B round trip median", "python", 8.0, "~8x Python"),
    ("W5", "64B throughput submit", None, 500000.0, ">= 500 k tasks/s"),
    ("W5", "64B throughput submit", "python", 60.0, ">= 60x Python"),
    ("W5", "1MiB sequential", None, 2048.0, ">= 2 GiB/s each way"),
    ("W5", "1MiB sequential", "python", 18.0, ">= 18x Python"),
    ("W5", "1MiB concurrent", "python", 18.0, ">= 18x Python"),
    ("W5", "pool start 2 workers", None, 1.0, "<= 1 ms"),
    ("W6", "round trip median", "libuv", 1.0, "<= 1.0x uv_queue_work"),
    ("W6", "round trip median", "asyncio", 3.7, ">= 3.7x asyncio"),
    ("W7", "true jobs at -j 2", "xargs", 1.0, "faster than xargs -P"),
    ("W7", "true jobs at -j 2", "gnu-parallel", 5.0, ">= 5x GNU parallel"),
    ("W9", "fib(38) cutoff 15 speedup", "tbb", 1.0, ">= TBB's speedup"),
    ("W9", "fib(38) cutoff 20 speedup", "tbb", 1.0, ">= TBB's speedup"),
    ("W9", "fib(38) cutoff 25 speedup", "tbb", 1.0, ">= TBB's speedup"),
    ("MEM", "bytes per pending task+future", None, 128.0, "<= 128 B"),
    ("MEM", "peak RSS, 1000k pending task+future", None, 200.0,
     "<= 200 MiB"),
    ("TIMERS", "bytes per pending timer (malloc), 100k", None, 128.0,
     "<= 128 B"),
    ("TIMERS", "lateness median", None, 1000.0, "<= 1 ms"),
    ("TIMERS", "lateness p99", None, 1000.0, "<= 1 ms"),
]


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Run cfutures' benchmarks and its peers side by side.")
    ap.add_argument("--build", default="build/bench",
                    help="the build's bench directory (default build/bench)")
    ap.add_argument("--quick", action="store_true",
                    help="a short pass: every command gets --quick")
    ap.add_argument("--runs", type=int, default=0,
                    help="runs per command (default 5, or 3 with --quick)")
    ap.add_argument("--only", default="",
                    help="comma-separated workload ids to run, e.g. W1,W2")
    ap.add_argument("--json", action="store_true",
                    help="print the aggregate as JSON instead of a table")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="seconds before one run of a command is killed "
                    "(default 120, or 60 with --quick)")
    ap.add_argument("--suites", default=os.path.join(HERE, "suites.txt"),
                    help="the registry (default: bench/suites.txt)")
    args = ap.parse_args(argv)
    if args.runs <= 0:
        args.runs = 3 if args.quick else 5
    if args.timeout <= 0:
        args.timeout = 60.0 if args.quick else 120.0
    return args


def substitute(token, src):
    return token.replace("${SRC}", src)


def expand(cmdline):
    """Splits a registry command and expands ${SRC}.

    ${SRC} is the source root; a line written with ${SRC} meaning the source
    bench/ directory is accepted too, when only that reading names existing
    files."""
    tokens = shlex.split(cmdline)
    if not any("${SRC}" in t for t in tokens):
        return tokens
    for src in (ROOT, HERE):
        out = [substitute(t, src) for t in tokens]
        paths = [o for t, o in zip(tokens, out) if "${SRC}" in t]
        if all(os.path.exists(p) for p in paths):
            return out
    return [substitute(t, ROOT) for t in tokens]


def mpirun_argv(timeout):
    """The argv that ${MPIRUN} stands for, or None without mpirun.

    Open MPI wants --allow-run-as-root as root and --oversubscribe for more
    ranks than cores; --bind-to none lets the client's two threads (the
    submitter and the pool's manager) use both cores at -n 2 as they do
    oversubscribed, and as the process pool's do; its own --timeout ends
    the whole job (killing mpirun alone would leave its ranks running)."""
    exe = shutil.which("mpirun")
    if exe is None:
        return None
    argv = [exe]
    try:
        ver = subprocess.run([exe, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        ver = b""
    if b"Open MPI" in ver or b"OpenRTE" in ver:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-run-as-root")
        argv += ["--oversubscribe", "--bind-to", "none",
                 "--timeout", str(max(5, int(timeout) - 5))]
    return argv


def python_mpi4py():
    """A python3 that can import mpi4py, or None."""
    seen = set()
    for py in (shutil.which("python3"), sys.executable, "/usr/bin/python3"):
        if not py or py in seen or not os.access(py, os.X_OK):
            continue
        seen.add(py)
        try:
            # Not "import mpi4py.futures": that starts MPI, outside mpirun.
            ok = subprocess.run([py, "-c", "import importlib.util, mpi4py; "
                                 "assert importlib.util.find_spec("
                                 "'mpi4py.futures')"],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=60,
                                check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return py
    return None


def splice_mpirun(argv_cmd, mpirun):
    """Replaces the ${MPIRUN} token. Returns (argv, program), program being
    what mpirun starts: the first token after ${MPIRUN} that is neither an
    option nor a number (so "-n 2 ./prog" names ./prog); or (None, why)
    when it cannot run here."""
    if mpirun is None:
        return None, "mpirun is not on PATH"
    i = argv_cmd.index("${MPIRUN}")
    rest = argv_cmd[i + 1:]
    progs = [t for t in rest if not t.startswith("-") and not t.isdigit()]
    if not progs:
        return None, "no program after ${MPIRUN}"
    return argv_cmd[:i] + mpirun + rest, progs[0]


def read_registry(path, only):
    entries = []
    with open(path, encoding="utf-8") as fp:
        for lineno, line in enumerate(fp, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                print("run.py: %s:%d: no command, ignored" % (path, lineno),
                      file=sys.stderr)
                continue
            wid, cmd = parts
            if only and wid not in only:
                continue
            entries.append((wid, cmd))
    return entries


def program_missing(argv0, cwd):
    if os.sep in argv0:
        path = argv0 if os.path.isabs(argv0) else os.path.join(cwd, argv0)
        return not (os.path.isfile(path) and os.access(path, os.X_OK))
    return shutil.which(argv0) is None


def run_once(argv, cwd, timeout):
    """Runs one pass. Returns (records, error or None, seconds)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        return parse_records(out), "timed out after %gs" % timeout, timeout
    except OSError as e:
        return [], str(e), time.monotonic() - t0
    dt = time.monotonic() - t0
    records = parse_records(proc.stdout)
    err = None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        err = "exit status %d%s" % (proc.returncode,
                                    (": " + tail[-1]) if tail else "")
    elif not records:
        err = "printed no result"
    return records, err, dt


def parse_records(out):
    records = []
    for line in out.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
            float(r["value"])
            for key in ("workload", "case", "impl"):
                r[key] = str(r[key])
        except (ValueError, KeyError, TypeError):
            continue
        r.setdefault("unit", "")
        r.setdefault("better", "lower")
        records.append(r)
    return records


def case_base(case):
    """A W8 case's W5 case ("64B round trip median -n 4 spin_us=0" ->
    "64B round trip median")."""
    m = MPI_CASE.match(case)
    return m.group(1) if m else case


def add_pool_rows(records):
    """Copies W5's process pool values into every W8 case measuring the
    same thing, as impl POOL_IMPL, so that the table puts the MPI pool
    (cfutures) next to the process pool, with the ratio."""
    pool = [r for r in records if r["workload"] == "W5"
            and r["impl"] == "cfutures"]
    w8 = []
    for r in records:
        if r["workload"] == "W8" and r["case"] not in w8:
            w8.append(r["case"])
    out = []
    for case in w8:
        base = case_base(case)
        for r in pool:
            if r["case"] == base:
                c = dict(r)
                c.update(workload="W8", case=case, impl=POOL_IMPL)
                out.append(c)
    return records + out


def aggregate(records):
    groups = {}
    order = []
    for r in records:
        key = (r["workload"], r["case"], r["impl"])
        if key not in groups:
            groups[key] = {"workload": r["workload"], "case": r["case"],
                           "impl": r["impl"], "unit": r["unit"],
                           "better": r["better"], "values": []}
            order.append(key)
        groups[key]["values"].append(float(r["value"]))
    rows = []
    for key in order:
        g = groups[key]
        v = g.pop("values")
        g.update(median=statistics.median(v), min=min(v), max=max(v),
                 runs=len(v))
        rows.append(g)
    # cfutures / peer, oriented so that > 1 means cfutures is better.
    ours = {(g["workload"], g["case"]): g for g in rows
            if g["impl"] == "cfutures"}
    for g in rows:
        mine = ours.get((g["workload"], g["case"]))
        g["cfutures_better_by"] = None
        if g["impl"] == "cfutures" or not mine:
            continue
        a, b = mine["median"], g["median"]
        if a <= 0 or b <= 0:
            continue
        g["cfutures_better_by"] = a / b if g["better"] == "higher" else b / a
    return rows


def sort_rows(rows):
    def wkey(w):
        return (ORDER.index(w) if w in ORDER else len(ORDER), w)
    def ckey(case):
        # W8: one case over the rank counts and variants, side by side.
        m = MPI_CASE.match(case)
        if not m:
            return case, "", 0
        return m.group(1), m.group(3) or "", int(m.group(2))
    case_pos = {}
    for g in rows:
        case_pos.setdefault((g["workload"], ckey(g["case"])[0]),
                            len(case_pos))
    return sorted(rows, key=lambda g: (
        wkey(g["workload"]), case_pos[(g["workload"], ckey(g["case"])[0])],
        ckey(g["case"])[1:], g["impl"] != "cfutures", g["impl"]))


def fmt(x):
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3g" % x


def ratio_text(r):
    if r is None:
        return ""
    if r >= 1:
        return "cfutures is %sx better" % fmt(r)
    return "cfutures is %sx worse" % fmt(1 / r)


def machine():
    """One line naming the machine the run is on."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fp:
            for line in fp:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = os.uname()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return "%s, %d CPUs, %s %s %s, load %.2f at start" % (
        model, os.cpu_count() or 0, u.sysname, u.release, u.machine, load)


def check_targets(rows):
    """Returns (label, verdict, detail) for each target of TARGETS."""
    by_key = {(g["workload"], g["case"], g["impl"]): g for g in rows}
    ran = set(g["workload"] for g in rows)
    out = []
    for workload, case, against, threshold, label in TARGETS:
        if workload not in ran:
            continue
        name = "%s %s %s" % (workload, case, label)
        mine = by_key.get((workload, case, "cfutures"))
        if against is None:
            if not mine:
                out.append((name, "not measured", ""))
                continue
            v = mine["median"]
            ok = v >= threshold if mine["better"] == "higher" else \
                v <= threshold
            out.append((name, "met" if ok else "MISSED",
                        "%s %s" % (fmt(v), mine["unit"])))
            continue
        peer = by_key.get((workload, case, against))
        if not mine or not peer or peer["cfutures_better_by"] is None:
            out.append((name, "not measured", ""))
            continue
        r = peer["cfutures_better_by"]
        out.append((name, "met" if r >= threshold else "MISSED",
                    ratio_text(r)))
    return out


def print_table(rows, failures, skipped, runs, where):
    table = [("workload", "case", "impl", "median (min-max)", "unit",
              "vs cfutures")]
    last = None
    for g in sort_rows(rows):
        w = g["workload"]
        if last is not None and w != last:
            table.append(None)
        last = w
        table.append((w, g["case"], g["impl"],
                      "%s (%s-%s)" % (fmt(g["median"]), fmt(g["min"]),
                                      fmt(g["max"])),
                      g["unit"], ratio_text(g["cfutures_better_by"])))
    widths = [max(len(r[i]) for r in table if r) for i in range(6)]
    for r in table:
        if r is None:
            print()
            continue
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    print("\nmedians of %d interleaved runs per command; %s" % (runs, where))
    print("\ntargets (TARGETS.md):")
    for name, verdict, detail in check_targets(rows):
        print("  %-12s %-50s %s" % (verdict, name, detail))
    print()
    for wid, cmd, why in skipped:
        print("skipped  [%s] %s: %s" % (wid, cmd, why))
    for wid, cmd, why in failures:
        print("FAILED   [%s] %s: %s" % (wid, cmd, why))


def main(argv):
    args = parse_args(argv)
    build = os.path.abspath(args.build)
    if not os.path.isdir(build):
        print("run.py: no build directory %s (build with cmake, then pass "
              "--build BUILD/bench)" % build, file=sys.stderr)
        return 2
    only = set(w.strip() for w in args.only.split(",") if w.strip())
    entries = read_registry(args.suites, only)
    implicit = set()  # workloads run only for another's sake, not shown
    if "W8" in only and "W5" not in only:
        # W8's process pool rows come from W5's cfutures command.
        entries += [(w, c) for w, c in read_registry(args.suites, {"W5"})
                    if c.strip() == W5_POOL_CMD]
        implicit.add("W5")

    commands, skipped = [], []
    mpirun = False  # not looked for yet
    py_mpi4py = False  # not looked for yet
    for wid, cmd in entries:
        argv_cmd = expand(cmd)
        if not argv_cmd:
            continue
        missing = [t for t, o in zip(shlex.split(cmd), argv_cmd)
                   if "${SRC}" in t and not os.path.exists(o)]
        if "${PYTHON_MPI4PY}" in argv_cmd:
            if py_mpi4py is False:
                py_mpi4py = python_mpi4py()
            if py_mpi4py is None:
                skipped.append((wid, cmd, "no python3 here can import "
                                "mpi4py (Debian: python3-mpi4py)"))
                continue
            argv_cmd = [py_mpi4py if t == "${PYTHON_MPI4PY}" else t
                        for t in argv_cmd]
        prog = argv_cmd[0]
        if "${MPIRUN}" in argv_cmd:
            if mpirun is False:
                mpirun = mpirun_argv(args.timeout)
            argv_cmd, prog = splice_mpirun(argv_cmd, mpirun)
            if argv_cmd is None:
                skipped.append((wid, cmd, prog))
                continue
        if program_missing(prog, build):
            skipped.append((wid, cmd, "%s is not built or not installed"
                            % prog))
            continue
        if missing:
            skipped.append((wid, cmd, "%s not found" % missing[0]))
            continue
        if args.quick:
            argv_cmd = argv_cmd + ["--quick"]
        commands.append((wid, cmd, argv_cmd))

    if implicit and not any(w not in implicit for w, _, _ in commands):
        commands = []  # nothing of W8 can run: W5 alone would show nothing
    where = machine()
    records, failures = [], []
    failed = set()
    started = time.monotonic()
    hung = set()
    for run in range(args.runs):
        for i, (wid, cmd, argv_cmd) in enumerate(commands):
            if cmd in hung:
                continue
            print("run %d/%d  [%d/%d] %s" % (run + 1, args.runs, i + 1,
                                             len(commands), cmd),
                  file=sys.stderr, flush=True)
            got, err, _ = run_once(argv_cmd, build, args.timeout)
            records.extend(got)
            if err:
                print("  -> %s" % err, file=sys.stderr, flush=True)
                if err.startswith("timed out"):
                    hung.add(cmd)  # once is enough to know
                if cmd not in failed:
                    failed.add(cmd)
                    failures.append((wid, cmd, "run %d: %s" % (run + 1, err)))
    rows = aggregate([r for r in add_pool_rows(records)
                      if r["workload"] not in implicit])
    elapsed = time.monotonic() - started

    if args.json:
        json.dump({"runs": args.runs, "quick": args.quick, "machine": where,
                   "seconds": round(elapsed, 1), "results": sort_rows(rows),
                   "targets": [{"target": n, "verdict": v, "measured": d}
                               for n, v, d in check_targets(rows)],
                   "skipped": [{"workload": w, "command": c, "why": y}
                               for w, c, y in skipped],
                   "failed": [{"workload": w, "command": c, "why": y}
                              for w, c, y in failures]},
                  sys.stdout, indent=1)
        print()
    else:
        print_table(rows, failures, skipped, args.runs, where)
        print("%d commands in %.0f s" % (len(commands), elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
