#!/bin/sh
# SPDX-License-Identifier: MIT
# Fuzzes the process pool's frame decoder with libFuzzer:
#   tests/fuzz/run.sh [SECONDS [BUILD_DIR]]
# Builds tests/fuzz/fuzz_wire.c with clang -fsanitize=fuzzer,address,
# undefined into BUILD_DIR (default build-fuzz/), then runs it for SECONDS
# (default 60), starting from the checked-in corpus; new inputs go to
# BUILD_DIR/corpus, crashes to BUILD_DIR (crash-*), and fail the run.
# Without clang or libFuzzer it says so and exits 0, so CI can call it
# unconditionally.
set -eu
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$src/build-fuzz}
cc=${CLANG:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz: $cc not found; skipped"
  exit 0
fi
mkdir -p "$out/corpus"
if ! "$cc" -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$src/include" -I"$src/lib" \
    "$src/tests/fuzz/fuzz_wire.c" "$src/lib/wire.c" -o "$out/fuzz_wire"; then
  echo "fuzz: $cc cannot build a libFuzzer target (libfuzzer missing?); skipped"
  exit 0
fi
cd "$out"
./fuzz_wire -max_total_time="$secs" -print_final_stats=1 -max_len=8192 \
  corpus "$src/tests/fuzz/corpus/wire"
