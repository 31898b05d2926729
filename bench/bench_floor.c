/* SPDX-License-Identifier: MIT */
/*
 * The machine's limits, measured in the same run as everything else:
 *
 *  --workload W2     futex ping-pong between two threads (the floor for a
 *                    round trip that sleeps: two wake-ups) as W2 "median" /
 *                    "p99", and spin ping-pong (no system call at all) as
 *                    W2 "spin median" / "spin p99", impl "floor";
 *  --workload FLOOR  pipe ping-pong of 64 B between two processes, and
 *                    memcpy of 1 MiB between warm buffers.
 *
 * The ping-pongs themselves are in bench_pingpong.c.
 */
#include "bench_pingpong.h"
#include "bench_report.h"
#include "bench_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const IMPL = "floor";

static void ping_pong(int futex, long n, const char *prefix) {
  bench_pingpong *pp = bench_pingpong_start(futex);
  if (!pp) {
    perror("bench_floor: pthread_create");
    exit(1);
  }
  double *lat = malloc((size_t)n * sizeof *lat);
  for (long i = 0; i < n; i++)
    lat[i] = bench_pingpong_round(pp);
  bench_pingpong_stop(pp);
  bench_report_w2(IMPL, prefix, lat, (size_t)n);
  free(lat);
}

static int full_io(ssize_t (*op)(int, void *, size_t), int fd, char *buf,
                   size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = op(fd, buf + done, len - done);
    if (r <= 0)
      return -1;
    done += (size_t)r;
  }
  return 0;
}

static ssize_t write_op(int fd, void *buf, size_t len) {
  return write(fd, buf, len);
}

static void pipe_ping_pong(long n) {
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0) {
    perror("bench_floor: pipe2");
    exit(1);
  }
  char buf[64];
  memset(buf, 'x', sizeof buf);
  pid_t pid = fork();
  if (pid < 0) {
    perror("bench_floor: fork");
    exit(1);
  }
  if (pid == 0) {
    close(down[1]);
    close(up[0]);
    while (full_io(read, down[0], buf, sizeof buf) == 0)
      if (full_io(write_op, up[1], buf, sizeof buf) != 0)
        break;
    _exit(0);
  }
  close(down[0]);
  close(up[1]);
  double *lat = malloc((size_t)n * sizeof *lat);
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    if (full_io(write_op, down[1], buf, sizeof buf) != 0 ||
        full_io(read, up[0], buf, sizeof buf) != 0) {
      fprintf(stderr, "bench_floor: pipe ping-pong broke\n");
      exit(1);
    }
    lat[i] = (double)(bench_now_ns() - t0);
  }
  close(down[1]);
  close(up[0]);
  waitpid(pid, NULL, 0);
  bench_emit("FLOOR", "pipe ping-pong 64B", IMPL,
             bench_quantile(lat, (size_t)n, 0.5) / 1e3, "us", "lower");
  free(lat);
}

static void memcpy_warm(int quick) {
  const size_t len = 1u << 20;
  char *a = malloc(len), *b = malloc(len);
  memset(a, 1, len);
  memset(b, 2, len);
  int reps = quick ? 500 : 2000;
  unsigned sum = 0;
  double best = 1e30;
  /* The best of a few batches: the others were interrupted. */
  for (int batch = 0; batch < 5; batch++) {
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < reps; i++) {
      if (i & 1)
        memcpy(a, b, len);
      else
        memcpy(b, a, len);
      sum += (unsigned char)a[i % len];
    }
    double dt = (double)(bench_now_ns() - t0);
    if (dt < best)
      best = dt;
  }
  if (sum == 42)
    fputc(' ', stderr);
  double gib_s = (double)reps * (double)len / (best / 1e9) / (1u << 30);
  bench_emit("FLOOR", "memcpy 1 MiB", IMPL, gib_s, "GiB/s", "higher");
  free(a);
  free(b);
}

int main(int argc, char **argv) {
  bench_args a;
  if (bench_args_parse(argc, argv, &a) != 0)
    return 2;
  if (strcmp(a.workload, "W2") == 0) {
    long n = bench_args_n(&a, 100000, 20000);
    ping_pong(1, n, "");
    ping_pong(0, n, "spin ");
    return 0;
  }
  if (strcmp(a.workload, "FLOOR") == 0) {
    pipe_ping_pong(bench_args_n(&a, 100000, 20000));
    memcpy_warm(a.quick);
    return 0;
  }
  return bench_unsupported(argv[0], a.workload);
}
