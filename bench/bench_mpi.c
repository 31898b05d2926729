/* SPDX-License-Identifier: MIT */
/*
 * W8, the MPI pool (cfutures/mpi.h): the 64-byte round trip and 64-byte
 * throughput of W5, on the ranks of an MPI job, next to the MPI library's
 * own floor measured in the same run. SPMD, so it runs under mpirun (2 or
 * more ranks; bench/run.py runs it with -n 2 and -n 4):
 *
 *   mpirun -n N bench_mpi [--quick] [--variant nospin] [--depth D]
 *                         [--spin-us S] [--poll-max-us U]
 *
 * Rank 0 prints the results (the other ranks serve the pool and print
 * nothing); every case ends in " -n N" (N ranks, so N - 1 serve):
 *
 *   64B round trip median, p99  submit one 64-byte echo task and wait for
 *                               it with cf_future_bytes, one at a time
 *     impl "floor"              64-byte MPI_Isend/MPI_Irecv ping-pong
 *                               between ranks 0 and 1, both polling with
 *                               MPI_Test (no sleep): what the library costs
 *   64B throughput submit       n cf_submit_bytes, then wait for each
 *   64B throughput map          cf_map_bytes of n items, chunksize 1000
 *   client CPU per task         CPU time rank 0 spent per task in the
 *                               submit run: the submitting thread, and the
 *                               rest of the process (the pool's manager
 *                               thread, its polling included)
 *
 * While ranks 0 and 1 run the floor, the other ranks wait in a barrier that
 * sleeps (an Open MPI blocking call would spin a CPU each). The pool has
 * its default options; --variant nospin sets spin_us = 0 (no polling
 * after a message before the backoff sleeps start; the cases end in
 * " spin_us=0"). --depth, --spin-us and --poll-max-us set
 * pipeline_depth, spin_us and poll_max_us, for exploring by hand (the case
 * names do not say so).
 */
#include "bench_bytes.h"
#include "bench_util.h"

#include <cfutures.h>
#include <cfutures/mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const IMPL = "cfutures";
static int nranks;

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_mpi: %s: %s\n", what, cf_strerror(rc));
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

/* " spin_us=0" with --variant nospin, else "". */
static const char *variant_suffix = "";

/* "<what> -n <ranks>[ <variant>]", the case name of this run. */
static const char *kase(const char *what) {
  static char buf[8][128];
  static int k;
  char *b = buf[k++ % 8];
  snprintf(b, sizeof buf[0], "%s -n %d%s", what, nranks, variant_suffix);
  return b;
}

static uint64_t process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A barrier whose waiters sleep between polls: ranks left out of the floor
 * must not take the CPUs ranks 0 and 1 measure on. */
static void quiet_barrier(void) {
  MPI_Request rq;
  MPI_Ibarrier(MPI_COMM_WORLD, &rq);
  for (;;) {
    int done = 0;
    MPI_Test(&rq, &done, MPI_STATUS_IGNORE);
    if (done)
      return;
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
}

static void test_until_done(MPI_Request *rq) {
  int done = 0;
  while (!done)
    MPI_Test(rq, &done, MPI_STATUS_IGNORE);
}

/* The floor: 64 B there and back between ranks 0 and 1, nonblocking calls
 * polled with MPI_Test, as the pool's manager and serving ranks poll. */
static void floor_pingpong(int me, long n) {
  unsigned char out[64] = {1}, in[64];
  double *s = me == 0 ? malloc((size_t)n * sizeof *s) : NULL;
  for (long i = -n / 10; i < n; i++) { /* the first tenth warms up */
    MPI_Request rr, sr;
    if (me == 0) {
      uint64_t t0 = bench_now_ns();
      MPI_Irecv(in, sizeof in, MPI_BYTE, 1, 7, MPI_COMM_WORLD, &rr);
      MPI_Isend(out, sizeof out, MPI_BYTE, 1, 7, MPI_COMM_WORLD, &sr);
      test_until_done(&sr);
      test_until_done(&rr);
      if (i >= 0)
        s[i] = (double)(bench_now_ns() - t0) / 1e3;
    } else {
      MPI_Irecv(in, sizeof in, MPI_BYTE, 0, 7, MPI_COMM_WORLD, &rr);
      test_until_done(&rr);
      MPI_Isend(in, sizeof in, MPI_BYTE, 0, 7, MPI_COMM_WORLD, &sr);
      test_until_done(&sr);
    }
  }
  if (me == 0) {
    bench_emit("W8", kase("64B round trip median"), "floor",
               bench_quantile(s, (size_t)n, 0.5), "us", "lower");
    bench_emit("W8", kase("64B round trip p99"), "floor",
               bench_quantile(s, (size_t)n, 0.99), "us", "lower");
  }
  free(s);
}

static void check(const char *what, int rc) {
  if (rc != 0)
    die(what, rc);
}

static void round_trip_64(cf_executor *ex, long n) {
  double *s = malloc((size_t)n * sizeof *s);
  check("round trip", bench_bytes_round_trips(ex, n, s));
  bench_emit("W8", kase("64B round trip median"), IMPL,
             bench_quantile(s, (size_t)n, 0.5), "us", "lower");
  bench_emit("W8", kase("64B round trip p99"), IMPL,
             bench_quantile(s, (size_t)n, 0.99), "us", "lower");
  free(s);
}

/* n submits, then wait for each; with report set, prints the rate and the
 * client's CPU time per task (a warm-up passes report = 0). */
static void throughput_64(cf_executor *ex, long n, int report) {
  uint64_t c0 = process_cpu_ns(), m0 = bench_thread_cpu_ns();
  double el;
  check("submits", bench_bytes_submits(ex, n, &el));
  double main_us = (double)(bench_thread_cpu_ns() - m0) / 1e3 / (double)n;
  double all_us = (double)(process_cpu_ns() - c0) / 1e3 / (double)n;
  if (report) {
    bench_emit("W8", kase("64B throughput submit"), IMPL, (double)n / el,
               "tasks/s", "higher");
    bench_emit("W8", kase("client CPU per task: submitting thread"), IMPL,
               main_us, "us", "lower");
    bench_emit("W8", kase("client CPU per task: manager thread"), IMPL,
               all_us - main_us, "us", "lower");
  }
}

static void throughput_map(cf_executor *ex, long n) {
  double el;
  check("map", bench_bytes_map(ex, n, 1000, &el));
  bench_emit("W8", kase("64B throughput map chunksize=1000"), IMPL,
             (double)n / el, "tasks/s", "higher");
}

int main(int argc, char **argv) {
  int quick = 0, provided = 0, me = 0;
  long depth = 0, spin = -1, pollmax = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) {
      depth = atol(argv[++i]);
    } else if (strcmp(argv[i], "--spin-us") == 0 && i + 1 < argc) {
      spin = atol(argv[++i]);
    } else if (strcmp(argv[i], "--poll-max-us") == 0 && i + 1 < argc) {
      pollmax = atol(argv[++i]);
    } else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc &&
               strcmp(argv[i + 1], "nospin") == 0) {
      spin = 0;
      variant_suffix = " spin_us=0";
      i++;
    } else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc) {
      i++; /* W8 is the only one */
    } else {
      fprintf(stderr,
              "usage: mpirun -n N %s [--quick] [--variant nospin] "
              "[--depth D] [--spin-us S] [--poll-max-us U]\n",
              argv[0]);
      return 2;
    }
  }
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  if (nranks < 2 || provided < MPI_THREAD_MULTIPLE) {
    if (me == 0)
      fprintf(stderr, "bench_mpi: needs 2 ranks or more and "
                      "MPI_THREAD_MULTIPLE (run it under mpirun -n 2)\n");
    MPI_Finalize();
    return 2;
  }

  quiet_barrier();
  if (me <= 1)
    floor_pingpong(me, quick ? 2000 : 20000);
  quiet_barrier();

  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  if (depth > 0)
    o.pipeline_depth = (unsigned)depth;
  if (spin >= 0)
    o.spin_us = (unsigned)spin;
  if (pollmax > 0)
    o.poll_max_us = (unsigned)pollmax;
  cf_executor *ex = NULL;
  int rc = cf_mpi_pool_new(&o, &ex);
  if (rc != 0)
    die("cf_mpi_pool_new", rc);
  if (ex != NULL) { /* rank 0; the others served until the free below */
    round_trip_64(ex, quick ? 1000 : 3000);
    throughput_64(ex, 2000, 0);
    throughput_64(ex, quick ? 20000 : 100000, 1);
    throughput_map(ex, quick ? 50000 : 500000);
    rc = cf_executor_free(ex);
    if (rc != 0)
      die("cf_executor_free", rc);
  }
  MPI_Finalize();
  return 0;
}
