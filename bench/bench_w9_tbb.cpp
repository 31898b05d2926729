// SPDX-License-Identifier: MIT
// W9 fork-join with oneTBB: the cases of bench_w9.c, each call above the
// cutoff a tbb::task_group that runs one half, the other half inline, then
// wait(), in a task_arena of P threads.
extern "C" {
#include "bench_util.h"
}
#include "bench_w9.h"

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

static const char *const IMPL = "tbb";

static int cutoff;

static long pfib(int n) {
  if (n <= cutoff)
    return w9_fib(n);
  long x = 0;
  tbb::task_group g;
  g.run([&] { x = pfib(n - 1); });
  long y = pfib(n - 2);
  g.wait();
  return x + y;
}

static void psort(int *v, long n) {
  if (n <= W9_SORT_CUTOFF) {
    w9_sort_serial(v, n);
    return;
  }
  long k = w9_partition(v, n);
  tbb::task_group g;
  g.run([=] { psort(v, k); });
  psort(v + k, n - k);
  g.wait();
}

static void report(const char *what, uint64_t serial, uint64_t parallel) {
  char kase[64];
  std::snprintf(kase, sizeof kase, "%s ms", what);
  bench_emit("W9", kase, IMPL, (double)parallel / 1e6, "ms", "lower");
  std::snprintf(kase, sizeof kase, "%s speedup", what);
  bench_emit("W9", kase, IMPL, (double)serial / (double)parallel, "x",
             "higher");
}

static int run_w9(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  int n = a->quick ? W9_FIB_N_QUICK : W9_FIB_N;
  long sn = a->quick ? W9_SORT_N_QUICK : W9_SORT_N;
  tbb::task_arena arena(P);
  arena.execute([] {}); // start the workers, as the other programs do
  uint64_t t0 = bench_thread_cpu_ns();
  long expect = w9_fib(n);
  uint64_t serial = bench_thread_cpu_ns() - t0;
  for (int i = 0; i < W9_NCUTOFFS; i++) {
    cutoff = w9_cutoffs[i];
    long r = 0;
    t0 = bench_now_ns();
    arena.execute([&] { r = pfib(n); });
    uint64_t parallel = bench_now_ns() - t0;
    if (r != expect) {
      std::fprintf(stderr, "bench_w9_tbb: fib(%d) = %ld\n", n, r);
      return 1;
    }
    char what[48];
    std::snprintf(what, sizeof what, "fib(%d) cutoff %d", n, cutoff);
    report(what, serial, parallel);
  }
  std::vector<int> v((size_t)sn);
  w9_fill(v.data(), sn);
  t0 = bench_thread_cpu_ns();
  w9_sort_serial(v.data(), sn);
  serial = bench_thread_cpu_ns() - t0;
  w9_fill(v.data(), sn);
  t0 = bench_now_ns();
  arena.execute([&] { psort(v.data(), sn); });
  uint64_t parallel = bench_now_ns() - t0;
  if (w9_check_sorted(v.data(), sn) != 0)
    return 1;
  char what[48];
  std::snprintf(what, sizeof what, "quicksort %ldM", sn / 1000000);
  report(what, serial, parallel);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"W9", run_w9}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
