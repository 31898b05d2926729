/* SPDX-License-Identifier: MIT */
/*
 * W5, the process pool: 64-byte round trip and throughput with plain
 * submits (and with cf_map_bytes at chunksize 1000, Python's usual cure),
 * 1 MiB in / 1 MiB out one at a time and 8 at a time, and the start of a
 * 2-worker pool. The floor is a pipe ping-pong between two processes (64 B
 * and 1 MiB each way), measured in the same run.
 *
 *   bench_w5 [--quick] [--variant floor]
 */
#include "bench_bytes.h"
#include "bench_util.h"

#include <cfutures.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const IMPL = "cfutures";

static cf_executor *pool_new(int workers) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  cf_executor *ex = NULL;
  if (cf_process_pool_new(&o, &ex) != 0) {
    fprintf(stderr, "bench_w5: cannot create the pool\n");
    exit(1);
  }
  return ex;
}

static void check(const char *what, int rc) {
  if (rc != 0) {
    fprintf(stderr, "bench_w5: %s: %s\n", what, cf_strerror(rc));
    exit(1);
  }
}

static void wait_bytes(cf_future *f, size_t want) {
  check("task", bench_bytes_wait(f, want));
}

static void round_trip_64(cf_executor *ex, long n) {
  double *s = malloc((size_t)n * sizeof *s);
  check("round trip", bench_bytes_round_trips(ex, n, s));
  bench_emit("W5", "64B round trip median", IMPL,
             bench_quantile(s, (size_t)n, 0.5), "us", "lower");
  bench_emit("W5", "64B round trip p99", IMPL,
             bench_quantile(s, (size_t)n, 0.99), "us", "lower");
  free(s);
}

static void throughput_64(cf_executor *ex, long n) {
  double el;
  check("submits", bench_bytes_submits(ex, n, &el));
  bench_emit("W5", "64B throughput submit", IMPL, (double)n / el, "tasks/s",
             "higher");
}

static void throughput_map(cf_executor *ex, long n) {
  double el;
  check("map", bench_bytes_map(ex, n, 1000, &el));
  bench_emit("W5", "64B throughput map chunksize=1000", IMPL, (double)n / el,
             "tasks/s", "higher");
}

static void mib(cf_executor *ex, long n, int inflight, const char *kase) {
  size_t sz = 1u << 20;
  unsigned char *buf = malloc(sz);
  memset(buf, 7, sz);
  cf_future *fs[16];
  for (int i = 0; i < inflight; i++) { /* warm the shared regions */
    cf_submit_bytes(ex, bench_bytes_echo, buf, sz, &fs[i]);
  }
  for (int i = 0; i < inflight; i++) {
    wait_bytes(fs[i], sz);
    cf_future_release(fs[i]);
  }
  uint64_t t0 = bench_now_ns();
  long sent = 0, done = 0;
  while (done < n) {
    while (sent < n && sent - done < inflight) {
      cf_submit_bytes(ex, bench_bytes_echo, buf, sz, &fs[sent % inflight]);
      sent++;
    }
    wait_bytes(fs[done % inflight], sz);
    cf_future_release(fs[done % inflight]);
    done++;
  }
  double el = (double)(bench_now_ns() - t0) / 1e9;
  bench_emit("W5", kase, IMPL, (double)n / el, "MiB/s each way", "higher");
  free(buf);
}

static void start(long n) {
  double *s = malloc((size_t)n * sizeof *s);
  unsigned char msg[64] = {0};
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    cf_executor *ex = pool_new(2);
    s[i] = (double)(bench_now_ns() - t0) / 1e6;
    cf_future *f;
    cf_submit_bytes(ex, bench_bytes_echo, msg, sizeof msg, &f);
    wait_bytes(f, sizeof msg);
    cf_future_release(f);
    cf_executor_free(ex);
  }
  bench_emit("W5", "pool start 2 workers", IMPL,
             bench_quantile(s, (size_t)n, 0.5), "ms", "lower");
  /* To a first result: the forks of the zygote and a worker included. */
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    cf_executor *ex = pool_new(2);
    cf_future *f;
    cf_submit_bytes(ex, bench_bytes_echo, msg, sizeof msg, &f);
    wait_bytes(f, sizeof msg);
    s[i] = (double)(bench_now_ns() - t0) / 1e6;
    cf_future_release(f);
    cf_executor_free(ex);
  }
  bench_emit("W5", "pool start to first result", IMPL,
             bench_quantile(s, (size_t)n, 0.5), "ms", "lower");
  free(s);
}

/* The floor: a child echoes what it reads on one pipe into another. */
static void full_io(int fd, void *buf, size_t n, int wr) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = wr ? write(fd, (char *)buf + off, n - off)
                   : read(fd, (char *)buf + off, n - off);
    if (r <= 0)
      exit(1);
    off += (size_t)r;
  }
}

static void floor_pipe(long n64, long nmib) {
  int a[2], b[2];
  if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC))
    exit(1);
  size_t sz = 1u << 20;
  fcntl(a[1], F_SETPIPE_SZ, (int)sz);
  fcntl(b[1], F_SETPIPE_SZ, (int)sz);
  pid_t pid = fork();
  if (pid == 0) {
    close(a[1]); /* so that the parent's close is our end of file */
    close(b[0]);
    unsigned char *buf = malloc(sz);
    uint32_t len;
    for (;;) {
      ssize_t r = read(a[0], &len, sizeof len);
      if (r != sizeof len)
        _exit(0);
      full_io(a[0], buf, len, 0);
      full_io(b[1], buf, len, 1);
    }
  }
  close(a[0]);
  close(b[1]);
  unsigned char *buf = malloc(sz);
  memset(buf, 1, sz);
  double *s = malloc((size_t)n64 * sizeof *s);
  for (long i = 0; i < n64; i++) {
    uint64_t t0 = bench_now_ns();
    uint32_t len = 64;
    full_io(a[1], &len, sizeof len, 1);
    full_io(a[1], buf, len, 1);
    full_io(b[0], buf, len, 0);
    s[i] = (double)(bench_now_ns() - t0) / 1e3;
  }
  bench_emit("W5", "64B round trip median", "floor",
             bench_quantile(s, (size_t)n64, 0.5), "us", "lower");
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < nmib; i++) {
    uint32_t len = (uint32_t)sz;
    full_io(a[1], &len, sizeof len, 1);
    full_io(a[1], buf, len, 1);
    full_io(b[0], buf, len, 0);
  }
  double el = (double)(bench_now_ns() - t0) / 1e9;
  bench_emit("W5", "1MiB sequential", "floor", (double)nmib / el,
             "MiB/s each way", "higher");
  close(a[1]);
  close(b[0]);
  waitpid(pid, NULL, 0);
  free(s);
  free(buf);
}

int main(int argc, char **argv) {
  int quick = 0;
  const char *variant = "";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc)
      variant = argv[++i];
    else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc)
      i++; /* W5 is the only one */
  }
  if (strcmp(variant, "floor") == 0) {
    floor_pipe(quick ? 2000 : 20000, quick ? 100 : 1000);
    return 0;
  }
  start(quick ? 5 : 20);
  cf_executor *ex = pool_new(1);
  round_trip_64(ex, quick ? 2000 : 20000);
  cf_executor_free(ex);
  ex = pool_new(2);
  throughput_64(ex, quick ? 50000 : 500000);
  throughput_map(ex, quick ? 50000 : 500000);
  mib(ex, quick ? 100 : 1000, 1, "1MiB sequential");
  mib(ex, quick ? 200 : 2000, 8, "1MiB concurrent");
  cf_executor_free(ex);
  return 0;
}
