/* SPDX-License-Identifier: MIT */
/*
 * Result helpers shared by the workload drivers of every implementation, so
 * that each reports the same cases with the same arithmetic.
 */
#ifndef CF_BENCH_REPORT_H
#define CF_BENCH_REPORT_H

#include "bench_util.h"

/* W1: n tasks in elapsed_ns -> tasks/s under case "P=<pool><suffix>". */
void bench_report_w1(const char *impl, int pool, const char *suffix, long n,
                     uint64_t elapsed_ns);

/* W2: per-round-trip samples in ns -> "<prefix>median" and "<prefix>p99" in
 * us. Sorts samples. */
void bench_report_w2(const char *impl, const char *prefix, double *samples,
                     size_t n);

/* W3: efficiency = serial / workers / parallel, where serial is the CPU
 * time of the same tasks run one after the other on the calling thread
 * (bench_thread_cpu_ns) and parallel the wall time on the pool. */
void bench_report_w3(const char *impl, int workers, uint64_t serial_ns,
                     uint64_t parallel_ns);

/* W4: ns per future for case ("wait-all" or "as-completed"). */
void bench_report_w4(const char *impl, const char *kase, long n,
                     uint64_t elapsed_ns);

/* MEM: bytes per pending item and the process's peak RSS in MiB.
 * what is "task" or "task+future". */
void bench_report_mem(const char *impl, const char *what, long n,
                      size_t rss_before, size_t rss_after);

#endif /* CF_BENCH_REPORT_H */
