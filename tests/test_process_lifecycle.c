/* SPDX-License-Identifier: MIT */
/* How a process pool's workers are watched, started and stopped, under
 * conditions a host meets: a sandbox without pidfd_open (rows 42), tasks
 * that will not die (39), tasks that leave processes behind (41), worker
 * starts that fail (40), and a host that forks (row 11's neighbour). Real
 * processes, real signals, real limits. */
#include "harness.h"

#include <cfutures/process_pool.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tasks ------------------------------------------------------------------- */

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

static int t_segv(const void *in, size_t len, cf_buffer *out) {
  raise(SIGSEGV);
  return 0;
}

static int t_forever(const void *in, size_t len, cf_buffer *out) {
  for (;;)
    pause();
  return 0;
}

/* Will not die of SIGTERM: it blocks it. */
static int t_block_term(const void *in, size_t len, cf_buffer *out) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  for (;;)
    pause();
  return 0;
}

/* Will not die of SIGTERM: it ignores it. */
static int t_ignore_term(const void *in, size_t len, cf_buffer *out) {
  signal(SIGTERM, SIG_IGN);
  for (;;)
    pause();
  return 0;
}

/* An initializer that never returns. */
static int i_forever(const void *arg, size_t len) {
  for (;;)
    pause();
  return 0;
}

extern char **environ;

/* Starts descendants and appends their pids, one a line, to the file the
 * input names: a shell (the task's child) running two background sleeps,
 * one of them inside a subshell (a great-grandchild of the worker), and a
 * sleep of the task's own. With "return" after the path's NUL the task
 * then returns, leaving them running; else it waits forever. */
static int t_descendants(const void *in, size_t len, cf_buffer *out) {
  const char *path = in;
  char script[512];
  snprintf(script, sizeof script,
           "echo $$ >> '%s'; sleep 300 & echo $! >> '%s'; "
           "(sleep 300 & echo $! >> '%s'; wait) & echo $! >> '%s'; wait",
           path, path, path, path);
  char *sh[] = {"/bin/sh", "-c", script, NULL};
  char *sl[] = {"/bin/sleep", "300", NULL};
  pid_t a, b;
  if (posix_spawn(&a, "/bin/sh", NULL, NULL, sh, environ) != 0 ||
      posix_spawn(&b, "/bin/sleep", NULL, NULL, sl, environ) != 0)
    return CF_ETASK;
  FILE *f = fopen(path, "a");
  if (f == NULL)
    return CF_ETASK;
  fprintf(f, "%d\n", (int)b);
  fclose(f);
  size_t plen = strlen(path);
  if (len > plen + 1 && strcmp((const char *)in + plen + 1, "return") == 0)
    return 0;
  for (;;)
    pause();
  return 0;
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

static void expect_error(cf_future *f, int err, const char *needle) {
  ck_assert_int_eq(cf_future_error(f, 30), err);
  if (needle != NULL) {
    const char *m = cf_future_error_message(f);
    ck_assert_msg(m != NULL && strstr(m, needle) != NULL,
                  "message '%s' lacks '%s'", m ? m : "(null)", needle);
  }
}

static void expect_echo(cf_executor *ex) {
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "abc", 3, &f), 0);
  const void *d;
  size_t n;
  int rc = cf_future_bytes(f, 30, &d, &n);
  ck_assert_msg(rc == 0, "echo failed: %s (%s)", cf_err_name(rc),
                cf_future_error_message(f) ? cf_future_error_message(f) : "");
  ck_assert_uint_eq(n, 3);
  ck_assert_int_eq(memcmp(d, "abc", 3), 0);
  cf_future_release(f);
}

static cf_executor *pool_with(int workers, double grace, double timeout) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  o.kill_grace = grace;
  o.pipeline_depth = 1; /* a task sent to a worker is a task it runs */
  if (timeout > 0)
    o.task_timeout = timeout;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  return ex;
}

static void wait_running(cf_future *f) {
  for (int i = 0; i < 10000 && !cf_future_running(f); i++)
    cf_test_sleep_ms(1);
  ck_assert(cf_future_running(f));
  cf_test_sleep_ms(50); /* into the task, past its signal set-up */
}

static bool no_children(void) {
  errno = 0;
  pid_t r = waitpid(-1, NULL, WNOHANG);
  return r == -1 && errno == ECHILD;
}

/* Without pidfd_open --------------------------------------------------------
 * A seccomp filter makes pidfd_open fail with err in this test process and
 * every process it starts (the zygote, the workers), as a sandbox does;
 * valgrind 3.19 and kernels before 5.3 give ENOSYS the same way. */

static void deny_pidfd_open(int err) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
  ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
  ck_assert_int_eq(syscall(SYS_pidfd_open, getpid(), 0), -1);
  ck_assert(errno == err || errno == ENOSYS); /* valgrind: never reached */
}

/* _i: 0 ENOSYS (no such call), 1 EPERM (a filter that refuses it). */
START_TEST(test_works_without_pidfd_open) {
  deny_pidfd_open(_i == 0 ? ENOSYS : EPERM);
  cf_executor *ex = pool_of(2);
  expect_echo(ex);
  /* A death is still seen and blamed on its task alone. */
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_segv, NULL, 0, &f), 0);
  expect_error(f, CF_EWORKER, "SIGSEGV");
  cf_future_release(f);
  expect_echo(ex);
  /* A timeout still kills its worker. */
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_forever, NULL, 0, 0.2, &f), 0);
  expect_error(f, CF_ETIMEDOUT, NULL);
  cf_future_release(f);
  expect_echo(ex);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

START_TEST(test_terminate_without_pidfd_open) {
  deny_pidfd_open(ENOSYS);
  cf_executor *ex = pool_of(2);
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_forever, NULL, 0, &f), 0);
  for (int i = 0; i < 5000 && !cf_future_running(f); i++)
    cf_test_sleep_ms(1);
  ck_assert_int_eq(cf_process_pool_terminate(ex), 0);
  expect_error(f, CF_EWORKER, "SIGTERM");
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

/* Stopping tasks that will not stop -----------------------------------------
 * Each call must return: the CTest/Check timeout catches a hang, and the
 * bound asserted is only a generous one. */

static cf_bytes_fn const stubborn[] = {t_block_term, t_ignore_term, t_forever};

/* _i picks the task; the default grace (1 s). */
START_TEST(test_terminate_ends_stubborn_tasks) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  cf_future *f, *queued;
  ck_assert_int_eq(cf_submit_bytes(ex, stubborn[_i], NULL, 0, &f), 0);
  wait_running(f);
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_process_pool_terminate(ex), 0);
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(1 + 10));
  expect_error(f, CF_EWORKER, _i == 2 ? "SIGTERM" : "SIGKILL");
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &queued), CF_ESHUTDOWN);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

/* shutdown(wait) and free wait for running tasks; a task that will not end
 * ends by its timeout, whatever it does with SIGTERM. _i: 0 shutdown(wait),
 * 1 shutdown(wait | cancel_futures), 2 free. */
START_TEST(test_shutdown_and_free_end_by_task_timeout) {
  cf_executor *ex = pool_with(2, 0, 0.3);
  cf_future *f[2];
  ck_assert_int_eq(cf_submit_bytes(ex, t_block_term, NULL, 0, &f[0]), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_ignore_term, NULL, 0, &f[1]), 0);
  wait_running(f[0]);
  wait_running(f[1]);
  uint64_t t0 = cf_now_ns();
  if (_i == 2) {
    ck_assert_int_eq(cf_executor_free(ex), 0);
  } else {
    unsigned flags =
        CF_SHUTDOWN_WAIT | (_i == 1 ? CF_SHUTDOWN_CANCEL_FUTURES : 0);
    ck_assert_int_eq(cf_shutdown(ex, flags), 0);
  }
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(0.3 + 10));
  for (int k = 0; k < 2; k++) {
    expect_error(f[k], CF_ETIMEDOUT, "timed out");
    cf_future_release(f[k]);
  }
  if (_i != 2)
    ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

static void *terminate_later(void *ex) {
  cf_test_sleep_ms(200);
  cf_process_pool_terminate(ex);
  return NULL;
}

/* Without a task timeout, shutdown(wait) waits for its task as asked; a
 * terminate from another thread ends both calls within the grace. */
START_TEST(test_shutdown_wait_ended_by_terminate) {
  cf_executor *ex = pool_with(1, 0.3, 0);
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_ignore_term, NULL, 0, &f), 0);
  wait_running(f);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, terminate_later, ex), 0);
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(0.5 + 10));
  pthread_join(th, NULL);
  expect_error(f, CF_EWORKER, "SIGKILL");
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

/* A worker told to exit that does not (its initializer never returns) is
 * killed after the grace: free returns. */
START_TEST(test_free_with_initializer_that_never_returns) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.initializer = i_forever;
  o.kill_grace = 0.3;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  cf_test_sleep_ms(100);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

START_TEST(test_kill_grace_invalid) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  cf_executor *ex = NULL;
  o.kill_grace = -1;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  o.kill_grace = NAN;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  ck_assert_ptr_null(ex);
}
END_TEST

/* A task's descendants -------------------------------------------------------
 * Nothing a task started may outlive the pool's decision to stop its
 * worker. The pids the task's descendants wrote are checked one by one:
 * each must be gone (or a zombie: dead, waiting for its new parent). */

static bool pid_gone(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return true;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return true;
  buf[n] = 0;
  const char *rp = strrchr(buf, ')');
  return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

/* Reads the pids written to path, waiting until want of them are there. */
static int read_pids(const char *path, pid_t *pids, int max, int want) {
  int n = 0;
  for (int tries = 0; tries < 10000 && n < want; tries++) {
    n = 0;
    FILE *f = fopen(path, "r");
    int v;
    while (f != NULL && n < max && fscanf(f, "%d", &v) == 1)
      pids[n++] = v;
    if (f != NULL)
      fclose(f);
    if (n < want)
      cf_test_sleep_ms(1);
  }
  return n;
}

/* Four descendants: the shell, its sleep, its subshell, the subshell's
 * sleep; and the task's own sleep. */
#define DESCENDANTS 5

/* _i: how the pool stops the task -- 0 its timeout, 1 request_cancel,
 * 2 terminate, 3 free after the task returned, 4 kill. */
START_TEST(test_descendants_die_with_the_task) {
  char path[] = "/tmp/cf-descendants-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  close(fd);
  char in[64 + 8] = {0};
  size_t inlen = strlen(path) + 1;
  memcpy(in, path, inlen);
  if (_i == 3) {
    memcpy(in + inlen, "return", 7);
    inlen += 7;
  }
  cf_executor *ex = pool_with(1, 0.5, 0);
  cf_future *f;
  if (_i == 0)
    ck_assert_int_eq(
        cf_submit_bytes_timeout(ex, t_descendants, in, inlen, 2, &f), 0);
  else
    ck_assert_int_eq(cf_submit_bytes(ex, t_descendants, in, inlen, &f), 0);
  pid_t pids[16];
  int n = read_pids(path, pids, 16, DESCENDANTS);
  unlink(path);
  ck_assert_int_eq(n, DESCENDANTS);
  for (int k = 0; k < n; k++)
    ck_assert_msg(!pid_gone(pids[k]), "descendant %d not started", pids[k]);
  switch (_i) {
  case 0:
    expect_error(f, CF_ETIMEDOUT, NULL);
    break;
  case 1:
    cf_future_request_cancel(f);
    ck_assert_int_eq(cf_future_error(f, 30), CF_ECANCELED);
    break;
  case 2:
    ck_assert_int_eq(cf_process_pool_terminate(ex), 0);
    break;
  case 3:
    ck_assert_int_eq(cf_future_error(f, 30), 0);
    ck_assert_int_eq(cf_executor_free(ex), 0);
    ex = NULL;
    break;
  case 4:
    ck_assert_int_eq(cf_process_pool_kill(ex), 0);
    break;
  }
  for (int k = 0; k < n; k++) {
    bool gone = false;
    for (int tries = 0; tries < 5000 && !(gone = pid_gone(pids[k])); tries++)
      cf_test_sleep_ms(1);
    ck_assert_msg(gone, "descendant %d (%d of %d) survived", pids[k], k + 1, n);
  }
  cf_future_release(f);
  if (ex != NULL)
    ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Every task by name, so that the suite also runs with the spawning start
 * methods (CF_TEST_START_METHOD). */
CF_TASK("pl.t_echo", t_echo)
CF_TASK("pl.t_segv", t_segv)
CF_TASK("pl.t_forever", t_forever)
CF_TASK("pl.t_block_term", t_block_term)
CF_TASK("pl.t_ignore_term", t_ignore_term)
CF_TASK("pl.t_descendants", t_descendants)
CF_INITIALIZER("pl.i_forever", i_forever)

Suite *cf_process_lifecycle_suite(void) {
  Suite *s = suite_create("process_lifecycle");
  TCase *tc = tcase_create("reaping");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_loop_test(tc, test_works_without_pidfd_open, 0, 2);
  tcase_add_test(tc, test_terminate_without_pidfd_open);
  suite_add_tcase(s, tc);

  tc = tcase_create("stop");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_loop_test(tc, test_terminate_ends_stubborn_tasks, 0, 3);
  tcase_add_loop_test(tc, test_shutdown_and_free_end_by_task_timeout, 0, 3);
  tcase_add_test(tc, test_shutdown_wait_ended_by_terminate);
  tcase_add_test(tc, test_free_with_initializer_that_never_returns);
  tcase_add_test(tc, test_kill_grace_invalid);
  suite_add_tcase(s, tc);

  tc = tcase_create("descendants");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_loop_test(tc, test_descendants_die_with_the_task, 0, 5);
  suite_add_tcase(s, tc);
  return s;
}
