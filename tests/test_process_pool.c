/* SPDX-License-Identifier: MIT */
/* The process pool: real worker processes, real signals. */
#include "harness.h"

#include <cfutures/process_pool.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tasks ------------------------------------------------------------------- */

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

/* Throws the buffer it was given away and builds the result in a new one. */
static int t_swap(const void *in, size_t len, cf_buffer *out) {
  cf_buffer_append(out, "junk", 4);
  cf_buffer_free(out);
  for (size_t i = 0; i < len; i += 1000) {
    int rc = cf_buffer_append(out, (const char *)in + i,
                              len - i < 1000 ? len - i : 1000);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int t_pid(const void *in, size_t len, cf_buffer *out) {
  pid_t pid = getpid();
  return cf_buffer_append(out, &pid, sizeof pid);
}

static int t_sleep(const void *in, size_t len, cf_buffer *out) {
  double ms = 0;
  if (len == sizeof ms)
    memcpy(&ms, in, sizeof ms);
  cf_test_sleep_ms(ms);
  pid_t pid = getpid();
  return cf_buffer_append(out, &pid, sizeof pid);
}

static int t_fail(const void *in, size_t len, cf_buffer *out) {
  cf_buffer_append(out, "ignored", 7);
  cf_task_set_message("it went wrong");
  return CF_ETASK;
}

static int t_positive(const void *in, size_t len, cf_buffer *out) {
  return 7;
}

static int t_segv(const void *in, size_t len, cf_buffer *out) {
  raise(SIGSEGV);
  return 0;
}

static int t_exit3(const void *in, size_t len, cf_buffer *out) {
  _exit(3);
}

static int t_abort(const void *in, size_t len, cf_buffer *out) {
  abort();
}

static int t_spin(const void *in, size_t len, cf_buffer *out) {
  for (int i = 0; i >= 0; i = i < 1000000 ? i + 1 : 0)
    cf_test_sleep_ms(1);
  return 0;
}

static int t_big(const void *in, size_t len, cf_buffer *out) {
  size_t n;
  memcpy(&n, in, sizeof n);
  int rc = cf_buffer_reserve(out, n);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    out->data[i] = (unsigned char)(i * 7 + 1);
  out->len = n;
  return 0;
}

static int t_sum(const void *in, size_t len, cf_buffer *out) {
  uint64_t s = 0;
  const unsigned char *p = in;
  for (size_t i = 0; i < len; i++)
    s += p[i];
  return cf_buffer_append(out, &s, sizeof s);
}

/* Closes every socket it can see: its worker's channel to the pool. */
static int t_close_channel(const void *in, size_t len, cf_buffer *out) {
  for (int fd = 3; fd < 1024; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
      close(fd);
  }
  return cf_buffer_append(out, "x", 1);
}

static char *leaked;
static int t_leak(const void *in, size_t len, cf_buffer *out) {
  size_t n = 8u << 20;
  char *p = malloc(n);
  if (p == NULL)
    return CF_ENOMEM;
  memset(p, 1, n); /* touched, so it is resident; never freed */
  /* Kept where the compiler must assume it is used. */
  *(char **)(void *)p = leaked;
  leaked = p;
  pid_t pid = getpid();
  return cf_buffer_append(out, &pid, sizeof pid);
}

/* Crashes until the file named by the input holds two bytes. */
static int t_flaky(const void *in, size_t len, cf_buffer *out) {
  char path[256];
  memcpy(path, in, len < 255 ? len : 255);
  path[len < 255 ? len : 255] = 0;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    return CF_ETASK;
  if (st.st_size < 2) {
    if (write(fd, "x", 1) != 1)
      return CF_ETASK;
    close(fd);
    raise(SIGKILL);
  }
  close(fd);
  return 0;
}

static int init_ok_flag;
static int i_set(const void *arg, size_t len) {
  memcpy(&init_ok_flag, arg, sizeof init_ok_flag);
  return 0;
}
static int t_flag(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, &init_ok_flag, sizeof init_ok_flag);
}
static int i_fail(const void *arg, size_t len) {
  return CF_EINVAL;
}
static int i_crash(const void *arg, size_t len) {
  abort();
}

/* Helpers ----------------------------------------------------------------- */

static cf_executor *pool_of(int workers) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  return ex;
}

static pid_t pid_result(cf_future *f) {
  const void *d;
  size_t n;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &n), 0);
  ck_assert_uint_eq(n, sizeof(pid_t));
  pid_t pid;
  memcpy(&pid, d, sizeof pid);
  return pid;
}

static void expect_error(cf_future *f, int err, const char *needle) {
  ck_assert_int_eq(cf_future_error(f, 30), err);
  if (needle != NULL) {
    const char *m = cf_future_error_message(f);
    ck_assert_msg(m != NULL && strstr(m, needle) != NULL,
                  "message '%s' lacks '%s'", m ? m : "(null)", needle);
  }
}

static int zombies_none(void) {
  /* The test process has no children of its own here: any child left is a
   * leak (a zombie or a live one). */
  errno = 0;
  pid_t r = waitpid(-1, NULL, WNOHANG);
  return r == -1 && errno == ECHILD;
}

/* Basics ------------------------------------------------------------------ */

START_TEST(test_echo_and_empty) {
  cf_executor *ex = pool_of(2);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "hello", 5, &f), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, NULL, 0, &g), 0);
  const void *d;
  size_t n;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &n), 0);
  ck_assert_uint_eq(n, 5);
  ck_assert(memcmp(d, "hello", 5) == 0);
  ck_assert_int_eq(cf_future_bytes(g, 30, &d, &n), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_nonnull(d);
  void *v;
  ck_assert_int_eq(cf_future_result(f, 0, &v), 0);
  const cf_buffer *b = v;
  ck_assert_uint_eq(b->len, 5);
  ck_assert(memcmp(b->data, "hello", 5) == 0);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_errors_and_messages) {
  cf_executor *ex = pool_of(1);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_fail, "x", 1, &f), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_positive, "x", 1, &g), 0);
  expect_error(f, CF_ETASK, "it went wrong");
  ck_assert_int_eq(cf_future_bytes(f, 0, NULL, NULL), CF_ETASK);
  expect_error(g, CF_ETASK, NULL);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

static int thread_task(void *arg, void **result) {
  return 0;
}

START_TEST(test_invalid_arguments) {
  cf_executor *ex = pool_of(1);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, thread_task, NULL, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(NULL, t_echo, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(ex, NULL, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, NULL, 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_echo, "x", 1, 0, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_new(NULL, NULL), CF_EINVAL);
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 0;
  cf_executor *bad = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &bad), CF_EINVAL);
  cf_process_pool_options_init(&o);
  o.task_timeout = 0;
  ck_assert_int_eq(cf_process_pool_new(&o, &bad), CF_EINVAL);
  ck_assert_ptr_null(bad);
  ck_assert_int_eq(cf_process_pool_terminate(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_pids(NULL, NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(ex, 3), CF_ENOSYS);
  /* A thread-pool future is not a byte future. */
  cf_future *plain;
  ck_assert_int_eq(cf_future_new(&plain), 0);
  ck_assert_int_eq(cf_future_bytes(plain, 0, NULL, NULL), CF_EINVAL);
  cf_future_release(plain);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), CF_ESHUTDOWN);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_too_big) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.max_payload = 1000;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  static char buf[1001];
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, buf, 1001, &f), CF_ETOOBIG);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, buf, 1000, &f), 0);
  const void *d;
  size_t n;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &n), 0);
  ck_assert_uint_eq(n, 1000);
  cf_future_release(f);
  size_t want = 1001;
  ck_assert_int_eq(cf_submit_bytes(ex, t_big, &want, sizeof want, &f), 0);
  expect_error(f, CF_ETOOBIG, "max_payload");
  cf_future_release(f);
  /* The worker survived: it only refused to send it. */
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "ok", 2, &f), 0);
  ck_assert_int_eq(cf_future_bytes(f, 30, NULL, &n), 0);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_shared_memory_payloads) {
  cf_executor *ex = pool_of(2);
  size_t n = (1u << 20) + 123;
  unsigned char *in = malloc(n);
  for (size_t i = 0; i < n; i++)
    in[i] = (unsigned char)(i * 31);
  cf_future *fs[8];
  for (int i = 0; i < 8; i++)
    ck_assert_int_eq(
        cf_submit_bytes(ex, i % 3 == 2 ? t_swap : t_echo, in, n, &fs[i]), 0);
  for (int i = 0; i < 8; i++) {
    const void *d;
    size_t m;
    ck_assert_int_eq(cf_future_bytes(fs[i], 30, &d, &m), 0);
    ck_assert_uint_eq(m, n);
    ck_assert(memcmp(d, in, n) == 0);
    cf_future_release(fs[i]);
  }
  free(in);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_result_100mib) {
  cf_executor *ex = pool_of(1);
  size_t n = 100u << 20;
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_big, &n, sizeof n, &f), 0);
  const unsigned char *d;
  size_t m;
  ck_assert_int_eq(cf_future_bytes(f, 60, (const void **)&d, &m), 0);
  ck_assert_uint_eq(m, n);
  for (size_t i = 0; i < n; i += 4093)
    ck_assert_uint_eq(d[i], (unsigned char)(i * 7 + 1));
  ck_assert_uint_eq(d[n - 1], (unsigned char)((n - 1) * 7 + 1));
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_ten_thousand) {
  cf_executor *ex = pool_of(2);
  enum { N = 10000 };
  cf_future **fs = malloc(N * sizeof *fs);
  for (uint32_t i = 0; i < N; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, sizeof i, &fs[i]), 0);
  for (uint32_t i = 0; i < N; i++) {
    const void *d;
    size_t n;
    ck_assert_int_eq(cf_future_bytes(fs[i], 60, &d, &n), 0);
    uint32_t v;
    ck_assert_uint_eq(n, sizeof v);
    memcpy(&v, d, sizeof v);
    ck_assert_uint_eq(v, i);
    cf_future_release(fs[i]);
  }
  free(fs);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.submitted, N);
  ck_assert_uint_eq(st.completed, N);
  ck_assert_uint_eq(st.failed + st.cancelled, 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_initializer) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  int v = 42;
  o.initializer = i_set;
  o.initargs = &v;
  o.initargs_len = sizeof v;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  v = 0; /* copied at creation */
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_flag, NULL, 0, &f), 0);
  const void *d;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, NULL), 0);
  int got;
  memcpy(&got, d, sizeof got);
  ck_assert_int_eq(got, 42);
  ck_assert_int_eq(init_ok_flag, 0); /* it ran in the worker only */
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

static void broken_with(cf_bytes_init_fn init) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.initializer = init;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  cf_future *fs[10];
  int accepted = 0;
  for (int i = 0; i < 10; i++)
    if (cf_submit_bytes(ex, t_echo, "x", 1, &fs[accepted]) == 0)
      accepted++;
  for (int i = 0; i < accepted; i++) {
    expect_error(fs[i], CF_EBROKEN, "initializer");
    cf_future_release(fs[i]);
  }
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), CF_EBROKEN);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}

START_TEST(test_initializer_fails) {
  broken_with(i_fail);
}
END_TEST

START_TEST(test_initializer_crashes) {
  broken_with(i_crash);
}
END_TEST

/* Workers that die -------------------------------------------------------- */

START_TEST(test_sigkill_mid_task) {
  cf_executor *ex = pool_of(1);
  double ms = 20000;
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &f), 0);
  /* Wait until it runs, then kill its worker from outside. */
  int pid = 0;
  for (int i = 0; i < 5000 && !cf_future_running(f); i++)
    cf_test_sleep_ms(1);
  for (int i = 0; i < 5000 && cf_process_pool_pids(ex, &pid, 1) < 1; i++)
    cf_test_sleep_ms(1);
  cf_test_sleep_ms(50);
  ck_assert_int_eq(kill(pid, SIGKILL), 0);
  expect_error(f, CF_EWORKER, "SIGKILL");
  ck_assert_msg(strstr(cf_future_error_message(f), "peak RSS") != NULL, "%s",
                cf_future_error_message(f));
  cf_future_release(f);
  cf_future *fs[100];
  for (uint32_t i = 0; i < 100; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, sizeof i, &fs[i]), 0);
  for (int i = 0; i < 100; i++) {
    ck_assert_int_eq(cf_future_bytes(fs[i], 30, NULL, NULL), 0);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

/* A worker whose task closed its channel does not read as a clean exit. */
START_TEST(test_task_closes_its_channel) {
  cf_executor *ex = pool_of(1);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_close_channel, NULL, 0, &f), 0);
  expect_error(f, CF_EWORKER, "lost its channel to the pool");
  ck_assert_msg(strstr(cf_future_error_message(f), "status") != NULL, "%s",
                cf_future_error_message(f));
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "y", 1, &g), 0);
  ck_assert_int_eq(cf_future_bytes(g, 30, NULL, NULL), 0);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_crashes_fail_only_their_task) {
  cf_executor *ex = pool_of(2);
  cf_future *segv, *ex3, *abrt, *ok[20];
  for (uint32_t i = 0; i < 10; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, 4, &ok[i]), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_segv, NULL, 0, &segv), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_exit3, NULL, 0, &ex3), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_abort, NULL, 0, &abrt), 0);
  for (uint32_t i = 10; i < 20; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, 4, &ok[i]), 0);
  expect_error(segv, CF_EWORKER, "SIGSEGV");
  expect_error(ex3, CF_EWORKER, "status 3");
  expect_error(abrt, CF_EWORKER, "SIGABRT");
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(cf_future_bytes(ok[i], 30, NULL, NULL), 0);
    cf_future_release(ok[i]);
  }
  cf_future_release(segv);
  cf_future_release(ex3);
  cf_future_release(abrt);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_crash_retries) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.crash_retries = 2;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  char path[64];
  snprintf(path, sizeof path, "/tmp/cf_flaky_%d", (int)getpid());
  unlink(path);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_flaky, path, strlen(path), &f), 0);
  ck_assert_int_eq(cf_future_error(f, 30), 0); /* third time lucky */
  ck_assert_int_eq(cf_submit_bytes(ex, t_abort, NULL, 0, &g), 0);
  expect_error(g, CF_EWORKER, "SIGABRT"); /* three deaths, then it fails */
  unlink(path);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_timeout_kills_task) {
  cf_executor *ex = pool_of(1);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_spin, NULL, 0, 0.2, &f), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "after", 5, &g), 0);
  expect_error(f, CF_ETIMEDOUT, "timed out");
  ck_assert(cf_future_done(f));
  size_t n;
  ck_assert_int_eq(cf_future_bytes(g, 30, NULL, &n), 0);
  ck_assert_uint_eq(n, 5);
  cf_future_release(f);
  cf_future_release(g);
  /* The pool default applies to plain submits. */
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.task_timeout = 0.1;
  cf_executor *ex2;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex2), 0);
  ck_assert_int_eq(cf_submit_bytes(ex2, t_spin, NULL, 0, &f), 0);
  expect_error(f, CF_ETIMEDOUT, NULL);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex2), 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_request_cancel_running) {
  cf_executor *ex = pool_of(1);
  cf_future *f, *q, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_spin, NULL, 0, &f), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "q", 1, &q), 0);
  for (int i = 0; i < 5000 && !cf_future_running(f); i++)
    cf_test_sleep_ms(1);
  ck_assert_int_eq(cf_future_request_cancel(f), 0);
  ck_assert_int_eq(cf_future_error(f, 30), CF_ECANCELED);
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(cf_future_error(q, 30), 0); /* went to a new worker */
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "g", 1, &g), 0);
  ck_assert_int_eq(cf_future_error(g, 30), 0);
  cf_future_release(f);
  cf_future_release(q);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_worker_dies_during_large_write) {
  /* The default SIGPIPE action stays: a SIGPIPE would kill this test. */
  signal(SIGPIPE, SIG_DFL);
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  /* Through the socket first; then through shared memory, where the big
   * task sent again after the crash keeps its region (and the region, too
   * big to keep, is replaced between rounds). */
  o.shm_threshold = _i == 0 ? SIZE_MAX : 4096;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  size_t n = 20u << 20;
  unsigned char *big = calloc(1, n);
  big[n - 1] = 5;
  cf_future *a, *b;
  for (int round = 0; round < 3; round++) {
    ck_assert_int_eq(cf_submit_bytes(ex, t_exit3, NULL, 0, &a), 0);
    ck_assert_int_eq(cf_submit_bytes(ex, t_sum, big, n, &b), 0);
    expect_error(a, CF_EWORKER, "status 3");
    const void *d;
    ck_assert_int_eq(cf_future_bytes(b, 60, &d, NULL), 0);
    uint64_t s;
    memcpy(&s, d, sizeof s);
    ck_assert_uint_eq(s, 5);
    cf_future_release(a);
    cf_future_release(b);
  }
  free(big);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Recycling --------------------------------------------------------------- */

START_TEST(test_max_tasks_per_child) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.max_tasks_per_child = 2;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  pid_t pids[7];
  cf_future *fs[7];
  for (int i = 0; i < 7; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_pid, NULL, 0, &fs[i]), 0);
  for (int i = 0; i < 7; i++) {
    pids[i] = pid_result(fs[i]);
    cf_future_release(fs[i]);
  }
  for (int i = 0; i < 7; i += 2) {
    if (i + 1 < 7)
      ck_assert_int_eq(pids[i], pids[i + 1]);
    if (i >= 2)
      ck_assert_int_ne(pids[i], pids[i - 1]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_memory_limit) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.max_worker_rss = 48u << 20;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  pid_t first = 0;
  int changes = 0;
  for (int i = 0; i < 16; i++) {
    cf_future *f;
    ck_assert_int_eq(cf_submit_bytes(ex, t_leak, NULL, 0, &f), 0);
    pid_t p = pid_result(f);
    if (first != 0 && p != first)
      changes++;
    first = p;
    cf_future_release(f);
  }
  ck_assert_int_ge(changes, 1);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Sent ahead ------------------------------------------------------------- */

/* Tasks written ahead to a busy worker have not begun: PENDING, not
 * running, no start time, counted as queued, cancellable; the worker skips
 * the cancelled ones and answers the rest in order. */
START_TEST(test_sent_ahead_is_pending) {
  cf_executor *ex = pool_of(1);
  double ms = 300;
  cf_future *first, *fs[10];
  ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &first), 0);
  for (int i = 0; i < 5000 && !cf_future_running(first); i++)
    cf_test_sleep_ms(1);
  ck_assert(cf_future_running(first));
  for (uint32_t i = 0; i < 10; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, sizeof i, &fs[i]), 0);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.running, 1);
  ck_assert_uint_eq(st.queued, 10);
  for (int i = 0; i < 10; i++) {
    cf_future_times t;
    ck_assert_int_eq(cf_future_state(fs[i]), CF_PENDING);
    ck_assert(!cf_future_running(fs[i]));
    ck_assert_int_eq(cf_future_times_get(fs[i], &t), 0);
    ck_assert_uint_eq(t.started_ns, 0);
  }
  ck_assert(cf_future_cancel(fs[0]));
  ck_assert(cf_future_cancel(fs[5]));
  ck_assert(cf_future_cancel(fs[9]));
  ck_assert_int_eq(cf_future_error(fs[5], 0), CF_ECANCELED);
  cf_future_times t0, t1;
  ck_assert_int_eq(cf_future_error(first, 30), 0);
  ck_assert_int_eq(cf_future_times_get(first, &t0), 0);
  for (uint32_t i = 0; i < 10; i++) {
    if (i == 0 || i == 5 || i == 9) {
      ck_assert(cf_future_cancelled(fs[i]));
      continue;
    }
    const void *d;
    size_t n;
    ck_assert_int_eq(cf_future_bytes(fs[i], 30, &d, &n), 0);
    ck_assert_uint_eq(n, sizeof i);
    ck_assert_int_eq(memcmp(d, &i, sizeof i), 0);
    /* It began when its worker got to it, after the sleep. */
    ck_assert_int_eq(cf_future_times_get(fs[i], &t1), 0);
    ck_assert_uint_ge(t1.started_ns, t0.started_ns + 300000000u);
    ck_assert_uint_le(t1.started_ns, t1.finished_ns);
  }
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.cancelled, 3);
  ck_assert_uint_eq(st.completed, 8);
  ck_assert_uint_eq(st.queued, 0);
  for (int i = 0; i < 10; i++)
    cf_future_release(fs[i]);
  cf_future_release(first);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* A cancel racing the worker's start: each task is cancelled or runs,
 * exactly once, and the results that follow still match their tasks. */
START_TEST(test_cancel_races_begin) {
  cf_executor *ex = pool_of(1);
  int rounds = (int)cf_test_stress_count(400), won = 0;
  for (uint32_t r = 0; r < (uint32_t)rounds; r++) {
    cf_future *a, *b, *c;
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &r, sizeof r, &a), 0);
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "b", 1, &b), 0);
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "c", 1, &c), 0);
    if (r % 3 == 1)
      cf_test_sleep_ms(0.05);
    bool cancelled = cf_future_cancel(b);
    won += cancelled;
    const void *d;
    size_t n;
    int rc = cf_future_bytes(b, 30, &d, &n);
    if (cancelled) {
      ck_assert_int_eq(rc, CF_ECANCELED);
      ck_assert(cf_future_cancelled(b));
    } else {
      ck_assert_int_eq(rc, 0);
      ck_assert(n == 1 && memcmp(d, "b", 1) == 0);
    }
    ck_assert_int_eq(cf_future_bytes(a, 30, &d, &n), 0);
    ck_assert(n == sizeof r && memcmp(d, &r, sizeof r) == 0);
    ck_assert_int_eq(cf_future_bytes(c, 30, &d, &n), 0);
    ck_assert(n == 1 && memcmp(d, "c", 1) == 0);
    cf_future_release(a);
    cf_future_release(b);
    cf_future_release(c);
  }
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.cancelled, (uint64_t)won);
  ck_assert_uint_eq(st.completed + st.cancelled, 3 * (uint64_t)rounds);
  fprintf(stderr, "cancel races begin: %d of %d cancelled\n", won, rounds);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Shutdown ---------------------------------------------------------------- */

START_TEST(test_shutdown_cancel_futures) {
  cf_executor *ex = pool_of(1);
  double ms = 1000;
  cf_future *first, *fs[50];
  ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &first), 0);
  for (int i = 0; i < 5000 && !cf_future_running(first); i++)
    cf_test_sleep_ms(1);
  for (int i = 0; i < 50; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &fs[i]), 0);
  ck_assert_int_eq(
      cf_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES), 0);
  ck_assert_int_eq(cf_future_error(first, 0), 0);
  /* Sent ahead to the busy worker or not, none had begun. */
  for (int i = 0; i < 50; i++) {
    ck_assert_msg(cf_future_cancelled(fs[i]), "task %d was not cancelled", i);
    cf_future_release(fs[i]);
  }
  cf_future_release(first);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

/* Two busy workers, 48 more tasks mostly sent ahead to them: shutdown
 * with CF_SHUTDOWN_CANCEL_FUTURES cancels every one not begun. */
START_TEST(test_shutdown_cancels_sent_ahead) {
  cf_executor *ex = pool_of(2);
  for (int i = 0; i < 5000 && cf_process_pool_pids(ex, NULL, 0) < 2; i++)
    cf_test_sleep_ms(1);
  double ms = 50;
  cf_future *fs[50];
  for (int i = 0; i < 50; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &fs[i]), 0);
  ck_assert_int_eq(
      cf_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES), 0);
  int cancelled = 0;
  for (int i = 0; i < 50; i++) {
    if (cf_future_cancelled(fs[i]))
      cancelled++;
    else
      ck_assert_int_eq(cf_future_error(fs[i], 0), 0);
    cf_future_release(fs[i]);
  }
  /* Each worker may have begun one or two (one more if it finished its
   * first before the call). */
  ck_assert_int_ge(cancelled, 44);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_shutdown_cancels_queued) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.pipeline_depth = 1;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  double ms = 300;
  cf_future *first, *fs[50];
  ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &first), 0);
  for (int i = 0; i < 5000 && !cf_future_running(first); i++)
    cf_test_sleep_ms(1);
  for (int i = 0; i < 50; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &fs[i]), 0);
  ck_assert(cf_future_cancel(fs[49]));
  ck_assert_int_eq(
      cf_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES), 0);
  ck_assert_int_eq(cf_future_error(first, 0), 0);
  for (int i = 0; i < 50; i++) {
    ck_assert(cf_future_cancelled(fs[i]));
    ck_assert_int_eq(cf_future_error(fs[i], 0), CF_ECANCELED);
    cf_future_release(fs[i]);
  }
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.cancelled, 50);
  ck_assert_uint_eq(st.completed, 1);
  cf_future_release(first);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_shutdown_waits) {
  cf_executor *ex = pool_of(2);
  double ms = 20;
  cf_future *fs[20];
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &fs[i]), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(cf_future_error(fs[i], 0), 0);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_process_pool_pids(ex, NULL, 0), 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_terminate_and_kill) {
  for (int k = 0; k < 2; k++) {
    cf_executor *ex = pool_of(1);
    cf_future *run, *queued;
    ck_assert_int_eq(cf_submit_bytes(ex, t_spin, NULL, 0, &run), 0);
    for (int i = 0; i < 5000 && !cf_future_running(run); i++)
      cf_test_sleep_ms(1);
    cf_test_sleep_ms(20);
    ck_assert_int_eq(cf_submit_bytes(ex, t_spin, NULL, 0, &queued), 0);
    int rc = k == 0 ? cf_process_pool_terminate(ex) : cf_process_pool_kill(ex);
    ck_assert_int_eq(rc, 0);
    expect_error(run, CF_EWORKER, k == 0 ? "SIGTERM" : "SIGKILL");
    ck_assert_int_eq(cf_future_error(queued, 0), CF_ECANCELED);
    cf_future *f;
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), CF_ESHUTDOWN);
    cf_future_release(run);
    cf_future_release(queued);
    ck_assert_int_eq(cf_executor_free(ex), 0);
    ck_assert(zombies_none());
  }
}
END_TEST

START_TEST(test_free_with_work_in_flight) {
  cf_executor *ex = pool_of(2);
  double ms = 5;
  for (int i = 0; i < 40; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, NULL), 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

/* The host process -------------------------------------------------------- */

static atomic_int chld_seen;
static void on_chld(int sig) {
  atomic_fetch_add(&chld_seen, 1);
}

START_TEST(test_host_sigchld_and_child_undisturbed) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);
  pid_t mine = fork();
  ck_assert_int_ge(mine, 0);
  if (mine == 0) {
    cf_test_sleep_ms(300);
    _exit(7);
  }
  cf_executor *ex = pool_of(2);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_abort, NULL, 0, &f), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &g), 0);
  expect_error(f, CF_EWORKER, "SIGABRT");
  ck_assert_int_eq(cf_future_error(g, 30), 0);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  /* Our own child is still ours to reap, with its own status. */
  int st;
  pid_t r;
  while ((r = waitpid(mine, &st, 0)) < 0 && errno == EINTR)
    ;
  ck_assert_int_eq(r, mine);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
  struct sigaction cur;
  sigaction(SIGCHLD, NULL, &cur);
  ck_assert_ptr_eq(cur.sa_handler, on_chld); /* still the host's */
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_host_ignores_sigchld) {
  signal(SIGCHLD, SIG_IGN); /* children reap themselves: ECHILD for us */
  cf_executor *ex = pool_of(1);
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_segv, NULL, 0, &f), 0);
  expect_error(f, CF_EWORKER, "SIGSEGV"); /* the zygote still sees it */
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  signal(SIGCHLD, SIG_DFL);
}
END_TEST

struct locker {
  pthread_mutex_t mu;
  atomic_bool stop;
};

static void *lock_and_malloc(void *arg) {
  struct locker *l = arg;
  while (!atomic_load(&l->stop)) {
    pthread_mutex_lock(&l->mu);
    void *p = malloc(100 + (size_t)(rand() % 5000));
    free(p);
    pthread_mutex_unlock(&l->mu);
  }
  return NULL;
}

START_TEST(test_created_among_busy_threads) {
  struct locker ls[8];
  pthread_t th[8];
  for (int i = 0; i < 8; i++) {
    pthread_mutex_init(&ls[i].mu, NULL);
    atomic_init(&ls[i].stop, false);
    pthread_create(&th[i], NULL, lock_and_malloc, &ls[i]);
  }
  for (int round = 0; round < 10; round++) {
    cf_executor *ex = pool_of(2);
    cf_future *fs[20];
    for (uint32_t i = 0; i < 20; i++)
      ck_assert_int_eq(cf_submit_bytes(ex, t_leak, NULL, 0, &fs[i]), 0);
    for (int i = 0; i < 20; i++) {
      ck_assert_int_eq(cf_future_error(fs[i], 30), 0);
      cf_future_release(fs[i]);
    }
    ck_assert_int_eq(cf_executor_free(ex), 0);
  }
  for (int i = 0; i < 8; i++) {
    atomic_store(&ls[i].stop, true);
    pthread_join(th[i], NULL);
  }
}
END_TEST

START_TEST(test_create_destroy_cycles) {
  int fds = cf_test_count_fds();
  for (int i = 0; i < 200; i++) {
    cf_executor *ex = pool_of(2);
    if (i % 4 == 0) {
      cf_future *f;
      ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), 0);
      ck_assert_int_eq(cf_future_error(f, 30), 0);
      cf_future_release(f);
    }
    ck_assert_int_eq(cf_executor_free(ex), 0);
  }
  ck_assert_int_eq(cf_test_count_fds(), fds);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_descriptors_close_on_exec) {
  cf_executor *ex = pool_of(1);
  cf_future *f;
  size_t big = 1u << 20;
  ck_assert_int_eq(cf_submit_bytes(ex, t_big, &big, sizeof big, &f), 0);
  ck_assert_int_eq(cf_future_error(f, 30), 0);
  cf_future_release(f);
  char path[64];
  for (int fd = 3; fd < 1024; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0)
      continue;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char target[256] = "";
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0)
      target[n] = 0;
    /* Only the kinds the pool opens: Check's own files are not ours. */
    if (strncmp(target, "socket:", 7) != 0 &&
        strncmp(target, "anon_inode:", 11) != 0 &&
        strncmp(target, "/memfd:", 7) != 0)
      continue;
    ck_assert_msg(fl & FD_CLOEXEC, "fd %d (%s) is inheritable", fd, target);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* With the rest of the library ------------------------------------------- */

static atomic_int cb_rc = 1;
static void cb_free_own_pool(cf_future *f, void *ud) {
  cf_executor *ex = ud;
  int a = cf_executor_free(ex);
  int b = cf_shutdown(ex, CF_SHUTDOWN_WAIT);
  atomic_store(&cb_rc, a == CF_EDEADLK && b == CF_EDEADLK ? 0 : -1);
}

START_TEST(test_futures_work_with_wait_and_callbacks) {
  cf_executor *ex = pool_of(2);
  cf_future *fs[10];
  for (uint32_t i = 0; i < 10; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, 4, &fs[i]), 0);
  cf_future *done[10], *not_done[10];
  size_t nd, nn;
  ck_assert_int_eq(
      cf_wait(fs, 10, 30, CF_ALL_COMPLETED, done, &nd, not_done, &nn), 0);
  ck_assert_uint_eq(nd, 10);
  cf_as_completed *it;
  ck_assert_int_eq(cf_as_completed_new(fs, 10, 30, &it), 0);
  cf_future *f;
  int seen = 0;
  while (cf_as_completed_next(it, &f) == 0) {
    seen++;
    cf_future_release(f);
  }
  cf_as_completed_free(it);
  ck_assert_int_eq(seen, 10);
  for (int i = 0; i < 10; i++)
    cf_future_release(fs[i]);
  /* A done callback runs on the pool's manager thread: it may not wait for
   * its own pool. */
  double ms = 50;
  ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &f), 0);
  ck_assert_int_eq(cf_future_on_done(f, cb_free_own_pool, ex), 0);
  ck_assert_int_eq(cf_future_wait(f, 30), 0);
  for (int i = 0; i < 3000 && atomic_load(&cb_rc) == 1; i++)
    cf_test_sleep_ms(1);
  ck_assert_int_eq(atomic_load(&cb_rc), 0);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

static void on_alarm(int sig) {}

START_TEST(test_signal_storm) {
  /* Every blocking call of the pool's threads sees EINTR, often. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &it, NULL);
  cf_executor *ex = pool_of(2);
  size_t big = 300000;
  unsigned char *in = malloc(big);
  memset(in, 9, big);
  cf_future *fs[400];
  for (int i = 0; i < 400; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, in, i % 10 ? 64 : big, &fs[i]),
                     0);
  for (int i = 0; i < 400; i++) {
    size_t n;
    ck_assert_int_eq(cf_future_bytes(fs[i], 60, NULL, &n), 0);
    ck_assert_uint_eq(n, i % 10 ? 64 : big);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  free(in);
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_workers_die_with_their_parent) {
  int pfd[2];
  ck_assert_int_eq(pipe(pfd), 0);
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    close(pfd[0]);
    cf_executor *ex = pool_of(2);
    cf_future *f[2];
    double ms = 60000;
    for (int i = 0; i < 2; i++)
      cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &f[i]);
    int pids[4] = {0};
    for (int i = 0; i < 5000 && cf_process_pool_pids(ex, pids, 4) < 2; i++)
      cf_test_sleep_ms(1);
    cf_test_sleep_ms(50);
    if (write(pfd[1], pids, sizeof pids) != (ssize_t)sizeof pids)
      _exit(1);
    for (;;)
      pause();
  }
  close(pfd[1]);
  int pids[4];
  ck_assert_int_eq(read(pfd[0], pids, sizeof pids), (ssize_t)sizeof pids);
  close(pfd[0]);
  ck_assert_int_gt(pids[0], 0);
  ck_assert_int_gt(pids[1], 0);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  /* Their channel reaches end of file; the zygote kills them and exits. */
  int alive = 2;
  for (int i = 0; i < 2000 && alive > 0; i++) {
    alive = 0;
    for (int k = 0; k < 2; k++)
      alive += kill(pids[k], 0) == 0;
    cf_test_sleep_ms(1);
  }
  ck_assert_int_eq(alive, 0);
}
END_TEST

START_TEST(test_out_of_descriptors) {
  int before = cf_test_count_fds();
  struct rlimit old;
  getrlimit(RLIMIT_NOFILE, &old);
  for (rlim_t extra = 0; extra < 12; extra++) {
    struct rlimit lim = {(rlim_t)before + 3 + extra, old.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    cf_executor *ex = NULL;
    int rc = cf_process_pool_new(NULL, &ex);
    if (rc == 0) {
      /* Created, but maybe without room for a worker: the task then fails
       * with the pool broken, never hangs. */
      cf_future *f;
      if (cf_submit_bytes(ex, t_echo, "x", 1, &f) == 0) {
        rc = cf_future_error(f, 30);
        ck_assert_msg(rc == 0 || rc == CF_EBROKEN, "%s", cf_err_name(rc));
        cf_future_release(f);
      }
      ck_assert_int_eq(cf_executor_free(ex), 0);
    } else {
      ck_assert_int_eq(rc, CF_EMFILE);
    }
    setrlimit(RLIMIT_NOFILE, &old);
    ck_assert_int_eq(cf_test_count_fds(), before);
  }
  ck_assert(zombies_none());
}
END_TEST

START_TEST(test_free_while_a_forked_child_holds_copies) {
  /* The program forks (without exec) after the pool exists: the child
   * holds copies of the pool's descriptors, which must not keep the
   * workers or the zygote alive. */
  cf_executor *ex = pool_of(2);
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), 0);
  ck_assert_int_eq(cf_future_error(f, 30), 0);
  cf_future_release(f);
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    cf_test_sleep_ms(5000);
    _exit(0);
  }
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_msg(cf_now_ns() - t0 < (uint64_t)(cf_test_scale(3) * 1e9),
                "free waited for the unrelated child");
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  ck_assert(zombies_none());
}
END_TEST

struct waiter_arg {
  cf_future *f;
  int rc;
};

static void *bytes_waiter(void *arg) {
  struct waiter_arg *a = arg;
  size_t n;
  a->rc = cf_future_bytes(a->f, 30, NULL, &n);
  return NULL;
}

START_TEST(test_bytes_wait_paths) {
  cf_executor *ex = pool_of(1);
  cf_future *f, *g;
  /* The wait's own deadline passes first: the task goes on. */
  double ms = 300;
  ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &f), 0);
  ck_assert_int_eq(cf_future_bytes(f, 0.05, NULL, NULL), CF_ETIMEDOUT);
  ck_assert(!cf_future_done(f));
  ck_assert_int_eq(cf_future_bytes(f, 0, NULL, NULL), CF_ETIMEDOUT);
  ck_assert_int_eq(cf_future_bytes(f, NAN, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_bytes(f, 30, NULL, NULL), 0);
  cf_future_release(f);
  /* The worker is killed under a waiting reader (the task's timeout). */
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_spin, NULL, 0, 0.1, &f), 0);
  ck_assert_int_eq(cf_future_bytes(f, 30, NULL, NULL), CF_ETIMEDOUT);
  ck_assert(cf_future_done(f));
  cf_future_release(f);
  /* Several threads wait on futures of one worker at once. */
  struct waiter_arg a[6];
  pthread_t th[6];
  for (int i = 0; i < 6; i++) {
    ms = 10;
    ck_assert_int_eq(cf_submit_bytes(ex, t_sleep, &ms, sizeof ms, &a[i].f), 0);
    pthread_create(&th[i], NULL, bytes_waiter, &a[i]);
  }
  ck_assert_int_eq(cf_submit_bytes(ex, t_abort, NULL, 0, &g), 0);
  for (int i = 0; i < 6; i++) {
    pthread_join(th[i], NULL);
    ck_assert_int_eq(a[i].rc, 0);
    cf_future_release(a[i].f);
  }
  ck_assert_int_eq(cf_future_bytes(g, 30, NULL, NULL), CF_EWORKER);
  cf_future_release(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* The wire --------------------------------------------------------------- */

#include "wire.h"

#include <sys/socket.h>

static void hdr_bytes(unsigned char *b, uint32_t magic, uint8_t op,
                      uint64_t len) {
  struct cf__wire_hdr h = {.magic = magic,
                           .version = CF__WIRE_VERSION,
                           .op = op,
                           .id = 1,
                           .len = len};
  cf__wire_encode(b, &h);
}

START_TEST(test_wire_decoder) {
  unsigned char b[CF__WIRE_HDR_SIZE + 16] = {0};
  struct cf__wire_hdr h;
  const void *msg, *pl;
  size_t flen;
  hdr_bytes(b, CF__WIRE_MAGIC, CF__OP_RESULT, 16);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen), 0);
  ck_assert_uint_eq(flen, sizeof b);
  ck_assert_ptr_eq(pl, b + CF__WIRE_HDR_SIZE);
  ck_assert_ptr_null(msg);
  /* Truncated: header, then payload. */
  ck_assert_int_eq(cf__wire_decode(b, 10, 1000, &h, &msg, &pl, &flen),
                   CF_EAGAIN);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b - 1, 1000, &h, &msg, &pl, &flen),
                   CF_EAGAIN);
  ck_assert_uint_eq(flen, sizeof b);
  /* Over the limit, checked before anything is read or allocated. */
  hdr_bytes(b, CF__WIRE_MAGIC, CF__OP_RESULT, UINT64_C(1) << 63);
  ck_assert_int_eq(
      cf__wire_decode(b, CF__WIRE_HDR_SIZE, 1000, &h, &msg, &pl, &flen),
      CF_ETOOBIG);
  hdr_bytes(b, 0x12345678, CF__OP_RESULT, 0);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  hdr_bytes(b, CF__WIRE_MAGIC, 99, 0);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  hdr_bytes(b, CF__WIRE_MAGIC, CF__OP_RESULT, 0);
  b[4] = CF__WIRE_VERSION + 1;
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  /* A TASK without a function, a shared payload outside its region. */
  hdr_bytes(b, CF__WIRE_MAGIC, CF__OP_TASK, 0);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  struct cf__wire_hdr bad = {.magic = CF__WIRE_MAGIC,
                             .version = CF__WIRE_VERSION,
                             .op = CF__OP_RESULT,
                             .flags = CF__WF_SHM,
                             .len = 100,
                             .region = 128};
  cf__wire_encode(b, &bad);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  /* MARKS brings its descriptor; SKIPPED answers carry nothing. */
  struct cf__wire_hdr marks = {.magic = CF__WIRE_MAGIC,
                               .version = CF__WIRE_VERSION,
                               .op = CF__OP_MARKS,
                               .flags = CF__WF_SHM | CF__WF_NEWFD,
                               .aux = 4096,
                               .region = 4096};
  cf__wire_encode(b, &marks);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen), 0);
  marks.flags = CF__WF_SHM;
  cf__wire_encode(b, &marks);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  struct cf__wire_hdr skipped = {.magic = CF__WIRE_MAGIC,
                                 .version = CF__WIRE_VERSION,
                                 .op = CF__OP_RESULT,
                                 .flags = CF__WF_SKIPPED};
  cf__wire_encode(b, &skipped);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen), 0);
  skipped.len = 1;
  cf__wire_encode(b, &skipped);
  ck_assert_int_eq(cf__wire_decode(b, sizeof b, 1000, &h, &msg, &pl, &flen),
                   CF_EPROTO);
  /* Every prefix of random bytes: never a crash, never success by luck of a
   * short read. */
  unsigned char r[256];
  for (int round = 0; round < 2000; round++) {
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (unsigned char)rand();
    if (round % 2)
      memcpy(r, b, 8); /* a plausible start */
    size_t n = (size_t)rand() % sizeof r;
    int rc = cf__wire_decode(r, n, 1u << 20, &h, &msg, &pl, &flen);
    ck_assert(rc == 0 || rc == CF_EAGAIN || rc == CF_EPROTO ||
              rc == CF_ETOOBIG);
    if (rc == 0)
      ck_assert_uint_le(flen, n);
  }
}
END_TEST

/* Writes a bad frame, as if the worker's memory were corrupted, onto the
 * worker's own socket: the pool must fail the task, not itself. */
static int t_garbage(const void *in, size_t len, cf_buffer *out) {
  unsigned char b[CF__WIRE_HDR_SIZE];
  int kind;
  memcpy(&kind, in, sizeof kind);
  if (kind == 0)
    memset(b, 0x5a, sizeof b);
  else
    hdr_bytes(b, CF__WIRE_MAGIC, CF__OP_RESULT, UINT64_C(1) << 62);
  for (int fd = 3; fd < 256; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
      send(fd, b, kind == 2 ? 20 : sizeof b, MSG_NOSIGNAL);
  }
  if (kind == 2)
    _exit(0); /* a truncated frame, then end of file */
  cf_test_sleep_ms(100);
  return 0;
}

START_TEST(test_malformed_frames_fail_the_worker) {
  cf_executor *ex = pool_of(1);
  for (int kind = 0; kind < 3; kind++) {
    cf_future *f, *g;
    ck_assert_int_eq(cf_submit_bytes(ex, t_garbage, &kind, sizeof kind, &f), 0);
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "ok", 2, &g), 0);
    int rc = cf_future_error(f, 30);
    ck_assert_msg(rc == CF_EPROTO || (kind == 2 && rc == CF_EWORKER),
                  "kind %d: %s", kind, cf_err_name(rc));
    ck_assert_int_eq(cf_future_error(g, 30), 0);
    cf_future_release(f);
    cf_future_release(g);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}
END_TEST

/* map --------------------------------------------------------------------- */

static int t_odd_fails(const void *in, size_t len, cf_buffer *out) {
  uint32_t v;
  memcpy(&v, in, sizeof v);
  if (v % 2)
    return CF_ETASK;
  v *= 3;
  return cf_buffer_append(out, &v, sizeof v);
}

START_TEST(test_map_bytes_in_order) {
  cf_executor *ex = pool_of(2);
  enum { N = 1000 };
  static uint32_t vals[N];
  static cf_bytes items[N];
  for (uint32_t i = 0; i < N; i++) {
    vals[i] = i;
    items[i].data = &vals[i];
    items[i].len = sizeof vals[i];
  }
  size_t chunks[] = {1, 7, 1000, 5000};
  for (size_t k = 0; k < 4; k++) {
    cf_map_bytes_options o;
    cf_map_bytes_options_init(&o);
    o.chunksize = chunks[k];
    cf_map_bytes *m;
    ck_assert_int_eq(cf_map_bytes_new(ex, t_odd_fails, items, N, &o, &m), 0);
    for (uint32_t i = 0; i < N; i++) {
      const void *d;
      size_t n, idx;
      int rc;
      ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &rc, &idx), 0);
      ck_assert_uint_eq(idx, i);
      if (i % 2) {
        ck_assert_int_eq(rc, CF_ETASK);
        continue;
      }
      ck_assert_int_eq(rc, 0);
      ck_assert_uint_eq(n, 4);
      uint32_t v;
      memcpy(&v, d, 4);
      ck_assert_uint_eq(v, i * 3);
    }
    int err;
    ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EOF);
    cf_map_bytes_free(m);
  }
  /* Freed half way: what was not consumed is cancelled or left to run. */
  cf_map_bytes *m;
  int err;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_echo, items, N, NULL, &m), 0);
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), 0);
  ck_assert_int_eq(err, 0);
  cf_map_bytes_free(m);
  ck_assert_int_eq(cf_map_bytes_new(ex, t_echo, NULL, 0, NULL, &m), 0);
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EOF);
  cf_map_bytes_free(m);
  ck_assert_int_eq(cf_map_bytes_new(NULL, t_echo, items, N, NULL, &m),
                   CF_EINVAL);
  ck_assert_int_eq(cf_map_bytes_new(ex, t_echo, NULL, 3, NULL, &m), CF_EINVAL);
  ck_assert_int_eq(cf_map_bytes_next(NULL, NULL, NULL, &err, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_map_bytes_timeout_and_crash) {
  cf_executor *ex = pool_of(1);
  double ms = 2000;
  cf_bytes items[2] = {{&ms, sizeof ms}, {&ms, sizeof ms}};
  cf_map_bytes_options o;
  cf_map_bytes_options_init(&o);
  o.timeout = 0.1;
  cf_map_bytes *m;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_sleep, items, 2, &o, &m), 0);
  int err = 1;
  size_t idx = 99;
  /* The map's deadline: nothing consumed, *err and *index untouched. */
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, &idx), CF_ETIMEDOUT);
  ck_assert_int_eq(err, 1);
  ck_assert_uint_eq(idx, 99);
  ck_assert_int_eq(cf_process_pool_kill(ex), 0);
  /* Once done, the item is given after all, with its own outcome. */
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, &idx), 0);
  ck_assert_int_eq(err, CF_EWORKER);
  ck_assert_uint_eq(idx, 0);
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, &idx), 0);
  ck_assert_int_eq(err, CF_ECANCELED);
  ck_assert_uint_eq(idx, 1);
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EOF);
  cf_map_bytes_free(m);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* A stream of items from a generator that reuses one buffer, on real
 * workers, one item a task and in chunks. */
typedef struct {
  uint32_t next, n, buf;
} u32_stream;

static int u32_next(void *userdata, const void **data, size_t *len) {
  u32_stream *g = userdata;
  if (g->next == g->n)
    return CF_EOF;
  g->buf = g->next++;
  *data = &g->buf;
  *len = sizeof g->buf;
  return 0;
}

START_TEST(test_map_bytes_stream) {
  cf_executor *ex = pool_of(2);
  enum { N = 1000 };
  for (size_t chunk = 1; chunk <= 7; chunk += 6) {
    u32_stream g = {0, N, 0};
    cf_map_bytes_options o;
    cf_map_bytes_options_init(&o);
    o.chunksize = chunk;
    cf_map_bytes *m;
    ck_assert_int_eq(
        cf_map_bytes_new_stream(ex, t_odd_fails, u32_next, &g, &o, &m), 0);
    const void *d;
    size_t n, idx;
    int err, rc;
    uint32_t i = 0;
    while ((rc = cf_map_bytes_next(m, &d, &n, &err, &idx)) == 0) {
      ck_assert_uint_eq(idx, i);
      if (i % 2) {
        ck_assert_int_eq(err, CF_ETASK);
      } else {
        ck_assert_int_eq(err, 0);
        uint32_t v;
        memcpy(&v, d, 4);
        ck_assert_uint_eq(v, i * 3);
      }
      i++;
    }
    ck_assert_int_eq(rc, CF_EOF);
    ck_assert_uint_eq(i, N);
    cf_map_bytes_free(m);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* An item whose task runs past its task timeout is consumed with
 * CF_ETIMEDOUT as its outcome (the call returns 0, *index set); the map's
 * own deadline is a non-zero return that consumes nothing. */
START_TEST(test_map_bytes_task_timeout_is_the_items) {
  cf_process_pool_options po;
  cf_process_pool_options_init(&po);
  po.max_workers = 1;
  po.task_timeout = 0.2;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&po, &ex), 0);
  double slow = 20000, fast = 0;
  cf_bytes items[3] = {
      {&slow, sizeof slow}, {&fast, sizeof fast}, {&slow, sizeof slow}};
  for (size_t chunk = 1; chunk <= 2; chunk++) {
    cf_map_bytes_options o;
    cf_map_bytes_options_init(&o);
    o.chunksize = chunk;
    cf_map_bytes *m;
    ck_assert_int_eq(cf_map_bytes_new(ex, t_sleep, items, 3, &o, &m), 0);
    int err = 1;
    size_t idx = 99;
    const void *d = "x";
    size_t n = 5;
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &err, &idx), 0);
    ck_assert_int_eq(err, CF_ETIMEDOUT);
    ck_assert_uint_eq(idx, 0);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(n, 0);
    /* Chunked, the timeout is the whole chunk's: item 1 shares it. */
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &err, &idx), 0);
    ck_assert_int_eq(err, chunk == 1 ? 0 : CF_ETIMEDOUT);
    ck_assert_uint_eq(idx, 1);
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &err, &idx), 0);
    ck_assert_int_eq(err, CF_ETIMEDOUT);
    ck_assert_uint_eq(idx, 2);
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &err, &idx), CF_EOF);
    cf_map_bytes_free(m);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("pp.t_echo", t_echo)
CF_TASK("pp.t_swap", t_swap)
CF_TASK("pp.t_pid", t_pid)
CF_TASK("pp.t_sleep", t_sleep)
CF_TASK("pp.t_fail", t_fail)
CF_TASK("pp.t_positive", t_positive)
CF_TASK("pp.t_segv", t_segv)
CF_TASK("pp.t_exit3", t_exit3)
CF_TASK("pp.t_abort", t_abort)
CF_TASK("pp.t_spin", t_spin)
CF_TASK("pp.t_big", t_big)
CF_TASK("pp.t_sum", t_sum)
CF_TASK("pp.t_leak", t_leak)
CF_TASK("pp.t_flaky", t_flaky)
CF_TASK("pp.t_flag", t_flag)
CF_TASK("pp.t_garbage", t_garbage)
CF_TASK("pp.t_odd_fails", t_odd_fails)
CF_TASK("pp.t_close_channel", t_close_channel)
CF_INITIALIZER("pp.i_set", i_set)
CF_INITIALIZER("pp.i_fail", i_fail)
CF_INITIALIZER("pp.i_crash", i_crash)

Suite *cf_process_pool_suite(void) {
  Suite *s = suite_create("process_pool");
  TCase *tc = tcase_create("basics");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_echo_and_empty);
  tcase_add_test(tc, test_errors_and_messages);
  tcase_add_test(tc, test_invalid_arguments);
  tcase_add_test(tc, test_too_big);
  tcase_add_test(tc, test_shared_memory_payloads);
  tcase_add_test(tc, test_initializer);
  tcase_add_test(tc, test_initializer_fails);
  tcase_add_test(tc, test_initializer_crashes);
  tcase_add_test(tc, test_descriptors_close_on_exec);
  tcase_add_test(tc, test_map_bytes_in_order);
  tcase_add_test(tc, test_futures_work_with_wait_and_callbacks);
  tcase_add_test(tc, test_bytes_wait_paths);
  tcase_add_test(tc, test_wire_decoder);
  tcase_add_test(tc, test_malformed_frames_fail_the_worker);
  tcase_add_test(tc, test_map_bytes_timeout_and_crash);
  tcase_add_test(tc, test_map_bytes_task_timeout_is_the_items);
  tcase_add_test(tc, test_map_bytes_stream);
  suite_add_tcase(s, tc);

  tc = tcase_create("deaths");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_sigkill_mid_task);
  tcase_add_test(tc, test_task_closes_its_channel);
  tcase_add_test(tc, test_crashes_fail_only_their_task);
  tcase_add_test(tc, test_crash_retries);
  tcase_add_test(tc, test_timeout_kills_task);
  tcase_add_test(tc, test_request_cancel_running);
  tcase_add_loop_test(tc, test_worker_dies_during_large_write, 0, 2);
  tcase_add_test(tc, test_max_tasks_per_child);
  tcase_add_test(tc, test_memory_limit);
  suite_add_tcase(s, tc);

  tc = tcase_create("shutdown");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_shutdown_cancel_futures);
  tcase_add_test(tc, test_shutdown_cancels_sent_ahead);
  tcase_add_test(tc, test_sent_ahead_is_pending);
  tcase_add_test(tc, test_cancel_races_begin);
  tcase_add_test(tc, test_shutdown_cancels_queued);
  tcase_add_test(tc, test_shutdown_waits);
  tcase_add_test(tc, test_terminate_and_kill);
  tcase_add_test(tc, test_free_with_work_in_flight);
  suite_add_tcase(s, tc);

  tc = tcase_create("host");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_host_sigchld_and_child_undisturbed);
  tcase_add_test(tc, test_host_ignores_sigchld);
  tcase_add_test(tc, test_created_among_busy_threads);
  tcase_add_test(tc, test_create_destroy_cycles);
  tcase_add_test(tc, test_signal_storm);
  tcase_add_test(tc, test_out_of_descriptors);
  tcase_add_test(tc, test_free_while_a_forked_child_holds_copies);
  tcase_add_test(tc, test_workers_die_with_their_parent);
  tcase_add_test(tc, test_result_100mib);
  tcase_add_test(tc, test_ten_thousand);
  suite_add_tcase(s, tc);
  return s;
}
