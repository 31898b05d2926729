/* SPDX-License-Identifier: MIT */
#include "bench_report.h"

#include <stdio.h>

void bench_report_w1(const char *impl, int pool, const char *suffix, long n,
                     uint64_t elapsed_ns) {
  char kase[64];
  snprintf(kase, sizeof kase, "P=%d%s", pool, suffix);
  double per_s = (double)n / ((double)elapsed_ns / 1e9);
  bench_emit("W1", kase, impl, per_s / 1e6, "M tasks/s", "higher");
}

void bench_report_w2(const char *impl, const char *prefix, double *samples,
                     size_t n) {
  char kase[64];
  double median = bench_quantile(samples, n, 0.5);
  double p99 = bench_quantile(samples, n, 0.99);
  snprintf(kase, sizeof kase, "%smedian", prefix);
  bench_emit("W2", kase, impl, median / 1e3, "us", "lower");
  snprintf(kase, sizeof kase, "%sp99", prefix);
  bench_emit("W2", kase, impl, p99 / 1e3, "us", "lower");
}

void bench_report_w3(const char *impl, int workers, uint64_t serial_ns,
                     uint64_t parallel_ns) {
  double eff = (double)serial_ns / (double)workers / (double)parallel_ns;
  bench_emit("W3", "efficiency", impl, eff, "x", "higher");
}

void bench_report_w4(const char *impl, const char *kase, long n,
                     uint64_t elapsed_ns) {
  bench_emit("W4", kase, impl, (double)elapsed_ns / (double)n, "ns/future",
             "lower");
}

void bench_report_mem(const char *impl, const char *what, long n,
                      size_t rss_before, size_t rss_after) {
  char kase[64];
  double grown = rss_after > rss_before ? (double)(rss_after - rss_before) : 0;
  snprintf(kase, sizeof kase, "bytes per pending %s", what);
  bench_emit("MEM", kase, impl, grown / (double)n, "B", "lower");
  snprintf(kase, sizeof kase, "peak RSS, %ldk pending %s", n / 1000, what);
  bench_emit("MEM", kase, impl,
             (double)bench_peak_rss_bytes() / (1024.0 * 1024.0), "MiB",
             "lower");
}
