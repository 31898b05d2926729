/* SPDX-License-Identifier: MIT */
/* The process pool's start methods: CF_START_SPAWN and CF_START_FORKSERVER
 * start a fresh image of this program (/proc/self/exe) where tasks and
 * initializers travel by registered name; CF_START_FORK is the contrast.
 * Loop tests run once per spawning method (_i is the cf_start_method). */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Tasks ------------------------------------------------------------------- */

/* 7 in a fresh image; a test writes another value before making a pool. */
static int g_marker = 7;

static int t_marker(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, &g_marker, sizeof g_marker);
}

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

/* The worker's view of itself: pid, parent, and its executable's path. */
struct whoami {
  pid_t pid, ppid;
  char exe[PATH_MAX];
};

static int t_whoami(const void *in, size_t len, cf_buffer *out) {
  struct whoami w;
  memset(&w, 0, sizeof w);
  w.pid = getpid();
  w.ppid = getppid();
  ssize_t n = readlink("/proc/self/exe", w.exe, sizeof w.exe - 1);
  if (n < 0)
    return CF_ETASK;
  return cf_buffer_append(out, &w, sizeof w);
}

/* The value of the variable named by the input: "=" + value, or "" if it
 * is not set. */
static int t_getenv(const void *in, size_t len, cf_buffer *out) {
  char name[64];
  if (len >= sizeof name)
    return CF_EINVAL;
  memcpy(name, in, len);
  name[len] = 0;
  const char *v = getenv(name);
  if (v == NULL)
    return 0;
  int rc = cf_buffer_append(out, "=", 1);
  return rc != 0 ? rc : cf_buffer_append(out, v, strlen(v));
}

/* uint32 x -> uint64 x * x + 1; item 13 fails with a code of its own. */
#define T_SQUARE_ERR (-4242)
static int t_square(const void *in, size_t len, cf_buffer *out) {
  uint32_t x;
  if (len != sizeof x)
    return CF_EINVAL;
  memcpy(&x, in, sizeof x);
  if (x == 13)
    return T_SQUARE_ERR;
  uint64_t y = (uint64_t)x * x + 1;
  return cf_buffer_append(out, &y, sizeof y);
}

static int t_kill(const void *in, size_t len, cf_buffer *out) {
  raise(SIGKILL);
  return 0;
}

/* Set by the initializer from its bytes; -1 where it did not run. */
static int g_init_value = -1;
static int g_init_runs;

static int i_parse(const void *arg, size_t len) {
  char s[32];
  if (len == 0 || len >= sizeof s)
    return CF_EINVAL;
  memcpy(s, arg, len);
  s[len] = 0;
  g_init_value = atoi(s);
  g_init_runs++;
  return 0;
}

static int t_init_state(const void *in, size_t len, cf_buffer *out) {
  int v[3] = {g_init_value, g_init_runs, (int)getpid()};
  return cf_buffer_append(out, v, sizeof v);
}

/* Never registered. */
static int t_unregistered(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "no", 2);
}

static int i_unregistered(const void *arg, size_t len) {
  return 0;
}

/* Registered at run time, in the test process only. */
static int t_late(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, "late", 4);
}

static int i_late(const void *arg, size_t len) {
  return 0;
}

CF_TASK("sp.t_marker", t_marker)
CF_TASK("sp.t_echo", t_echo)
CF_TASK("sp.t_whoami", t_whoami)
CF_TASK("sp.t_getenv", t_getenv)
CF_TASK("sp.t_square", t_square)
CF_TASK("sp.t_kill", t_kill)
CF_TASK("sp.t_init_state", t_init_state)
CF_INITIALIZER("sp.i_parse", i_parse)

/* Helpers ----------------------------------------------------------------- */

static const char *method_name(int m) {
  return m == CF_START_SPAWN        ? "spawn"
         : m == CF_START_FORKSERVER ? "forkserver"
                                    : "fork";
}

static cf_executor *pool_with(int method, int workers) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  o.start_method = method;
  cf_executor *ex = NULL;
  int rc = cf_process_pool_new(&o, &ex);
  ck_assert_msg(rc == 0, "%s pool: %s", method_name(method), cf_strerror(rc));
  return ex;
}

static int zombies_none(void) {
  /* The test process has no children of its own here: any child left is a
   * leak (a zombie or a live one). */
  errno = 0;
  pid_t r = waitpid(-1, NULL, WNOHANG);
  return r == -1 && errno == ECHILD;
}

static void free_pool(cf_executor *ex) {
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(zombies_none());
}

/* Waits for the future and copies its result, which must be n bytes. */
static void result_of(cf_future *f, void *buf, size_t n) {
  const void *d;
  size_t len;
  int rc = cf_future_bytes(f, 30, &d, &len);
  ck_assert_msg(rc == 0, "task failed: %s (%s)", cf_strerror(rc),
                cf_future_error_message(f) ? cf_future_error_message(f) : "");
  ck_assert_uint_eq(len, n);
  memcpy(buf, d, n);
}

static int run_marker(cf_executor *ex) {
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_marker, NULL, 0, &f), 0);
  int v;
  result_of(f, &v, sizeof v);
  cf_future_release(f);
  return v;
}

/* The pids of this process's children, those of every thread (up to max
 * stored); returns how many there are. */
static int children(pid_t *out, int max) {
  int n = cf_test_children(out, max);
  ck_assert_int_ge(n, 0);
  return n;
}

static void self_exe(char *buf, size_t n) {
  ssize_t r = readlink("/proc/self/exe", buf, n - 1);
  ck_assert_int_gt(r, 0);
  buf[r] = 0;
}

static void exe_of(pid_t pid, char *buf, size_t n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
  ssize_t r = readlink(path, buf, n - 1);
  ck_assert_msg(r > 0, "readlink %s: %s", path, strerror(errno));
  buf[r] = 0;
}

static pid_t ppid_of(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "re");
  ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
  long ppid = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "PPid: %ld", &ppid) == 1)
      break;
  fclose(f);
  return (pid_t)ppid;
}

struct pids_wait {
  cf_executor *ex;
  int want;
};

static bool all_workers_up(void *arg) {
  struct pids_wait *w = arg;
  return cf_process_pool_pids(w->ex, NULL, 0) >= w->want;
}

/* Start methods ----------------------------------------------------------- */

START_TEST(test_set_and_get_start_method) {
  int saved = cf_get_start_method();
  if (getenv("CF_TEST_START_METHOD") == NULL)
    ck_assert_int_eq(saved, CF_START_FORK);
  const int methods[] = {CF_START_SPAWN, CF_START_FORKSERVER, CF_START_FORK};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(cf_set_start_method(methods[i]), 0);
    ck_assert_int_eq(cf_get_start_method(), methods[i]);
    cf_process_pool_options o;
    cf_process_pool_options_init(&o);
    ck_assert_int_eq(o.start_method, methods[i]);
  }
  ck_assert_int_eq(cf_set_start_method(CF_START_FORKSERVER), 0);
  const int bad[] = {-1, 3, 100, INT_MIN, INT_MAX};
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(cf_set_start_method(bad[i]), CF_EINVAL);
    ck_assert_int_eq(cf_get_start_method(), CF_START_FORKSERVER);
  }
  /* The same values are refused in the options. */
  for (int i = 0; i < 5; i++) {
    cf_process_pool_options o;
    cf_process_pool_options_init(&o);
    o.max_workers = 1;
    o.start_method = bad[i];
    cf_executor *ex = (cf_executor *)&o;
    ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
    ck_assert_ptr_eq(ex, (cf_executor *)&o);
  }
  ck_assert_int_eq(cf_set_start_method(saved), 0);
  ck_assert_int_eq(cf_get_start_method(), saved);
  ck_assert(zombies_none());
}
END_TEST

/* _i runs over every method here: fork is the contrast. The pool takes
 * the default method (NULL options), and keeps it when the default
 * changes later. */
START_TEST(test_fresh_image) {
  int saved = cf_get_start_method();
  ck_assert_int_eq(cf_set_start_method(_i), 0);
  g_marker = 12345;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(NULL, &ex), 0);
  ck_assert_int_eq(
      cf_set_start_method(_i == CF_START_FORK ? CF_START_SPAWN : CF_START_FORK),
      0);
  int want = _i == CF_START_FORK ? 12345 : 7;
  ck_assert_int_eq(run_marker(ex), want);
  g_marker = 999; /* after creation: no worker sees it, whatever the method */
  ck_assert_int_eq(run_marker(ex), want);
  ck_assert_int_eq(cf_set_start_method(saved), 0);
  free_pool(ex);
}
END_TEST

/* The zygote is the test's only child and runs this program; every worker
 * runs it too, as the zygote's child. */
START_TEST(test_same_program_and_parentage) {
  enum { W = 3 };
  char me[PATH_MAX], other[PATH_MAX];
  self_exe(me, sizeof me);
  cf_executor *ex = pool_with(_i, W);
  struct pids_wait pw = {ex, W};
  ck_assert(cf_test_poll(all_workers_up, &pw, 30));
  pid_t kids[4];
  ck_assert_int_eq(children(kids, 4), 1);
  pid_t zygote = kids[0];
  exe_of(zygote, other, sizeof other);
  ck_assert_str_eq(other, me);
  pid_t wp[W];
  ck_assert_int_eq(cf_process_pool_pids(ex, wp, W), W);
  for (int i = 0; i < W; i++) {
    ck_assert_int_ne(wp[i], zygote);
    ck_assert_int_eq(ppid_of(wp[i]), zygote);
    exe_of(wp[i], other, sizeof other);
    ck_assert_str_eq(other, me);
  }
  /* And as a task sees it from inside. */
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_whoami, NULL, 0, &f), 0);
  struct whoami w;
  result_of(f, &w, sizeof w);
  cf_future_release(f);
  ck_assert_int_eq(w.ppid, zygote);
  ck_assert_str_eq(w.exe, me);
  bool known = false;
  for (int i = 0; i < W; i++)
    known |= w.pid == wp[i];
  ck_assert(known);
  free_pool(ex);
  ck_assert_int_eq(children(kids, 4), 0);
}
END_TEST

/* Runs t_getenv(name) and gives "" (unset) or "=value". */
static void env_in_worker(cf_executor *ex, const char *name, char *buf,
                          size_t n) {
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_getenv, name, strlen(name), &f), 0);
  const void *d;
  size_t len;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &len), 0);
  ck_assert_uint_lt(len, n);
  memcpy(buf, d, len);
  buf[len] = 0;
  cf_future_release(f);
}

START_TEST(test_worker_environment) {
  ck_assert_int_eq(setenv("CF_TEST_SPAWN_MARK", "m1", 1), 0);
  cf_executor *ex = pool_with(_i, 1);
  char v[128];
  env_in_worker(ex, "CF_SPAWN", v, sizeof v);
  ck_assert_str_eq(v, "");
  /* The rest of the environment is the caller's, as of pool creation. */
  env_in_worker(ex, "CF_TEST_SPAWN_MARK", v, sizeof v);
  ck_assert_str_eq(v, "=m1");
  if (_i == CF_START_SPAWN) {
    /* Not vacuous: the worker was started with the variable (its
     * /proc/<pid>/environ is the environment it was exec'ed with) and
     * cf_spawn_main took it out. */
    pid_t wp;
    ck_assert_int_eq(cf_process_pool_pids(ex, &wp, 1), 1);
    char path[64], buf[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)wp);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    bool found = false;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
      found |= strncmp(buf + i, "CF_SPAWN=w:", 11) == 0;
    ck_assert_msg(found, "no CF_SPAWN=w: in %s", path);
  }
  unsetenv("CF_TEST_SPAWN_MARK");
  free_pool(ex);
}
END_TEST

START_TEST(test_unregistered_task_refused) {
  cf_executor *ex = pool_with(_i, 1);
  cf_future *sentinel = (cf_future *)&ex, *f = sentinel;
  ck_assert_int_eq(cf_submit_bytes(ex, t_unregistered, "x", 1, &f), CF_ENOENT);
  ck_assert_int_eq(cf_submit_bytes(ex, t_unregistered, NULL, 0, NULL),
                   CF_ENOENT);
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_unregistered, "x", 1, 5, &f),
                   CF_ENOENT);
  ck_assert_ptr_eq(f, sentinel);
  uint32_t x = 1;
  cf_bytes items[2] = {{&x, sizeof x}, {&x, sizeof x}};
  cf_map_bytes_options mo;
  cf_map_bytes_options_init(&mo);
  cf_map_bytes *sm = (cf_map_bytes *)&ex, *m = sm;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_unregistered, items, 2, NULL, &m),
                   CF_ENOENT);
  mo.chunksize = 7;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_unregistered, items, 2, &mo, &m),
                   CF_ENOENT);
  ck_assert_ptr_eq(m, sm);
  /* The pool is unharmed; a fork pool takes the same function. */
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "ok", 2, &f), 0);
  char b[2];
  result_of(f, b, 2);
  cf_future_release(f);
  ck_assert_int_eq(memcmp(b, "ok", 2), 0);
  free_pool(ex);
  ex = pool_with(CF_START_FORK, 1);
  ck_assert_int_eq(cf_submit_bytes(ex, t_unregistered, NULL, 0, &f), 0);
  result_of(f, b, 2);
  cf_future_release(f);
  ck_assert_int_eq(memcmp(b, "no", 2), 0);
  free_pool(ex);
}
END_TEST

START_TEST(test_map_bytes_chunks_in_order) {
  enum { N = 100 };
  uint32_t vals[N];
  cf_bytes items[N];
  for (uint32_t i = 0; i < N; i++) {
    vals[i] = i;
    items[i].data = &vals[i];
    items[i].len = sizeof vals[i];
  }
  cf_executor *ex = pool_with(_i, 3);
  cf_map_bytes_options o;
  cf_map_bytes_options_init(&o);
  o.chunksize = 7;
  cf_map_bytes *m;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_square, items, N, &o, &m), 0);
  for (uint32_t i = 0; i < N; i++) {
    const void *d;
    size_t n, idx = SIZE_MAX;
    int rc;
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &rc, &idx), 0);
    ck_assert_uint_eq(idx, i);
    if (i == 13) {
      ck_assert_int_eq(rc, T_SQUARE_ERR);
      continue;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(n, 8);
    uint64_t y;
    memcpy(&y, d, 8);
    ck_assert_uint_eq(y, (uint64_t)i * i + 1);
  }
  int err;
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EOF);
  cf_map_bytes_free(m);
  free_pool(ex);
}
END_TEST

START_TEST(test_unregistered_initializer_refused) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.start_method = _i;
  o.initializer = i_unregistered;
  cf_executor *ex = (cf_executor *)&o;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  ck_assert_ptr_eq(ex, (cf_executor *)&o);
  ck_assert_int_eq(children(NULL, 0), 0);
  /* The same options are fine with fork. */
  o.start_method = CF_START_FORK;
  ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  free_pool(ex);
}
END_TEST

/* Every task runs in a worker of its own (max_tasks_per_child 1), so each
 * one shows a different worker's initializer having run, once, on its own
 * copy of the bytes. */
START_TEST(test_initializer_runs_in_every_worker) {
  enum { TASKS = 6 };
  char args[8] = "4711";
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.max_tasks_per_child = 1;
  o.start_method = _i;
  o.initializer = i_parse;
  o.initargs = args;
  o.initargs_len = 4;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  memcpy(args, "9999", 4); /* copied at creation */
  cf_future *fs[TASKS];
  for (int i = 0; i < TASKS; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_init_state, NULL, 0, &fs[i]), 0);
  int pids[TASKS];
  for (int i = 0; i < TASKS; i++) {
    int v[3];
    result_of(fs[i], v, sizeof v);
    cf_future_release(fs[i]);
    ck_assert_int_eq(v[0], 4711);
    ck_assert_int_eq(v[1], 1);
    pids[i] = v[2];
    for (int j = 0; j < i; j++)
      ck_assert_int_ne(pids[j], pids[i]);
  }
  ck_assert_int_eq(g_init_value, -1); /* not in this process */
  ck_assert_int_eq(g_init_runs, 0);
  free_pool(ex);
}
END_TEST

/* Registered after main started, in this process only: a fresh image does
 * not know the name, and says so on the task's future. */
START_TEST(test_task_registered_late) {
  ck_assert_int_eq(cf_task_register("sp.late", t_late), 0);
  cf_executor *ex = pool_with(_i, 2);
  cf_future *f, *g;
  ck_assert_int_eq(cf_submit_bytes(ex, t_late, "x", 1, &f), 0);
  ck_assert_int_eq(cf_submit_named(ex, "sp.late", NULL, 0, &g), 0);
  ck_assert_int_eq(cf_future_error(f, 30), CF_ENOENT);
  ck_assert_int_eq(cf_future_error(g, 30), CF_ENOENT);
  ck_assert_ptr_nonnull(cf_future_error_message(f));
  ck_assert_ptr_nonnull(cf_future_error_message(g));
  ck_assert_int_gt(strlen(cf_future_error_message(f)), 0);
  cf_future_release(f);
  cf_future_release(g);
  /* In chunks too: every item of the chunk fails. */
  uint32_t x = 2;
  cf_bytes items[5];
  for (int i = 0; i < 5; i++)
    items[i] = (cf_bytes){&x, sizeof x};
  cf_map_bytes_options mo;
  cf_map_bytes_options_init(&mo);
  mo.chunksize = 3;
  cf_map_bytes *m;
  ck_assert_int_eq(cf_map_bytes_new(ex, t_late, items, 5, &mo, &m), 0);
  int err;
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), 0);
    ck_assert_int_eq(err, CF_ENOENT);
  }
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EOF);
  cf_map_bytes_free(m);
  /* The workers go on with the tasks they know. */
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "fine", 4, &f), 0);
  char b[4];
  result_of(f, b, 4);
  cf_future_release(f);
  ck_assert_int_eq(memcmp(b, "fine", 4), 0);
  free_pool(ex);
}
END_TEST

START_TEST(test_initializer_registered_late) {
  ck_assert_int_eq(cf_initializer_register("sp.late_init", i_late), 0);
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.start_method = _i;
  o.initializer = i_late;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  cf_future *fs[6];
  int accepted = 0;
  for (int i = 0; i < 6; i++) {
    int rc = cf_submit_bytes(ex, t_echo, "x", 1, &fs[accepted]);
    ck_assert(rc == 0 || rc == CF_EBROKEN);
    if (rc == 0)
      accepted++;
  }
  for (int i = 0; i < accepted; i++) {
    ck_assert_int_eq(cf_future_error(fs[i], 30), CF_EBROKEN);
    cf_future_release(fs[i]);
  }
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), CF_EBROKEN);
  free_pool(ex);
}
END_TEST

START_TEST(test_crash_fails_only_its_task) {
  cf_executor *ex = pool_with(_i, 2);
  struct pids_wait pw = {ex, 2};
  ck_assert(cf_test_poll(all_workers_up, &pw, 30));
  pid_t zygote;
  ck_assert_int_eq(children(&zygote, 1), 1);
  cf_future *ok[20], *dead;
  for (uint32_t i = 0; i < 10; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, 4, &ok[i]), 0);
  ck_assert_int_eq(cf_submit_bytes(ex, t_kill, NULL, 0, &dead), 0);
  for (uint32_t i = 10; i < 20; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, 4, &ok[i]), 0);
  ck_assert_int_eq(cf_future_error(dead, 30), CF_EWORKER);
  const char *msg = cf_future_error_message(dead);
  ck_assert_msg(msg != NULL && strstr(msg, "SIGKILL") != NULL, "message: %s",
                msg ? msg : "(null)");
  cf_future_release(dead);
  for (uint32_t i = 0; i < 20; i++) {
    uint32_t v;
    result_of(ok[i], &v, 4);
    ck_assert_uint_eq(v, i);
    cf_future_release(ok[i]);
  }
  /* The pool goes on, with the same zygote and a replacement worker. */
  for (uint32_t i = 0; i < 4; i++) {
    cf_future *f;
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, 4, &f), 0);
    uint32_t v;
    result_of(f, &v, 4);
    ck_assert_uint_eq(v, i);
    cf_future_release(f);
  }
  pid_t now;
  ck_assert_int_eq(children(&now, 1), 1);
  ck_assert_int_eq(now, zygote);
  pw.want = 2;
  ck_assert(cf_test_poll(all_workers_up, &pw, 30));
  free_pool(ex);
}
END_TEST

/* The harness called cf_spawn_main first thing, as a program must; calling
 * it again outside a pool's process is harmless. */
START_TEST(test_spawn_main_then_pool) {
  ck_assert_int_eq(cf_spawn_main(), 0);
  cf_executor *ex = pool_with(_i, 1);
  ck_assert_int_eq(run_marker(ex), 7);
  free_pool(ex);
}
END_TEST

/* Without cf_spawn_main, a spawning method is refused. This process's copy
 * of the library has had the call; a second copy, the shared library
 * loaded privately, has its own state and has not. */
typedef int (*pool_new_fn)(const cf_process_pool_options *, cf_executor **);
typedef void (*opts_init_fn)(cf_process_pool_options *);
typedef int (*void_fn)(void);
typedef int (*free_fn)(cf_executor *);

START_TEST(test_spawn_main_required) {
#if defined(__SANITIZE_ADDRESS__)
  /* LeakSanitizer's exit-time scan crashes on the dynamic TLS of a library
   * loaded with dlopen (it reads a stale DTLS range). Check for leaks now,
   * which also turns the exit-time scan off for this test's process; the
   * normal build still runs the test whole. */
  __lsan_do_leak_check();
#endif
  void *lib = dlopen(CF_TEST_SHARED_LIB, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(lib != NULL, "dlopen: %s", dlerror());
  pool_new_fn pool_new = (pool_new_fn)dlsym(lib, "cf_process_pool_new");
  opts_init_fn opts_init =
      (opts_init_fn)dlsym(lib, "cf_process_pool_options_init");
  void_fn spawn_main = (void_fn)dlsym(lib, "cf_spawn_main");
  free_fn ex_free = (free_fn)dlsym(lib, "cf_executor_free");
  ck_assert(pool_new && opts_init && spawn_main && ex_free);
  /* Another copy indeed, or this test would prove nothing. */
  ck_assert_ptr_ne((void *)pool_new, (void *)cf_process_pool_new);
  cf_process_pool_options o;
  opts_init(&o);
  o.max_workers = 1;
  o.start_method = _i;
  cf_executor *ex = (cf_executor *)&o;
  ck_assert_int_eq(pool_new(&o, &ex), CF_EINVAL);
  ck_assert_ptr_eq(ex, (cf_executor *)&o);
  ck_assert_int_eq(children(NULL, 0), 0);
  /* The call is what was missing: with it the same options work. */
  ck_assert_int_eq(spawn_main(), 0);
  ex = NULL;
  ck_assert_int_eq(pool_new(&o, &ex), 0);
  ck_assert_int_eq(children(NULL, 0), 1);
  ck_assert_int_eq(ex_free(ex), 0);
  ck_assert(zombies_none());
  /* Not dlclose'd: the copy may have left thread-exit destructors. */
}
END_TEST

Suite *cf_spawn_suite(void) {
  Suite *s = suite_create("spawn");
  TCase *tc = tcase_create("methods");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_set_and_get_start_method);
  tcase_add_loop_test(tc, test_fresh_image, CF_START_FORK,
                      CF_START_FORKSERVER + 1);
  suite_add_tcase(s, tc);

  tc = tcase_create("spawned");
  cf_test_tcase_timeout(tc, 60);
  const int lo = CF_START_SPAWN, hi = CF_START_FORKSERVER + 1;
  tcase_add_loop_test(tc, test_same_program_and_parentage, lo, hi);
  tcase_add_loop_test(tc, test_worker_environment, lo, hi);
  tcase_add_loop_test(tc, test_unregistered_task_refused, lo, hi);
  tcase_add_loop_test(tc, test_map_bytes_chunks_in_order, lo, hi);
  tcase_add_loop_test(tc, test_unregistered_initializer_refused, lo, hi);
  tcase_add_loop_test(tc, test_initializer_runs_in_every_worker, lo, hi);
  tcase_add_loop_test(tc, test_task_registered_late, lo, hi);
  tcase_add_loop_test(tc, test_initializer_registered_late, lo, hi);
  tcase_add_loop_test(tc, test_crash_fails_only_its_task, lo, hi);
  tcase_add_loop_test(tc, test_spawn_main_then_pool, lo, hi);
  tcase_add_loop_test(tc, test_spawn_main_required, lo, hi);
  suite_add_tcase(s, tc);
  return s;
}
