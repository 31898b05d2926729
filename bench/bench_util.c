/* SPDX-License-Identifier: MIT */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(const char *prog) {
  fprintf(stderr,
          "usage: %s --workload W1|W2|W3|W4|MEM|FLOOR [--pool P] [--n N]\n"
          "          [--variant NAME] [--quick]\n",
          prog);
}

int bench_args_parse(int argc, char **argv, bench_args *out) {
  bench_args a = {"", 0, 0, 0, ""};
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(s, "--quick") == 0) {
      a.quick = 1;
    } else if (strcmp(s, "--workload") == 0 && next) {
      a.workload = next;
      i++;
    } else if (strcmp(s, "--pool") == 0 && next) {
      a.pool = atoi(next);
      i++;
    } else if (strcmp(s, "--n") == 0 && next) {
      a.n = atol(next);
      i++;
    } else if (strcmp(s, "--variant") == 0 && next) {
      a.variant = next;
      i++;
    } else {
      usage(argv[0]);
      return -1;
    }
  }
  if (a.workload[0] == '\0' || a.pool < 0 || a.n < 0) {
    usage(argv[0]);
    return -1;
  }
  *out = a;
  return 0;
}

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q) {
  if (n == 0)
    return 0.0;
  qsort(v, n, sizeof *v, cmp_double);
  size_t i = (size_t)(q * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

void bench_emit(const char *workload, const char *kase, const char *impl,
                double value, const char *unit, const char *better) {
  printf("{\"workload\": \"%s\", \"case\": \"%s\", \"impl\": \"%s\", "
         "\"value\": %.6g, \"unit\": \"%s\", \"better\": \"%s\"}\n",
         workload, kase, impl, value, unit, better);
  fflush(stdout);
}

int bench_unsupported(const char *prog, const char *workload) {
  fprintf(stderr, "%s: workload %s is not implemented here\n", prog, workload);
  return 2;
}

int bench_main(int argc, char **argv, const bench_workload *ws, size_t n) {
  bench_args a;
  if (bench_args_parse(argc, argv, &a) != 0)
    return 2;
  for (size_t i = 0; i < n; i++)
    if (strcmp(a.workload, ws[i].name) == 0)
      return ws[i].run(&a);
  return bench_unsupported(argv[0], a.workload);
}

uint64_t bench_spin_work(uint64_t iters, uint64_t seed) {
  /* xorshift64* keeps a data dependency from one round to the next, so the
   * loop can be neither vectorised nor reduced to a closed form. */
  uint64_t x = seed | 1u, acc = 0;
  for (uint64_t i = 0; i < iters; i++) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    acc += x * 0x2545F4914F6CDD1DULL;
  }
  return acc;
}

uint64_t bench_spin_calibrate(double ms) {
  const uint64_t probe = 1u << 20;
  double best = 1e30;
  uint64_t sink = 0;
  /* The fastest of a few probes: the others were interrupted. */
  for (int i = 0; i < 5; i++) {
    uint64_t t0 = bench_now_ns();
    sink += bench_spin_work(probe, (uint64_t)i + 1);
    double dt = (double)(bench_now_ns() - t0);
    if (dt < best)
      best = dt;
  }
  if (sink == 42)
    fputc(' ', stderr);
  return (uint64_t)((double)probe * (ms * 1e6) / best);
}

size_t bench_rss_bytes(void) {
  FILE *fp = fopen("/proc/self/statm", "re");
  if (!fp)
    return 0;
  unsigned long size = 0, resident = 0;
  int got = fscanf(fp, "%lu %lu", &size, &resident);
  fclose(fp);
  if (got != 2)
    return 0;
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

size_t bench_peak_rss_bytes(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (size_t)ru.ru_maxrss * 1024u;
}

void bench_gate_init(bench_gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
}

void bench_gate_wait(bench_gate *g) {
  pthread_mutex_lock(&g->mu);
  while (!g->open)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

void bench_gate_open(bench_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

void bench_gate_destroy(bench_gate *g) {
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
}
