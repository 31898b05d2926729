/* SPDX-License-Identifier: MIT */
/*
 * The MPI pool under a real mpirun (4 ranks on loopback): run by CTest as
 * `mpirun -n 4 cf_mpi_tests`. Every rank runs every test, in the same
 * order, because cf_mpi_pool_new is collective: on rank 0 a test gets the
 * pool and checks it; on the others it serves the pool and returns with
 * NULL. Check cannot fork an MPI process, so tests run in-process; the
 * fixture's teardown frees a pool a failed test left open, which releases
 * the serving ranks, and mpirun's --timeout is the watchdog.
 */
#include <cfutures.h>
#include <cfutures/mpi.h>

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int world_rank(void) {
  int r = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* Tasks ------------------------------------------------------------------- */

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

static int t_rank(const void *in, size_t len, cf_buffer *out) {
  double ms = 0;
  if (len == sizeof ms)
    memcpy(&ms, in, sizeof ms);
  if (ms > 0)
    sleep_ms(ms);
  int r = world_rank();
  return cf_buffer_append(out, &r, sizeof r);
}

static int t_fail(const void *in, size_t len, cf_buffer *out) {
  char m[64];
  cf_buffer_append(out, "ignored", 7);
  snprintf(m, sizeof m, "failed on rank %d", world_rank());
  cf_task_set_message(m);
  return CF_ETASK;
}

/* Fails on rank 2 only. */
static int t_fail_on_2(const void *in, size_t len, cf_buffer *out) {
  sleep_ms(1);
  if (world_rank() == 2)
    return t_fail(in, len, out);
  int r = world_rank();
  return cf_buffer_append(out, &r, sizeof r);
}

static int t_index(const void *in, size_t len, cf_buffer *out) {
  uint64_t x;
  if (len != sizeof x)
    return CF_EINVAL;
  memcpy(&x, in, sizeof x);
  x = x * 3 + 1;
  return cf_buffer_append(out, &x, sizeof x);
}

static int t_big(const void *in, size_t len, cf_buffer *out) {
  /* Echoes a large input with every byte incremented. */
  int rc = cf_buffer_reserve(out, len);
  if (rc != 0)
    return rc;
  const unsigned char *p = in;
  for (size_t i = 0; i < len; i++)
    out->data[i] = (unsigned char)(p[i] + 1);
  out->len = len;
  return 0;
}

/* Returns twice the bytes it was given. */
static int t_grow(const void *in, size_t len, cf_buffer *out) {
  int rc = cf_buffer_append(out, in, len);
  return rc != 0 ? rc : cf_buffer_append(out, in, len);
}

static int init_value = -1;
static int i_set(const void *arg, size_t len) {
  int v = 0;
  if (len == sizeof v)
    memcpy(&v, arg, sizeof v);
  init_value = world_rank() * 10 + v;
  return 0;
}
static int i_fail_on_2(const void *arg, size_t len) {
  return world_rank() == 2 ? CF_EINVAL : 0;
}
static int t_init_value(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, &init_value, sizeof init_value);
}

/* Registered on the client at run time only: no serving rank knows it. */
static int t_root_only(const void *in, size_t len, cf_buffer *out) {
  return 0;
}

CF_TASK("mpi.echo", t_echo)
CF_TASK("mpi.rank", t_rank)
CF_TASK("mpi.fail", t_fail)
CF_TASK("mpi.fail_on_2", t_fail_on_2)
CF_TASK("mpi.index", t_index)
CF_TASK("mpi.big", t_big)
CF_TASK("mpi.init_value", t_init_value)
CF_TASK("mpi.grow", t_grow)

/* Helpers ----------------------------------------------------------------- */

static cf_executor *cur; /* the client's open pool, for the teardown */

static cf_executor *pool_with(const cf_mpi_pool_options *o) {
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_mpi_pool_new(o, &ex), 0);
  ck_assert((ex != NULL) == (world_rank() == 0));
  cur = ex;
  return ex;
}

static cf_executor *pool(void) {
  return pool_with(NULL);
}

static void close_pool(void) {
  if (cur != NULL) {
    ck_assert_int_eq(cf_executor_free(cur), 0);
    cur = NULL;
  }
}

static void teardown(void) {
  if (cur != NULL)
    cf_executor_free(cur);
  cur = NULL;
}

static int rank_of(cf_future *f) {
  if (cf_future_error(f, 60) != 0)
    fprintf(stderr, "error %d: %s\n", cf_future_error(f, 0),
            cf_future_error_message(f));
  const void *d;
  size_t n;
  ck_assert_int_eq(cf_future_bytes(f, 60, &d, &n), 0);
  ck_assert_uint_eq(n, sizeof(int));
  int r;
  memcpy(&r, d, sizeof r);
  return r;
}

/* Tests ------------------------------------------------------------------- */

START_TEST(test_results) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  cf_future *f, *g, *h;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "hello", 5, &f), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, NULL, 0, &g), 0);
  ck_assert_int_eq(cf_submit_named(ex, "mpi.echo", "named", 5, &h), 0);
  const void *d;
  size_t n;
  ck_assert_int_eq(cf_future_bytes(f, 60, &d, &n), 0);
  ck_assert_uint_eq(n, 5);
  ck_assert(memcmp(d, "hello", 5) == 0);
  ck_assert_int_eq(cf_future_bytes(g, 60, &d, &n), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_nonnull(d);
  ck_assert_int_eq(cf_future_bytes(h, 60, &d, &n), 0);
  ck_assert(n == 5 && memcmp(d, "named", 5) == 0);
  void *v;
  ck_assert_int_eq(cf_future_result(f, 0, &v), 0);
  ck_assert_uint_eq(((const cf_buffer *)v)->len, 5);
  cf_future_release(f);
  cf_future_release(g);
  cf_future_release(h);
  close_pool();
}
END_TEST

START_TEST(test_errors) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.max_payload = 1000;
  if (world_rank() == 0)
    ck_assert_int_eq(cf_task_register("mpi.root_only", t_root_only), 0);
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  cf_future *f = NULL, *g = NULL;
  ck_assert_int_eq(cf_submit_bytes(ex, t_fail, "x", 1, &f), 0);
  ck_assert_int_eq(cf_future_error(f, 60), CF_ETASK);
  const char *m = cf_future_error_message(f);
  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_nonnull(strstr(m, "failed on rank"));
  ck_assert_int_eq(cf_future_bytes(f, 0, NULL, NULL), CF_ETASK);
  cf_future_release(f);
  /* Known here, unknown where it runs. */
  ck_assert_int_eq(cf_submit_bytes(ex, t_root_only, "x", 1, &g), 0);
  ck_assert_int_eq(cf_future_error(g, 60), CF_ENOENT);
  ck_assert_ptr_nonnull(cf_future_error_message(g));
  cf_future_release(g);
  /* Refused at submit. */
  static char big[1001];
  f = NULL;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, big, 1001, &f), CF_ETOOBIG);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, big, 1000, NULL), 0);
  /* A result above max_payload fails on the rank, with a message. */
  ck_assert_int_eq(cf_submit_bytes(ex, t_grow, big, 600, &f), 0);
  ck_assert_int_eq(cf_future_error(f, 60), CF_ETOOBIG);
  ck_assert_ptr_nonnull(cf_future_error_message(f));
  cf_future_release(f);
  f = NULL;
  ck_assert_int_eq(cf_submit_bytes(ex, t_index, NULL, 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(NULL, t_echo, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(ex, NULL, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_named(ex, "mpi.nobody", "x", 1, &f), CF_ENOENT);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(cf_submit(ex, NULL, NULL, &f), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(ex, 2), CF_ENOSYS);
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_echo, "x", 1, 5, &f),
                   CF_ENOSYS);
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_echo, "x", 1, -1, NULL), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), CF_ESHUTDOWN);
  close_pool();
}
END_TEST

/* Bad options fail on every rank alike: nobody is left serving. */
START_TEST(test_bad_options) {
  cf_mpi_pool_options o;
  cf_executor *ex = (cf_executor *)&o;
  cf_mpi_pool_options_init(&o);
  o.root = 99;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), CF_EINVAL);
  cf_mpi_pool_options_init(&o);
  o.pipeline_depth = 0;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), CF_EINVAL);
  cf_mpi_pool_options_init(&o);
  o.max_payload = (size_t)2 << 30;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), CF_EINVAL);
  cf_mpi_pool_options_init(&o);
  o.initargs_len = 3;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), CF_EINVAL);
  cf_mpi_pool_options_init(&o);
  o.comm = MPI_COMM_NULL;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), CF_EINVAL);
  /* One rank's mistake is every rank's error. */
  ck_assert_int_eq(cf_mpi_pool_new(NULL, world_rank() == 1 ? NULL : &ex),
                   CF_EINVAL);
  /* And afterwards a good pool still forms. */
  ex = pool();
  if (ex != NULL)
    close_pool();
}
END_TEST

/* Idle ranks first: three long tasks on three idle ranks run on all
 * three, not queued behind each other on one. */
START_TEST(test_idle_ranks_first) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  for (int round = 0; round < 3; round++) {
    double ms = 150;
    cf_future *f[3];
    for (int i = 0; i < 3; i++)
      ck_assert_int_eq(cf_submit_bytes(ex, t_rank, &ms, sizeof ms, &f[i]), 0);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
      int r = rank_of(f[i]);
      ck_assert(r >= 1 && r <= 3);
      ck_assert_msg(!(seen & (1 << r)), "rank %d got two tasks", r);
      seen |= 1 << r;
      cf_future_release(f[i]);
    }
  }
  close_pool();
}
END_TEST

START_TEST(test_max_workers) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.max_workers = 1;
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  cf_future *f[20];
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, NULL, 0, &f[i]), 0);
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(rank_of(f[i]), 1);
    cf_future_release(f[i]);
  }
  cf_executor_stats s;
  ck_assert_int_eq(cf_executor_stats_get(ex, &s), 0);
  ck_assert_uint_eq(s.max_workers, 1);
  ck_assert_uint_eq(s.completed, 20);
  close_pool();
}
END_TEST

START_TEST(test_cancel_pending) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.pipeline_depth = 1;
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  double ms = 300;
  cf_future *busy[3], *q[10];
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, &ms, sizeof ms, &busy[i]), 0);
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, NULL, 0, &q[i]), 0);
  /* A task runs from when it is sent; wait for the three to go out. */
  for (int k = 0; k < 3; k++)
    for (int w = 0; w < 10000 && !cf_future_running(busy[k]); w++)
      sleep_ms(1);
  /* Three ranks, one task each: the ten wait on the client. */
  for (int i = 0; i < 10; i++) {
    ck_assert(cf_future_cancel(q[i]));
    ck_assert(cf_future_cancelled(q[i]));
    ck_assert_int_eq(cf_future_bytes(q[i], 0, NULL, NULL), CF_ECANCELED);
  }
  for (int i = 0; i < 3; i++) {
    ck_assert(!cf_future_cancel(busy[i])); /* sent: too late */
    ck_assert_int_ge(rank_of(busy[i]), 1);
    cf_future_release(busy[i]);
  }
  for (int i = 0; i < 10; i++)
    cf_future_release(q[i]);
  cf_executor_stats s;
  ck_assert_int_eq(cf_executor_stats_get(ex, &s), 0);
  ck_assert_uint_eq(s.cancelled, 10);
  ck_assert_uint_eq(s.completed, 3);
  close_pool();
}
END_TEST

static void map_check(size_t n, size_t chunksize) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  uint64_t *vals = malloc(n * sizeof *vals);
  cf_bytes *items = malloc(n * sizeof *items);
  for (size_t i = 0; i < n; i++) {
    vals[i] = i;
    items[i].data = &vals[i];
    items[i].len = sizeof vals[i];
  }
  cf_map_bytes_options mo;
  cf_map_bytes_options_init(&mo);
  mo.chunksize = chunksize;
  cf_map_bytes *m;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_index, items, n, &mo, &m), 0);
  const void *d;
  size_t len, idx;
  int err;
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &len, &err, &idx), 0);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(idx, i);
    ck_assert_uint_eq(len, 8);
    uint64_t x;
    memcpy(&x, d, 8);
    ck_assert_uint_eq(x, i * 3 + 1);
  }
  ck_assert_int_eq(cf_map_bytes_next(m, &d, &len, &err, &idx), CF_EOF);
  cf_map_bytes_free(m);
  free(items);
  free(vals);
  close_pool();
}

START_TEST(test_map_chunks) {
  map_check(1000, 16);
}
END_TEST

START_TEST(test_map_single_items) {
  map_check(300, 1);
}
END_TEST

START_TEST(test_as_completed_across_ranks) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  enum { N = 30 };
  cf_future *f[N];
  for (int i = 0; i < N; i++) {
    double ms = (i * 7) % 11;
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, &ms, sizeof ms, &f[i]), 0);
  }
  cf_as_completed *it;
  ck_assert_int_eq(cf_as_completed_new(f, N, 60, &it), 0);
  int seen[N] = {0}, ranks = 0;
  for (int k = 0; k < N; k++) {
    cf_future *g;
    ck_assert_int_eq(cf_as_completed_next(it, &g), 0);
    int i = 0;
    while (i < N && f[i] != g)
      i++;
    ck_assert_int_lt(i, N);
    ck_assert_int_eq(seen[i]++, 0);
    ranks |= 1 << rank_of(g);
    cf_future_release(g);
  }
  cf_future *g;
  ck_assert_int_eq(cf_as_completed_next(it, &g), CF_EOF);
  cf_as_completed_free(it);
  ck_assert_msg(__builtin_popcount(ranks) >= 2, "ranks seen: %#x", ranks);
  for (int i = 0; i < N; i++)
    cf_future_release(f[i]);
  close_pool();
}
END_TEST

START_TEST(test_initializer_per_rank) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  int v = 7;
  o.initializer = i_set;
  o.initargs = &v;
  o.initargs_len = sizeof v;
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  ck_assert_int_eq(init_value, -1); /* never on the client */
  for (int i = 0; i < 30; i++) {
    cf_future *f, *g;
    ck_assert_int_eq(cf_submit_bytes(ex, t_init_value, NULL, 0, &f), 0);
    double ms = 1;
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, &ms, sizeof ms, &g), 0);
    int r = rank_of(f); /* the initializer's value: rank * 10 + 7 */
    ck_assert_int_eq(r % 10, 7);
    ck_assert(r / 10 >= 1 && r / 10 <= 3);
    cf_future_release(f);
    cf_future_release(g);
  }
  close_pool();
}
END_TEST

START_TEST(test_initializer_fails_on_one_rank) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.initializer = i_fail_on_2;
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  /* Tasks may finish on ranks 1 and 3 before rank 2's report arrives;
   * once it has, the pool is broken and says why. */
  int rc = 0;
  for (int i = 0; i < 20000 && rc == 0; i++) {
    cf_future *f;
    rc = cf_submit_bytes(ex, t_rank, NULL, 0, &f);
    if (rc == 0) {
      int e = cf_future_error(f, 60);
      ck_assert(e == 0 || e == CF_EBROKEN);
      if (e == CF_EBROKEN) {
        const char *m = cf_future_error_message(f);
        ck_assert_ptr_nonnull(m);
        ck_assert_ptr_nonnull(strstr(m, "rank 2"));
      } else {
        ck_assert_int_ne(rank_of(f), 2);
      }
      cf_future_release(f);
    }
    if (rc == 0 && i % 100 == 99)
      sleep_ms(1);
  }
  ck_assert_int_eq(rc, CF_EBROKEN);
  close_pool();
}
END_TEST

START_TEST(test_ten_thousand_accounted_for) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  enum { N = 10000 };
  cf_future **f = malloc(N * sizeof *f);
  for (uint64_t i = 0; i < N; i++) {
    int rc = cf_submit_bytes(ex, t_index, &i, sizeof i, &f[i]);
    if (rc != 0 && i > 0)
      fprintf(stderr, "%s\n", cf_future_error_message(f[i - 1]));
    ck_assert_int_eq(rc, 0);
  }
  ck_assert_int_eq(cf_wait(f, N, 120, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL),
                   0);
  for (uint64_t i = 0; i < N; i++) {
    const void *d;
    size_t n;
    ck_assert_int_eq(cf_future_bytes(f[i], 0, &d, &n), 0);
    uint64_t x;
    memcpy(&x, d, 8);
    ck_assert_uint_eq(x, i * 3 + 1);
    cf_future_release(f[i]);
  }
  free(f);
  cf_executor_stats s;
  ck_assert_int_eq(cf_executor_stats_get(ex, &s), 0);
  ck_assert_uint_eq(s.submitted, N);
  ck_assert_uint_eq(s.completed, N);
  ck_assert_uint_eq(s.failed + s.cancelled + s.queued + s.running, 0);
  close_pool();
}
END_TEST

static void shutdown_with_work(unsigned flags) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.pipeline_depth = 1;
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  enum { N = 60 };
  cf_future *f[N];
  double ms = 2;
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, &ms, sizeof ms, &f[i]), 0);
  ck_assert_int_eq(cf_shutdown(ex, flags | CF_SHUTDOWN_WAIT), 0);
  int ok = 0, cancelled = 0;
  for (int i = 0; i < N; i++) {
    ck_assert(cf_future_done(f[i])); /* every one ended, in one state */
    int e = cf_future_error(f[i], 0);
    if (e == 0) {
      ok++;
      ck_assert_int_ge(rank_of(f[i]), 1);
    } else {
      ck_assert_int_eq(e, CF_ECANCELED);
      cancelled++;
    }
    cf_future_release(f[i]);
  }
  ck_assert_int_eq(ok + cancelled, N);
  if (flags & CF_SHUTDOWN_CANCEL_FUTURES)
    ck_assert_int_gt(cancelled, 0);
  else
    ck_assert_int_eq(ok, N);
  close_pool();
}

START_TEST(test_shutdown_waits_for_work) {
  shutdown_with_work(0);
}
END_TEST

START_TEST(test_shutdown_cancels_queued) {
  shutdown_with_work(CF_SHUTDOWN_CANCEL_FUTURES);
}
END_TEST

START_TEST(test_fails_on_one_rank_only) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  enum { N = 90 };
  cf_future *f[N];
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_fail_on_2, NULL, 0, &f[i]), 0);
  cf_future *errs[N];
  int codes[N];
  void *res[N];
  /* gather returns every outcome; the rank-2 ones are errors. */
  ck_assert_int_eq(cf_gather(f, N, 60, CF_GATHER_RETURN_ERRORS, res, codes), 0);
  int bad = 0, good = 0;
  for (int i = 0; i < N; i++) {
    if (codes[i] == 0) {
      ck_assert_int_ne(rank_of(f[i]), 2);
      good++;
    } else {
      ck_assert_int_eq(codes[i], CF_ETASK);
      ck_assert_str_eq(cf_future_error_message(f[i]), "failed on rank 2");
      errs[bad++] = f[i];
    }
  }
  ck_assert_int_gt(bad, 0);
  ck_assert_int_gt(good, 0);
  for (int i = 0; i < N; i++)
    cf_future_release(f[i]);
  (void)errs;
  close_pool();
}
END_TEST

START_TEST(test_large_payloads) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  size_t n = (size_t)8 << 20;
  unsigned char *buf = malloc(n);
  for (size_t i = 0; i < n; i++)
    buf[i] = (unsigned char)(i * 13);
  cf_future *f[4];
  for (int k = 0; k < 4; k++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_big, buf, n, &f[k]), 0);
  for (int k = 0; k < 4; k++) {
    const unsigned char *d;
    size_t len;
    ck_assert_int_eq(cf_future_bytes(f[k], 60, (const void **)&d, &len), 0);
    ck_assert_uint_eq(len, n);
    for (size_t i = 0; i < n; i += 4093)
      ck_assert_uint_eq(d[i], (unsigned char)(buf[i] + 1));
    cf_future_release(f[k]);
  }
  free(buf);
  close_pool();
}
END_TEST

static int free_rc = 1;
static void free_from_callback(cf_future *f, void *ex) {
  free_rc = cf_executor_free(ex);
}

START_TEST(test_callback_cannot_free_its_pool) {
  cf_executor *ex = pool();
  if (ex == NULL)
    return;
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_rank, NULL, 0, &f), 0);
  ck_assert_int_eq(cf_future_on_done(f, free_from_callback, ex), 0);
  ck_assert_int_eq(cf_future_wait(f, 60), 0);
  close_pool(); /* waits for the manager, so the callback has run */
  ck_assert_int_eq(free_rc, CF_EDEADLK);
  cf_future_release(f);
}
END_TEST

/* Four client threads submit at once, with random pauses, and cancel a
 * random third of what they submitted: every future ends in exactly one
 * state, and the pool's counters account for every task. */
struct storm {
  cf_executor *ex;
  unsigned seed;
  int ok, cancelled, bad;
};

static void *storm_thread(void *arg) {
  struct storm *st = arg;
  enum { N = 600 };
  cf_future **f = malloc(N * sizeof *f);
  for (uint64_t i = 0; i < N; i++) {
    if (cf_submit_bytes(st->ex, t_index, &i, sizeof i, &f[i]) != 0) {
      st->bad++;
      f[i] = NULL;
      continue;
    }
    cf_future *victim = f[rand_r(&st->seed) % (i + 1)];
    if (rand_r(&st->seed) % 3 == 0 && victim != NULL)
      cf_future_cancel(victim);
    if (rand_r(&st->seed) % 50 == 0)
      sleep_ms(rand_r(&st->seed) % 3);
  }
  for (uint64_t i = 0; i < N; i++) {
    /* (Check's asserts belong to the test's own thread: count instead.) */
    if (f[i] == NULL || cf_future_wait(f[i], 60) != 0) {
      st->bad++;
      continue;
    }
    int e = cf_future_error(f[i], 0);
    if (e == 0) {
      const void *d;
      size_t n;
      uint64_t x;
      if (cf_future_bytes(f[i], 0, &d, &n) != 0 || n != 8 ||
          (memcpy(&x, d, 8), x != i * 3 + 1) || cf_future_cancelled(f[i]))
        st->bad++;
      st->ok++;
    } else {
      if (e != CF_ECANCELED || !cf_future_cancelled(f[i]))
        st->bad++;
      st->cancelled++;
    }
    cf_future_release(f[i]);
  }
  free(f);
  return NULL;
}

START_TEST(test_storm_of_submitters) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.pipeline_depth = 2; /* more of each thread's tasks stay cancellable */
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  pthread_t th[4];
  struct storm st[4];
  for (int t = 0; t < 4; t++) {
    st[t] = (struct storm){ex, 1234u + (unsigned)t * 77u, 0, 0, 0};
    pthread_create(&th[t], NULL, storm_thread, &st[t]);
  }
  int ok = 0, cancelled = 0;
  for (int t = 0; t < 4; t++) {
    pthread_join(th[t], NULL);
    ok += st[t].ok;
    cancelled += st[t].cancelled;
    ck_assert_int_eq(st[t].bad, 0);
  }
  ck_assert_int_gt(cancelled, 0);
  ck_assert_int_eq(ok + cancelled, 4 * 600);
  cf_executor_stats s;
  ck_assert_int_eq(cf_executor_stats_get(ex, &s), 0);
  ck_assert_uint_eq(s.submitted, 4 * 600);
  ck_assert_uint_eq(s.completed, (uint64_t)ok);
  ck_assert_uint_eq(s.cancelled, (uint64_t)cancelled);
  close_pool();
}
END_TEST

/* Small tasks queued for one rank travel together in one message, large
 * ones alone: a mix, submitted faster than the rank runs them, must come
 * back whole and in the rank's order (else the pool breaks). */
START_TEST(test_batched_and_single_sends_keep_order) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.max_workers = 1;
  o.pipeline_depth = 16;
  cf_executor *ex = pool_with(&o);
  if (ex == NULL)
    return;
  enum { N = 300 };
  static unsigned char in[N][3 * 4096];
  static const size_t sizes[] = {64, 1, 3 * 4096, 200, 4096, 4097, 0, 900};
  cf_future *f[N];
  for (int i = 0; i < N; i++) {
    size_t n = sizes[i % 8];
    memset(in[i], i & 0xff, n);
    ck_assert_int_eq(cf_submit_bytes(ex, t_big, in[i], n, &f[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    const unsigned char *d;
    size_t n;
    ck_assert_int_eq(cf_future_bytes(f[i], 60, (const void **)&d, &n), 0);
    ck_assert_uint_eq(n, sizes[i % 8]);
    for (size_t k = 0; k < n; k++)
      ck_assert_uint_eq(d[k], (unsigned char)((i & 0xff) + 1));
    cf_future_release(f[i]);
  }
  close_pool();
}
END_TEST

/* Any rank may be the client: here the last one. */
START_TEST(test_other_root) {
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.root = 3;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), 0);
  ck_assert((ex != NULL) == (world_rank() == 3));
  if (ex == NULL)
    return;
  cur = ex;
  int seen = 0;
  for (int i = 0; i < 30; i++) {
    cf_future *f;
    double ms = 1;
    ck_assert_int_eq(cf_submit_bytes(ex, t_rank, &ms, sizeof ms, &f), 0);
    int r = rank_of(f);
    ck_assert(r >= 0 && r <= 2);
    seen |= 1 << r;
    cf_future_release(f);
  }
  ck_assert_int_ne(seen, 0);
  close_pool();
}
END_TEST

/* Two pools at once, on the two halves of the job: {0, 1} and {2, 3}.
 * Each half's first rank is its client; each pool's tasks run only on
 * its own half. */
START_TEST(test_two_pools_on_split_communicators) {
  int me = world_rank();
  MPI_Comm half;
  ck_assert_int_eq(MPI_Comm_split(MPI_COMM_WORLD, me / 2, me, &half),
                   MPI_SUCCESS);
  cf_mpi_pool_options o;
  cf_mpi_pool_options_init(&o);
  o.comm = half;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_mpi_pool_new(&o, &ex), 0);
  ck_assert((ex != NULL) == (me % 2 == 0));
  if (ex != NULL) {
    cur = ex;
    for (int i = 0; i < 50; i++) {
      cf_future *f;
      ck_assert_int_eq(cf_submit_bytes(ex, t_rank, NULL, 0, &f), 0);
      ck_assert_int_eq(rank_of(f), me + 1);
      cf_future_release(f);
    }
    close_pool();
  }
  MPI_Comm_free(&half);
}
END_TEST

static Suite *mpi_suite(void) {
  Suite *s = suite_create("mpi_pool");
  TCase *tc = tcase_create("mpi");
  tcase_add_checked_fixture(tc, NULL, teardown);
  tcase_add_test(tc, test_results);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_bad_options);
  tcase_add_test(tc, test_idle_ranks_first);
  tcase_add_test(tc, test_max_workers);
  tcase_add_test(tc, test_cancel_pending);
  tcase_add_test(tc, test_map_chunks);
  tcase_add_test(tc, test_map_single_items);
  tcase_add_test(tc, test_as_completed_across_ranks);
  tcase_add_test(tc, test_initializer_per_rank);
  tcase_add_test(tc, test_initializer_fails_on_one_rank);
  tcase_add_test(tc, test_ten_thousand_accounted_for);
  tcase_add_test(tc, test_shutdown_waits_for_work);
  tcase_add_test(tc, test_shutdown_cancels_queued);
  tcase_add_test(tc, test_fails_on_one_rank_only);
  tcase_add_test(tc, test_large_payloads);
  tcase_add_test(tc, test_callback_cannot_free_its_pool);
  tcase_add_test(tc, test_storm_of_submitters);
  tcase_add_test(tc, test_batched_and_single_sends_keep_order);
  tcase_add_test(tc, test_other_root);
  tcase_add_test(tc, test_two_pools_on_split_communicators);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  int provided;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
  if (provided < MPI_THREAD_MULTIPLE) {
    fprintf(stderr, "MPI lacks MPI_THREAD_MULTIPLE\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != 4) {
    fprintf(stderr, "run with mpirun -n 4\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  SRunner *sr = srunner_create(mpi_suite());
  srunner_set_fork_status(sr, CK_NOFORK);
  /* Rank 0's report is printed; the others' would mostly repeat it (a
   * failure on another rank still fails the job: its exit status). */
  srunner_run_all(sr, world_rank() == 0 ? CK_NORMAL : CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  if (failed > 0 && world_rank() != 0) {
    TestResult **tr = srunner_failures(sr);
    for (int i = 0; i < failed; i++)
      fprintf(stderr, "rank %d: %s:%d: %s\n", world_rank(), tr_lfile(tr[i]),
              tr_lno(tr[i]), tr_msg(tr[i]));
    free(tr);
  }
  srunner_free(sr);
  MPI_Finalize();
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
