/* SPDX-License-Identifier: MIT */
/*
 * What every benchmark program shares: the command line, the clock, order
 * statistics, the JSON result line, the CPU-bound task of W3 and the memory
 * probes.
 *
 * Each program runs one measurement pass of one workload and prints one JSON
 * object per result on stdout (see bench/run.py, which aggregates them):
 *
 *   {"workload": "W2", "case": "median", "impl": "cfutures",
 *    "value": 21.3, "unit": "us", "better": "lower"}
 */
#ifndef CF_BENCH_UTIL_H
#define CF_BENCH_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_args {
  const char *workload; /* "W1", "W2", "W3", "W4", "MEM", "FLOOR" */
  int pool;             /* workers; 0 = the workload's default */
  int quick;            /* a much shorter pass */
  long n;               /* task count; 0 = the workload's default */
  const char *variant;  /* workload-specific, e.g. "nofuture"; "" = none */
} bench_args;

/* Parses argv. Prints usage and returns -1 on a bad command line. */
int bench_args_parse(int argc, char **argv, bench_args *out);

/* The task count: --n if given, else quick_n with --quick, else full_n.
 * Inline so that the compiler sees the result is positive. */
static inline long bench_args_n(const bench_args *a, long full_n,
                                long quick_n) {
  long n = a->n > 0 ? a->n : a->quick ? quick_n : full_n;
  return n < 1 ? 1 : n;
}

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t bench_now_ns(void);

/* CPU time consumed by the calling thread, in ns: unlike wall time, a
 * serial reference measured this way is not inflated by other processes. */
uint64_t bench_thread_cpu_ns(void);

/* Sorts v[0..n) in place and returns the value at quantile q (0..1). */
double bench_quantile(double *v, size_t n, double q);

/* Prints one result line and flushes stdout. */
void bench_emit(const char *workload, const char *kase, const char *impl,
                double value, const char *unit, const char *better);

/* Prints the message for a workload the program does not implement and
 * returns 2 (the exit code the runner reports). */
int bench_unsupported(const char *prog, const char *workload);

/* A program's workloads, by the name --workload gives. */
typedef struct bench_workload {
  const char *name;
  int (*run)(const bench_args *a);
} bench_workload;

/* A bench program's main: parses the arguments and runs the workload named
 * by --workload from ws[0..n). Returns the exit code. */
int bench_main(int argc, char **argv, const bench_workload *ws, size_t n);

/* W3's task: about `iters` rounds of integer arithmetic the compiler cannot
 * fold away. Returns a value that depends on every round. */
uint64_t bench_spin_work(uint64_t iters, uint64_t seed);

/* The iteration count that makes bench_spin_work take about `ms` ms here. */
uint64_t bench_spin_calibrate(double ms);

/* Resident set size now, in bytes (from /proc/self/statm); 0 if unknown. */
size_t bench_rss_bytes(void);

/* Peak resident set size of the process, in bytes (getrusage). */
size_t bench_peak_rss_bytes(void);

/* A one-shot gate: tasks block in bench_gate_wait until bench_gate_open. */
typedef struct bench_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
} bench_gate;

void bench_gate_init(bench_gate *g);
void bench_gate_wait(bench_gate *g);
void bench_gate_open(bench_gate *g);
void bench_gate_destroy(bench_gate *g);

/* W3 task count and target task duration. */
#define BENCH_W3_TASKS 200
#define BENCH_W3_TASKS_QUICK 60
#define BENCH_W3_TASK_MS 2.0

#endif /* CF_BENCH_UTIL_H */
