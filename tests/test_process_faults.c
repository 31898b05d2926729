/* SPDX-License-Identifier: MIT */
/* Process pool faults beyond test_process_pool.c (rows 13-15, 17, 18):
 *
 *  - a worker dies at each stage of the protocol, with 1, 2 and 5 workers
 *    (loky's table): while reading a request larger than the socket
 *    buffer, while writing a result larger than it, and after replying,
 *    idle. A timer the task sets (SIGALRM, whose default action kills the
 *    worker) times the death; the worker cannot tell. Each future resolves
 *    with its result or CF_EWORKER, the host takes no SIGPIPE, the pool
 *    goes on;
 *  - a storm of small tasks with crashes mixed in: every future resolves
 *    exactly once, crashers with CF_EWORKER, the rest with their bytes;
 *  - the pool's thread held inside a done callback while 10^4 submits
 *    arrive: submit never waits for it (gh-105829);
 *  - recycling every task (max_tasks_per_child 1), under shutdown too:
 *    no zombie is left once the pool is gone, and few exist meanwhile. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* Worker-side tasks ---------------------------------------------------- */

/* Kills this worker in us microseconds, by SIGALRM's default action. */
static void die_in(long us) {
  struct itimerval it = {{0, 0}, {us / 1000000, us % 1000000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

/* Returns a result of n bytes (given as a size_t) and dies after 2 ms,
 * most likely while the pool still reads it. */
static int t_big_result_then_die(const void *in, size_t len, cf_buffer *out) {
  size_t n;
  memcpy(&n, in, sizeof n);
  int rc = cf_buffer_reserve(out, n);
  if (rc != 0)
    return rc;
  memset(out->data, 7, n);
  out->len = n;
  die_in(2000);
  return 0;
}

/* Replies at once and dies 20 ms later, idle. */
static int t_reply_then_die(const void *in, size_t len, cf_buffer *out) {
  die_in(20000);
  return cf_buffer_append(out, "ok", 2);
}

/* Replies, then dies 1 ms later: the next request is on its way in. */
static int t_die_soon(const void *in, size_t len, cf_buffer *out) {
  die_in(1000);
  return cf_buffer_append(out, "ok", 2);
}

/* Sums the bytes of its input. */
static int t_sum(const void *in, size_t len, cf_buffer *out) {
  uint64_t s = 0;
  for (size_t i = 0; i < len; i++)
    s += ((const unsigned char *)in)[i];
  return cf_buffer_append(out, &s, sizeof s);
}

/* Echoes its 8-byte index, or dies if the index says so. */
static int t_index_or_crash(const void *in, size_t len, cf_buffer *out) {
  uint64_t i;
  memcpy(&i, in, sizeof i);
  if (i % 97 == 13)
    abort();
  if (i % 97 == 50)
    _exit(9);
  if (i % 97 == 70)
    raise(SIGKILL);
  return cf_buffer_append(out, &i, sizeof i);
}

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

static cf_executor *ppool(int workers, size_t shm_threshold) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  o.shm_threshold = shm_threshold;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  return ex;
}

/* Each protocol stage -------------------------------------------------- */

static const int stage_workers[] = {1, 2, 5};

/* Dies while its (inline, larger than the socket buffer) result is being
 * read. */
START_TEST(test_dies_writing_result) {
  signal(SIGPIPE, SIG_DFL);
  int workers = stage_workers[_i];
  cf_executor *ex = ppool(workers, SIZE_MAX);
  int ok = 0, died = 0;
  for (int round = 0; round < 6; round++) {
    size_t n = (size_t)(8 + round) << 20;
    cf_future *f, *g;
    ck_assert_int_eq(
        cf_submit_bytes(ex, t_big_result_then_die, &n, sizeof n, &f), 0);
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "after", 5, &g), 0);
    const void *d;
    size_t len;
    int rc = cf_future_bytes(f, 60, &d, &len);
    ck_assert_msg(rc == 0 || rc == CF_EWORKER, "%s", cf_err_name(rc));
    if (rc == 0) {
      ck_assert_uint_eq(len, n);
      ck_assert_int_eq(((const unsigned char *)d)[n - 1], 7);
      ok++;
    } else {
      died++;
    }
    ck_assert_int_eq(cf_future_bytes(g, 60, &d, &len), 0);
    ck_assert_uint_eq(len, 5);
    cf_future_release(f);
    cf_future_release(g);
  }
  ck_assert_int_eq(ok + died, 6);
  fprintf(stderr, "dies writing result, %d workers: %d delivered, %d died\n",
          workers, ok, died);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Dies idle after replying: the result stands, the next task runs on a
 * new worker. */
START_TEST(test_dies_after_replying) {
  int workers = stage_workers[_i];
  cf_executor *ex = ppool(workers, 4096);
  for (int round = 0; round < 5; round++) {
    cf_future *f;
    ck_assert_int_eq(cf_submit_bytes(ex, t_reply_then_die, NULL, 0, &f), 0);
    const void *d;
    size_t len;
    ck_assert_int_eq(cf_future_bytes(f, 30, &d, &len), 0);
    ck_assert_uint_eq(len, 2);
    cf_future_release(f);
    cf_test_sleep_ms(40);
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), 0);
    ck_assert_int_eq(cf_future_bytes(f, 30, &d, &len), 0);
    cf_future_release(f);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Killed while idle (the OOM killer, an operator), then given work at
 * once, before or after the pool hears of the death: the task never began
 * there, so it runs on the replacement. With a payload larger than the
 * socket buffer, the kill also lands while the task is being written. */
START_TEST(test_killed_idle_fails_nothing) {
  signal(SIGPIPE, SIG_DFL);
  bool big = _i == 1;
  cf_executor *ex = ppool(1, SIZE_MAX);
  size_t n = big ? 8u << 20 : 1;
  unsigned char *data = calloc(1, n);
  ck_assert_ptr_nonnull(data);
  data[0] = 1;
  data[n - 1] = 2;
  uint64_t want = n > 1 ? 3 : 2;
  int rounds = big ? 10 : 30;
  for (int round = 0; round < rounds; round++) {
    cf_future *f;
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "x", 1, &f), 0);
    ck_assert_int_eq(cf_future_bytes(f, 30, NULL, NULL), 0);
    cf_future_release(f);
    int pid = 0;
    ck_assert_int_eq(cf_process_pool_pids(ex, &pid, 1), 1);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    if (round % 3 == 1)
      cf_test_sleep_ms(0.2); /* the death may be reported first */
    ck_assert_int_eq(cf_submit_bytes(ex, t_sum, data, n, &f), 0);
    const void *d;
    int rc = cf_future_bytes(f, 30, &d, NULL);
    ck_assert_msg(rc == 0, "round %d: %s (%s)", round, cf_err_name(rc),
                  cf_future_error_message(f));
    uint64_t s;
    memcpy(&s, d, sizeof s);
    ck_assert_uint_eq(s, want);
    cf_future_release(f);
  }
  free(data);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Dies while the next request, 16 MiB through the socket (or a shared
 * region), is on its way in. The big task had not started: it runs again
 * elsewhere and succeeds -- or fails CF_EWORKER if the pool counts it as
 * the one that was running. Never a hang, never a SIGPIPE. */
START_TEST(test_dies_reading_request) {
  signal(SIGPIPE, SIG_DFL);
  int workers = stage_workers[_i % 3];
  cf_executor *ex = ppool(workers, _i < 3 ? SIZE_MAX : 4096);
  size_t n = 16u << 20;
  unsigned char *big = calloc(1, n);
  ck_assert_ptr_nonnull(big);
  big[0] = 1;
  big[n - 1] = 2;
  int ok = 0;
  for (int round = 0; round < 4; round++) {
    cf_future *a[5], *b[5];
    for (int k = 0; k < workers; k++) {
      ck_assert_int_eq(cf_submit_bytes(ex, t_die_soon, NULL, 0, &a[k]), 0);
      ck_assert_int_eq(cf_submit_bytes(ex, t_sum, big, n, &b[k]), 0);
    }
    for (int k = 0; k < workers; k++) {
      /* On a loaded machine the timer may beat the reply itself. */
      int ra = cf_future_bytes(a[k], 60, NULL, NULL);
      ck_assert_msg(ra == 0 || ra == CF_EWORKER, "%s", cf_err_name(ra));
      const void *d;
      int rc = cf_future_bytes(b[k], 60, &d, NULL);
      ck_assert_msg(rc == 0 || rc == CF_EWORKER, "%s", cf_err_name(rc));
      if (rc == 0) {
        uint64_t s;
        memcpy(&s, d, sizeof s);
        ck_assert_uint_eq(s, 3);
        ok++;
      }
      cf_future_release(a[k]);
      cf_future_release(b[k]);
    }
  }
  /* How many went round again depends on when the timer fires: a task
   * that had started when its worker died fails CF_EWORKER, rightly. */
  fprintf(stderr, "dies reading request, %d workers: %d of %d delivered\n",
          workers, ok, 4 * workers);
  free(big);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Crash storm ---------------------------------------------------------- */

START_TEST(test_crash_storm) {
  size_t n = (size_t)cf_test_stress_count(10000);
  cf_executor *ex = ppool(4, 4096);
  cf_future **fs = calloc(n, sizeof *fs);
  ck_assert_ptr_nonnull(fs);
  for (size_t i = 0; i < n; i++) {
    uint64_t v = i;
    ck_assert_int_eq(
        cf_submit_bytes(ex, t_index_or_crash, &v, sizeof v, &fs[i]), 0);
  }
  size_t ok = 0, crashed = 0;
  for (size_t i = 0; i < n; i++) {
    const void *d;
    size_t len;
    int rc = cf_future_bytes(fs[i], 120, &d, &len);
    bool crasher = i % 97 == 13 || i % 97 == 50 || i % 97 == 70;
    if (crasher) {
      ck_assert_msg(rc == CF_EWORKER, "task %zu: %s", i, cf_err_name(rc));
      crashed++;
    } else {
      ck_assert_msg(rc == 0, "task %zu: %s (%s)", i, cf_err_name(rc),
                    cf_future_error_message(fs[i]));
      uint64_t v;
      ck_assert_uint_eq(len, sizeof v);
      memcpy(&v, d, sizeof v);
      ck_assert_uint_eq(v, i);
      ok++;
    }
    cf_future_release(fs[i]);
  }
  ck_assert_uint_eq(ok + crashed, n);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.submitted, n);
  ck_assert_uint_eq(st.completed, ok);
  ck_assert_uint_eq(st.failed, crashed);
  free(fs);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  fprintf(stderr, "crash storm: %zu tasks, %zu worker deaths\n", n, crashed);
}
END_TEST

/* Submit while the pool's thread is held ------------------------------ */

static cf_test_gate hold;
static pthread_t test_thread;

static void hold_manager(cf_future *f, void *u) {
  /* Runs on the thread that completes the future -- the pool's own --
   * unless the future was done already and it runs inline, on the test's
   * thread, which must not be held. */
  if (pthread_equal(pthread_self(), test_thread))
    return;
  cf_test_gate_pass(&hold);
}

static int t_sleep_10ms(const void *in, size_t len, cf_buffer *out) {
  cf_test_sleep_ms(10);
  return 0;
}

START_TEST(test_submit_never_waits_for_the_pool_thread) {
  cf_test_gate_init(&hold);
  test_thread = pthread_self();
  cf_executor *ex = ppool(2, 4096);
  cf_future *first = NULL;
  bool held = false;
  for (int tries = 0; tries < 50 && !held; tries++) {
    cf_future_release(first);
    ck_assert_int_eq(cf_submit_bytes(ex, t_sleep_10ms, NULL, 0, &first), 0);
    ck_assert_int_eq(cf_future_on_done(first, hold_manager, NULL), 0);
    held = cf_test_gate_wait_arrivals(&hold, 1, 1.0);
  }
  ck_assert(held);
  size_t n = (size_t)cf_test_stress_count(10000);
  cf_future **fs = calloc(n, sizeof *fs);
  ck_assert_ptr_nonnull(fs);
  /* Were submit to wait for the held thread, this would hang (and the
   * watchdog would show where). */
  for (size_t i = 0; i < n; i++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, &i, sizeof i, &fs[i]), 0);
  cf_test_gate_open(&hold);
  for (size_t i = 0; i < n; i++) {
    const void *d;
    ck_assert_int_eq(cf_future_bytes(fs[i], 60, &d, NULL), 0);
    ck_assert_int_eq(memcmp(d, &i, sizeof i), 0);
    cf_future_release(fs[i]);
  }
  cf_future_release(first);
  free(fs);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&hold);
}
END_TEST

/* Zombies -------------------------------------------------------------- */

/* Children of pid in state Z. */
static int zombies_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  int z = 0;
  long child;
  while (fscanf(f, "%ld", &child) == 1) {
    char sp[64], buf[512];
    snprintf(sp, sizeof sp, "/proc/%ld/stat", child);
    FILE *s = fopen(sp, "r");
    if (s == NULL)
      continue;
    size_t len = fread(buf, 1, sizeof buf - 1, s);
    fclose(s);
    buf[len] = '\0';
    char *rp = strrchr(buf, ')');
    if (rp != NULL && rp[1] == ' ' && rp[2] == 'Z')
      z++;
  }
  fclose(f);
  return z;
}

static pid_t only_child(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", getpid(), getpid());
  FILE *f = fopen(path, "r");
  long pid = -1;
  if (f != NULL) {
    if (fscanf(f, "%ld", &pid) != 1)
      pid = -1;
    fclose(f);
  }
  return (pid_t)pid;
}

START_TEST(test_recycling_leaves_no_zombies) {
  ck_assert_int_eq(cf_test_count_children(), 0);
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.max_tasks_per_child = 1;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  pid_t zygote = only_child();
  ck_assert_int_gt(zygote, 0);
  size_t n = (size_t)cf_test_stress_count(2000);
  int worst = 0;
  enum { BATCH = 50 };
  for (size_t i = 0; i < n; i += BATCH) {
    cf_future *fs[BATCH];
    for (int k = 0; k < BATCH; k++)
      ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "z", 1, &fs[k]), 0);
    for (int k = 0; k < BATCH; k++) {
      ck_assert_int_eq(cf_future_bytes(fs[k], 60, NULL, NULL), 0);
      cf_future_release(fs[k]);
    }
    int z = zombies_of(zygote);
    worst = z > worst ? z : worst;
  }
  /* Recycling under shutdown: queued work, then shutdown with wait. */
  cf_future *last[20];
  for (int k = 0; k < 20; k++)
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "z", 1, &last[k]), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  for (int k = 0; k < 20; k++) {
    ck_assert_int_eq(cf_future_bytes(last[k], 0, NULL, NULL), 0);
    cf_future_release(last[k]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  /* A few exit between two reaps; they must not pile up. */
  ck_assert_int_le(worst, 4);
  ck_assert_int_eq(cf_test_count_children(), 0);
  fprintf(stderr, "recycling: %zu workers, at most %d zombies at a time\n", n,
          worst);
}
END_TEST

/* A worker that speaks garbage (row 22, "fake worker") ----------------- */

#include "wire.h"

#include <sys/socket.h>
#include <sys/stat.h>

static uint64_t xorshift(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Writes a seeded stream of frames, mostly almost valid, to its own
 * channel, then returns or dies as the seed says. */
static int t_fake_frames(const void *in, size_t len, cf_buffer *out) {
  uint64_t seed;
  memcpy(&seed, in, sizeof seed);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  unsigned char buf[4096];
  size_t n = 0;
  int frames = 1 + (int)(xorshift(&x) % 3);
  for (int k = 0; k < frames && n + 200 < sizeof buf; k++) {
    struct cf__wire_hdr h = {.magic = CF__WIRE_MAGIC,
                             .version = CF__WIRE_VERSION,
                             .op = (uint8_t)(1 + xorshift(&x) % 5),
                             /* Around this task's own id: two
                              * tasks per round, numbered from 1. */
                             .id = 2 * seed + xorshift(&x) % 3};
    uint64_t r = xorshift(&x);
    if (r & 1)
      h.flags = (uint16_t)(xorshift(&x) & 0x30f);
    if (r & 2)
      h.err = -(int32_t)(xorshift(&x) % 5000);
    if (r & 4)
      h.len = xorshift(&x) % 128;
    if (r & 8)
      h.len = xorshift(&x); /* anything, up to 2^64 - 1 */
    if (r & 16)
      h.msg_len = (uint32_t)(xorshift(&x) % 64);
    if (r & 32)
      h.region = xorshift(&x) % (1 << 22);
    if ((r & 192) == 192)
      h.magic ^= 1u << (xorshift(&x) % 32);
    cf__wire_encode(buf + n, &h);
    n += CF__WIRE_HDR_SIZE;
    size_t body = (size_t)(xorshift(&x) % 160);
    for (size_t i = 0; i < body; i++)
      buf[n++] = (unsigned char)xorshift(&x);
    if ((r & 768) == 768) /* cut the stream anywhere */
      n -= (size_t)(xorshift(&x) % (n + 1));
  }
  for (int fd = 3; fd < 256; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
      send(fd, buf, n, MSG_NOSIGNAL);
  }
  if (seed % 3 == 0)
    _exit(0);
  cf_test_sleep_ms(20);
  return cf_buffer_append(out, "fine", 4);
}

START_TEST(test_fake_worker_frames) {
  cf_executor *ex = ppool(1, 4096);
  long rounds = cf_test_stress_count(300);
  int codes[5] = {0};
  for (long i = 0; i < rounds; i++) {
    uint64_t seed = (uint64_t)i;
    cf_future *f, *g;
    ck_assert_int_eq(cf_submit_bytes(ex, t_fake_frames, &seed, sizeof seed, &f),
                     0);
    ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "ok", 2, &g), 0);
    int rc = cf_future_bytes(f, 30, NULL, NULL);
    ck_assert_msg(cf_future_done(f), "seed %ld: the future hung", i);
    ck_assert_msg(rc == 0 || rc == CF_EPROTO || rc == CF_EWORKER ||
                      rc == CF_ETOOBIG || rc < 0,
                  "seed %ld: %d", i, rc);
    codes[rc == 0 ? 0 : rc == CF_EPROTO ? 1 : rc == CF_EWORKER ? 2 : 3]++;
    /* The pool goes on: the next task on a healthy worker succeeds, or
     * fails only because the garbage hit it too (it was queued on the
     * same worker). */
    rc = cf_future_bytes(g, 30, NULL, NULL);
    ck_assert_msg(rc == 0 || rc == CF_EPROTO || rc == CF_EWORKER,
                  "seed %ld: the next task: %s", i, cf_err_name(rc));
    codes[4] += rc != 0;
    cf_future_release(f);
    cf_future_release(g);
  }
  cf_future *h;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "ok", 2, &h), 0);
  ck_assert_int_eq(cf_future_bytes(h, 30, NULL, NULL), 0);
  cf_future_release(h);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  fprintf(stderr,
          "fake worker: %ld streams: %d ok, %d EPROTO, %d EWORKER, %d other; "
          "%d next tasks hit\n",
          rounds, codes[0], codes[1], codes[2], codes[3], codes[4]);
}
END_TEST

/* A host fork handler ------------------------------------------------- */

static int lock_pipe[2];

/* What libuv registers with its first loop (uv__signal_global_reinit):
 * in a forked child, close the process-wide pipe and open a new one. */
static void host_atfork_child(void) {
  close(lock_pipe[0]);
  close(lock_pipe[1]);
  if (pipe2(lock_pipe, O_CLOEXEC) != 0)
    lock_pipe[0] = lock_pipe[1] = -1;
}

/* A host with libuv (or any library with a pthread_atfork child handler
 * that closes descriptors it owned) must still get working workers. */
START_TEST(test_host_atfork_handler) {
  ck_assert_int_eq(pipe2(lock_pipe, O_CLOEXEC), 0);
  ck_assert_int_eq(pthread_atfork(NULL, NULL, host_atfork_child), 0);
  cf_executor *ex = ppool(1, 4096);
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "hi", 2, &f), 0);
  int rc = cf_future_bytes(f, 30, NULL, NULL);
  ck_assert_msg(rc == 0, "task failed: %s (%s)", cf_err_name(rc),
                cf_future_error_message(f));
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  close(lock_pipe[0]);
  close(lock_pipe[1]);
}
END_TEST

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("pf.t_big_result_then_die", t_big_result_then_die)
CF_TASK("pf.t_reply_then_die", t_reply_then_die)
CF_TASK("pf.t_die_soon", t_die_soon)
CF_TASK("pf.t_sum", t_sum)
CF_TASK("pf.t_index_or_crash", t_index_or_crash)
CF_TASK("pf.t_echo", t_echo)
CF_TASK("pf.t_sleep_10ms", t_sleep_10ms)
CF_TASK("pf.t_fake_frames", t_fake_frames)

Suite *cf_process_faults_suite(void) {
  Suite *s = suite_create("process_faults");
  TCase *tc = tcase_create("stages");
  cf_test_tcase_timeout(tc, 60);
  cf_test_tcase_census(tc);
  tcase_add_loop_test(tc, test_dies_writing_result, 0, 3);
  tcase_add_loop_test(tc, test_dies_after_replying, 0, 3);
  tcase_add_loop_test(tc, test_dies_reading_request, 0, 6);
  tcase_add_loop_test(tc, test_killed_idle_fails_nothing, 0, 2);
  suite_add_tcase(s, tc);
  tc = tcase_create("load");
  cf_test_tcase_timeout(tc, 120);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_crash_storm);
  tcase_add_test(tc, test_submit_never_waits_for_the_pool_thread);
  tcase_add_test(tc, test_recycling_leaves_no_zombies);
  tcase_add_test(tc, test_host_atfork_handler);
  tcase_add_test(tc, test_fake_worker_frames);
  suite_add_tcase(s, tc);
  return s;
}
