/* SPDX-License-Identifier: MIT */
/*
 * The 64-byte workloads W5 (process pool) and W8 (MPI pool) share, on any
 * executor that takes byte tasks. Each runs one measurement and gives its
 * figures back; the caller names and prints them. 0, or the first error a
 * call returned (a task that failed, or whose result was the wrong size,
 * is CF_ETASK).
 */
#ifndef BENCH_BYTES_H
#define BENCH_BYTES_H

#include <cfutures.h>

/* The task: echoes its input. Registered by name ("bench.echo"). */
int bench_bytes_echo(const void *in, size_t len, cf_buffer *out);

/* Waits for f, whose result must be want bytes. */
int bench_bytes_wait(cf_future *f, size_t want);

/* Submits one 64-byte echo and waits for it, n times after n / 10 rounds
 * of warm-up: each round trip in us into s[0..n). */
int bench_bytes_round_trips(cf_executor *ex, long n, double *s);

/* n 64-byte echoes submitted, then each waited for: *secs, the time. */
int bench_bytes_submits(cf_executor *ex, long n, double *secs);

/* cf_map_bytes of n 64-byte echoes in chunks of chunksize, every result
 * read: *secs, the time. */
int bench_bytes_map(cf_executor *ex, long n, size_t chunksize, double *secs);

#endif
