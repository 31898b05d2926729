#!/bin/sh
# SPDX-License-Identifier: MIT
# W7 batch jobs: per-job cost of running `true` commands 2 at a time, with
# `cfutures run -j 2` against `xargs -P 2 -n 1` and GNU `parallel -j 2`.
# One pass; prints one JSON result per line (the bench/run.py protocol).
#
#   bench_w7.sh [--quick] [PATH/TO/cfutures]
#
# 2000 jobs (500 with --quick), the same count for every runner, so that
# each one's start-up is spread over as many jobs.
set -u
jobs=2000
exe=../executor/cfutures
for a in "$@"; do
  case $a in
  --quick) jobs=500 ;;
  *) exe=$a ;;
  esac
done
[ -x "$exe" ] || {
  echo "bench_w7.sh: no cfutures program at $exe" >&2
  exit 1
}

now_ns() { date +%s%N; }

# emit IMPL NJOBS START_NS END_NS
emit() {
  awk -v impl="$1" -v n="$2" -v t0="$3" -v t1="$4" 'BEGIN {
    printf "{\"workload\": \"W7\", \"case\": \"true jobs at -j 2\", " \
      "\"impl\": \"%s\", \"value\": %.4f, \"unit\": \"ms/job\", " \
      "\"better\": \"lower\"}\n", impl, (t1 - t0) / 1e6 / n }'
}

t0=$(now_ns)
seq "$jobs" | "$exe" run -j 2 true || exit 1
emit cfutures "$jobs" "$t0" "$(now_ns)"

t0=$(now_ns)
seq "$jobs" | xargs -P 2 -n 1 true || exit 1
emit xargs "$jobs" "$t0" "$(now_ns)"

if command -v parallel >/dev/null 2>&1 &&
  parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
  t0=$(now_ns)
  seq "$jobs" | parallel --will-cite -j 2 true || exit 1
  emit gnu-parallel "$jobs" "$t0" "$(now_ns)"
fi
