/* SPDX-License-Identifier: MIT */
/* The event-loop bridge on a plain epoll loop: delivery on the loop thread
 * while a 1 ms timer keeps ticking, dispatch bounds and order, one wake per
 * burst, cancellation and loop-side timeouts, closing with work in flight,
 * wrong-thread calls, several loops on one pool, every documented error. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* ---- tasks and a loop context ---- */

/* Sleeps 2-5 ms (by index) and returns its index. */
static int task_sleepy(void *arg, void **result) {
  cf_test_sleep_ms(2 + (double)((intptr_t)arg % 4));
  *result = arg;
  return 0;
}

/* Runs until asked to stop, then ends cancelled. */
static int task_until_cancelled(void *arg, void **result) {
  (void)arg;
  (void)result;
  uint64_t start = cf_now_ns();
  while (!cf_task_cancel_requested() && cf_test_elapsed(start) < 10)
    cf_test_sleep_ms(1);
  return CF_ECANCELED;
}

enum { MAXN = 1000 };

typedef struct loop_ctx {
  cf_bridge *b;
  cf_executor *pool;
  pthread_t loop_thread;
  int target; /* callbacks to wait for */
  int done;
  int wrong_thread;
  int bad;
  int seen[MAXN];
  int order[MAXN];
  int status[MAXN];
  int ticks;
  int wakes;
  int rescued; /* completions found only because epoll_wait timed out */
  size_t max;  /* per dispatch */
  size_t largest_batch;
  int resubmit; /* callbacks still to submit again */
} loop_ctx;

static void ctx_init(loop_ctx *c, cf_bridge *b, cf_executor *pool) {
  memset(c, 0, sizeof *c);
  c->b = b;
  c->pool = pool;
  c->loop_thread = pthread_self();
}

/* Records a delivery; the result (or, failing that, the userdata slot) says
 * which task it was. */
static void on_done_count(cf_future *f, int status, void *ud) {
  loop_ctx *c = ud;
  if (!pthread_equal(pthread_self(), c->loop_thread))
    c->wrong_thread++;
  void *v = NULL;
  if (status == 0 && cf_future_result(f, 0, &v) == 0 && (intptr_t)v < MAXN) {
    c->seen[(intptr_t)v]++;
    c->order[c->done < MAXN ? c->done : 0] = (int)(intptr_t)v;
  } else {
    c->bad++;
  }
  c->status[c->done < MAXN ? c->done : 0] = status;
  c->done++;
}

/* Records only the status and order of userdata slots. */
typedef struct slot {
  loop_ctx *c;
  int index;
} slot;

static void on_done_slot(cf_future *f, int status, void *ud) {
  (void)f;
  slot *s = ud;
  loop_ctx *c = s->c;
  if (!pthread_equal(pthread_self(), c->loop_thread))
    c->wrong_thread++;
  c->seen[s->index]++;
  c->order[c->done] = s->index;
  c->status[c->done] = status;
  c->done++;
}

/* Runs an epoll loop on this thread until c->target callbacks ran or
 * timeout seconds passed; with tick_ms > 0 a timerfd ticks alongside. */
static void run_epoll(loop_ctx *c, double tick_ms, double timeout) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  ck_assert_int_ge(ep, 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
  ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, cf_bridge_fd(c->b), &ev), 0);
  int tfd = -1;
  if (tick_ms > 0) {
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ck_assert_int_ge(tfd, 0);
    long ns = (long)(tick_ms * 1e6);
    struct itimerspec its = {{0, ns}, {0, ns}};
    ck_assert_int_eq(timerfd_settime(tfd, 0, &its, NULL), 0);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = 2};
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev), 0);
  }
  uint64_t start = cf_now_ns();
  double limit = cf_test_scale(timeout);
  while (c->done < c->target && cf_test_elapsed(start) < limit) {
    struct epoll_event evs[4];
    int ms = cf_bridge_next_timeout_ms(c->b);
    bool no_deadline = ms < 0;
    if (ms < 0 || ms > 100)
      ms = 100;
    int n = epoll_wait(ep, evs, 4, ms);
    bool bridge_ready = n == 0;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u32 == 2) {
        uint64_t exp;
        if (read(tfd, &exp, sizeof exp) == sizeof exp)
          c->ticks++;
      } else {
        bridge_ready = true;
        c->wakes++;
      }
    }
    if (bridge_ready) {
      size_t ran = 0;
      ck_assert_int_eq(cf_bridge_dispatch(c->b, c->max, &ran), 0);
      if (ran > c->largest_batch)
        c->largest_batch = ran;
      if (n == 0 && no_deadline && ran > 0)
        c->rescued++;
    }
  }
  if (tfd >= 0)
    close(tfd);
  close(ep);
}

static bool fd_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static cf_bridge *new_bridge(void) {
  cf_bridge *b = NULL;
  ck_assert_int_eq(cf_bridge_new(&b), 0);
  ck_assert_ptr_nonnull(b);
  return b;
}

static cf_future *new_future(void) {
  cf_future *f = NULL;
  ck_assert_int_eq(cf_future_new(&f), 0);
  return f;
}

/* ---- basics ---- */

static void never_called(cf_future *f, int status, void *ud) {
  (void)f;
  (void)status;
  (void)ud;
  ck_abort_msg("callback must not run");
}

START_TEST(test_null_arguments) {
  cf_bridge *b = new_bridge();
  cf_executor *pool = cf_test_pool(1);
  cf_future *f = new_future();
  ck_assert_int_eq(cf_bridge_new(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_fd(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_bind_thread(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_dispatch(NULL, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_next_timeout_ms(NULL), CF_EINVAL);
  ck_assert_uint_eq(cf_bridge_pending(NULL), 0);
  ck_assert_int_eq(cf_bridge_close(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_free(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit(NULL, pool, cf_test_task_identity, NULL,
                                    never_called, NULL, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit(b, NULL, cf_test_task_identity, NULL,
                                    never_called, NULL, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(
      cf_bridge_submit(b, pool, NULL, NULL, never_called, NULL, NULL),
      CF_EINVAL);
  ck_assert_int_eq(
      cf_bridge_submit(b, pool, cf_test_task_identity, NULL, NULL, NULL, NULL),
      CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch(NULL, f, never_called, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch(b, NULL, never_called, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch(b, f, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch_timeout(NULL, f, 1, never_called, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, NULL, 1, never_called, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, f, 1, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, f, NAN, never_called, NULL),
                   CF_EINVAL);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  ck_assert_int_eq(cf_bridge_next_timeout_ms(b), -1);
  size_t ran = 99;
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, &ran), 0);
  ck_assert_uint_eq(ran, 0);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_descriptor) {
  int before = cf_test_count_fds();
  cf_bridge *b = new_bridge();
  int fd = cf_bridge_fd(b);
  ck_assert_int_ge(fd, 0);
  ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
  ck_assert(!fd_readable(fd));
  ck_assert_int_eq(cf_test_count_fds(), before + 1);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_test_count_fds(), before);
}
END_TEST

/* The pipe fallback: a seccomp filter (in this test's own process) makes
 * eventfd fail with ENOSYS, as on a kernel without it. */
static bool deny_eventfd(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_eventfd2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & 0xffff)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

START_TEST(test_pipe_fallback) {
  if (!deny_eventfd())
    return; /* no seccomp here: nothing to test */
  ck_assert_int_lt(eventfd(0, EFD_CLOEXEC), 0);
  int before = cf_test_count_fds();
  cf_bridge *b = new_bridge();
  ck_assert_int_eq(cf_test_count_fds(), before + 2); /* a pipe */
  int fd = cf_bridge_fd(b);
  ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  enum { N = 10 };
  cf_future *fs[N];
  slot slots[N];
  for (int i = 0; i < N; i++) {
    fs[i] = new_future();
    slots[i] = (slot){&c, i};
    ck_assert_int_eq(cf_bridge_watch(b, fs[i], on_done_slot, &slots[i]), 0);
  }
  ck_assert(!fd_readable(fd));
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_future_set_result(fs[i], NULL), 0);
  size_t ran;
  for (int round = 0; round < 3; round++) {
    ck_assert(fd_readable(fd));
    ck_assert_int_eq(cf_bridge_dispatch(b, 4, &ran), 0);
  }
  ck_assert_uint_eq(ran, 2);
  ck_assert(!fd_readable(fd));
  ck_assert_int_eq(c.done, N);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(c.order[i], i);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_test_count_fds(), before);
}
END_TEST

/* ---- the main scenario: 500 blocking tasks, a ticking loop ---- */

START_TEST(test_epoll_500_tasks_timer_ticks) {
  cf_executor *pool = cf_test_pool(8);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  c.target = 500;
  c.max = 64;
  for (intptr_t i = 0; i < 500; i++)
    ck_assert_int_eq(cf_bridge_submit(b, pool, task_sleepy, (void *)i,
                                      on_done_count, &c, NULL),
                     0);
  ck_assert_uint_eq(cf_bridge_pending(b), 500);
  run_epoll(&c, 1, 30);
  ck_assert_int_eq(c.done, 500);
  ck_assert_int_eq(c.bad, 0);
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < 500; i++)
    ck_assert_int_eq(c.seen[i], 1);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  ck_assert_uint_le(c.largest_batch, 64);
  ck_assert_int_eq(c.rescued, 0);
  /* ~220 ms of work at 8 workers: a live loop ticks many times. */
  ck_assert_int_ge(c.ticks, 10);
  /* Nothing is delivered twice later on. */
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(c.done, 500);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* ---- delivery details ---- */

static int eventfd_count(int fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  FILE *fp = fopen(path, "r");
  if (fp == NULL)
    return -1;
  char line[256];
  int count = -1;
  while (fgets(line, sizeof line, fp) != NULL) {
    unsigned long long v;
    if (sscanf(line, "eventfd-count: %llx", &v) == 1)
      count = (int)v;
  }
  fclose(fp);
  return count;
}

START_TEST(test_burst_one_wake) {
  cf_executor *pool = cf_test_pool(1);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  enum { N = 200 };
  cf_future *fs[N];
  /* One task holds the worker; the rest queue behind it. */
  for (intptr_t i = 0; i < N; i++)
    ck_assert_int_eq(
        cf_bridge_submit(
            b, pool, i == 0 ? cf_test_task_gate : cf_test_task_identity,
            i == 0 ? (void *)&gate : (void *)i, on_done_count, &c, &fs[i]),
        0);
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, cf_test_scale(10)));
  ck_assert(!fd_readable(cf_bridge_fd(b)));
  cf_test_gate_open(&gate);
  ck_assert_int_eq(cf_wait(fs, N, cf_test_scale(10), CF_ALL_COMPLETED, NULL,
                           NULL, NULL, NULL),
                   0);
  /* Done callbacks run just after waiters wake: give the last ones time
   * to reach the bridge. */
  cf_test_sleep_ms(50);
  /* 200 completions, and the loop was woken once: one write. */
  ck_assert(fd_readable(cf_bridge_fd(b)));
  int count = eventfd_count(cf_bridge_fd(b));
  if (count >= 0)
    ck_assert_int_eq(count, 1);
  size_t ran = 0, total = 0;
  for (int round = 0; round < 100 && total < N; round++) {
    ck_assert_int_eq(cf_bridge_dispatch(b, 0, &ran), 0);
    total += ran;
    if (total < N)
      cf_test_sleep_ms(10);
  }
  ck_assert_uint_eq(total, N);
  ck_assert(!fd_readable(cf_bridge_fd(b)));
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < N; i++)
    cf_future_release(fs[i]);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

START_TEST(test_dispatch_bound_and_order) {
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  enum { N = 10 };
  static const int complete_order[N] = {5, 3, 8, 0, 9, 1, 7, 2, 6, 4};
  cf_future *fs[N];
  slot slots[N];
  for (int i = 0; i < N; i++) {
    fs[i] = new_future();
    slots[i] = (slot){&c, i};
    ck_assert_int_eq(cf_bridge_watch(b, fs[i], on_done_slot, &slots[i]), 0);
  }
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_future_set_result(fs[complete_order[i]], NULL), 0);
  size_t ran;
  const size_t expect[] = {3, 3, 3, 1};
  for (int round = 0; round < 4; round++) {
    /* Left-over completions keep the descriptor readable. */
    ck_assert(fd_readable(cf_bridge_fd(b)));
    ck_assert_int_eq(cf_bridge_dispatch(b, 3, &ran), 0);
    ck_assert_uint_eq(ran, expect[round]);
  }
  ck_assert(!fd_readable(cf_bridge_fd(b)));
  ck_assert_int_eq(c.done, N);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(c.order[i], complete_order[i]);
    ck_assert_int_eq(c.status[i], 0);
    ck_assert_int_eq(c.seen[i], 1);
  }
  for (int i = 0; i < N; i++)
    cf_future_release(fs[i]);
  ck_assert_int_eq(cf_bridge_free(b), 0);
}
END_TEST

static void on_done_late(cf_future *f, int status, void *ud) {
  loop_ctx *c = ud;
  void *v = NULL;
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(cf_future_result(f, 0, &v), 0);
  c->seen[(intptr_t)v]++;
  /* Completions that arrive during a max = 0 dispatch wait for the next. */
  if (c->done == 0) {
    cf_future *g = new_future();
    ck_assert_int_eq(cf_bridge_watch(c->b, g, on_done_late, c), 0);
    ck_assert_int_eq(cf_future_set_result(g, (void *)(intptr_t)7), 0);
    cf_future_release(g);
  }
  c->done++;
}

START_TEST(test_watch_done_and_user_futures) {
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_result(f, (void *)(intptr_t)3), 0);
  /* A done future is delivered at the next dispatch, not inline. */
  ck_assert_int_eq(cf_bridge_watch(b, f, on_done_late, &c), 0);
  ck_assert_int_eq(c.done, 0);
  cf_future_release(f); /* the bridge holds its own reference */
  ck_assert_uint_eq(cf_bridge_pending(b), 1);
  size_t ran;
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, &ran), 0);
  ck_assert_uint_eq(ran, 1);
  ck_assert_int_eq(c.seen[3], 1);
  ck_assert_uint_eq(cf_bridge_pending(b), 1);
  ck_assert(fd_readable(cf_bridge_fd(b)));
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, &ran), 0);
  ck_assert_uint_eq(ran, 1);
  ck_assert_int_eq(c.seen[7], 1);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  ck_assert_int_eq(cf_bridge_free(b), 0);
}
END_TEST

typedef struct twice {
  int calls;
  int status;
  pthread_t thread;
} twice;

static void on_done_twice(cf_future *f, int status, void *ud) {
  (void)f;
  twice *t = ud;
  t->calls++;
  t->status = status;
  t->thread = pthread_self();
}

/* Completes a future from another thread after 20 ms. */
static void *late_setter(void *arg) {
  cf_test_sleep_ms(20);
  cf_future_set_result(arg, NULL);
  return NULL;
}

START_TEST(test_one_future_two_bridges) {
  cf_bridge *b1 = new_bridge();
  cf_bridge *b2 = new_bridge();
  cf_future *f = new_future();
  twice t1a = {0}, t1b = {0}, t2 = {0};
  ck_assert_int_eq(cf_bridge_watch(b1, f, on_done_twice, &t1a), 0);
  ck_assert_int_eq(cf_bridge_watch(b1, f, on_done_twice, &t1b), 0);
  ck_assert_int_eq(cf_bridge_watch(b2, f, on_done_twice, &t2), 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, late_setter, f), 0);
  struct pollfd p[2] = {{.fd = cf_bridge_fd(b1), .events = POLLIN},
                        {.fd = cf_bridge_fd(b2), .events = POLLIN}};
  uint64_t start = cf_now_ns();
  while ((t1a.calls == 0 || t1b.calls == 0 || t2.calls == 0) &&
         cf_test_elapsed(start) < cf_test_scale(10)) {
    poll(p, 2, 100);
    ck_assert_int_eq(cf_bridge_dispatch(b1, 0, NULL), 0);
    ck_assert_int_eq(cf_bridge_dispatch(b2, 0, NULL), 0);
  }
  pthread_join(th, NULL);
  ck_assert_int_eq(t1a.calls, 1);
  ck_assert_int_eq(t1b.calls, 1);
  ck_assert_int_eq(t2.calls, 1);
  ck_assert(pthread_equal(t2.thread, pthread_self()));
  cf_future_release(f);
  ck_assert_int_eq(cf_bridge_free(b1), 0);
  ck_assert_int_eq(cf_bridge_free(b2), 0);
}
END_TEST

/* ---- cancellation and timeouts ---- */

START_TEST(test_cancel_from_loop) {
  cf_executor *pool = cf_test_pool(1);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_future *blocker, *f;
  ck_assert_int_eq(cf_submit(pool, cf_test_task_gate, &gate, &blocker), 0);
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, cf_test_scale(10)));
  slot s = {&c, 0};
  ck_assert_int_eq(cf_bridge_submit(b, pool, cf_test_task_identity, NULL,
                                    on_done_slot, &s, &f),
                   0);
  ck_assert(cf_future_cancel(f));
  ck_assert_int_eq(c.done, 0); /* delivered by dispatch, not by cancel */
  ck_assert(fd_readable(cf_bridge_fd(b)));
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.status[0], 0);
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(cf_future_result(f, 0, NULL), CF_ECANCELED);
  cf_test_gate_open(&gate);
  cf_future_release(blocker);
  cf_future_release(f);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

START_TEST(test_timeout_pending_and_running) {
  cf_executor *pool = cf_test_pool(1);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  cf_future *running, *pending;
  ck_assert_int_eq(cf_submit(pool, task_until_cancelled, NULL, &running), 0);
  ck_assert_int_eq(cf_submit(pool, cf_test_task_identity, NULL, &pending), 0);
  slot s0 = {&c, 0}, s1 = {&c, 1};
  ck_assert_int_eq(cf_bridge_next_timeout_ms(b), -1);
  /* The queued task's deadline comes first, so it is still queued then. */
  ck_assert_int_eq(cf_bridge_watch_timeout(b, pending, 0.03, on_done_slot, &s1),
                   0);
  /* A new earliest deadline wakes the loop so it can recompute. */
  ck_assert(fd_readable(cf_bridge_fd(b)));
  int ms = cf_bridge_next_timeout_ms(b);
  ck_assert_int_ge(ms, 0);
  ck_assert_int_le(ms, 30);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, running, 0.06, on_done_slot, &s0),
                   0);
  c.target = 2;
  run_epoll(&c, 0, 10);
  ck_assert_int_eq(c.done, 2);
  ck_assert_int_eq(c.order[0], 1);
  ck_assert_int_eq(c.order[1], 0);
  ck_assert_int_eq(c.status[0], CF_ETIMEDOUT);
  ck_assert_int_eq(c.status[1], CF_ETIMEDOUT);
  ck_assert_int_eq(c.wrong_thread, 0);
  /* The running task saw its cancel token; the queued one never ran. */
  ck_assert_int_eq(cf_future_result(running, cf_test_scale(5), NULL),
                   CF_ECANCELED);
  ck_assert(cf_future_cancelled(pending));
  ck_assert_int_eq(cf_bridge_next_timeout_ms(b), -1);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  cf_future_release(running);
  cf_future_release(pending);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_timeout_not_reached) {
  cf_executor *pool = cf_test_pool(2);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  cf_future *fs[20];
  for (intptr_t i = 0; i < 20; i++) {
    ck_assert_int_eq(cf_submit(pool, task_sleepy, (void *)i, &fs[i]), 0);
    /* Deadlines in mixed order exercise the heap. */
    ck_assert_int_eq(
        cf_bridge_watch_timeout(b, fs[i], 30 + (i * 7) % 11, on_done_count, &c),
        0);
  }
  ck_assert_int_gt(cf_bridge_next_timeout_ms(b), 1000);
  c.target = 20;
  run_epoll(&c, 0, 10);
  ck_assert_int_eq(c.done, 20);
  ck_assert_int_eq(c.bad, 0);
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(c.seen[i], 1);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_bridge_next_timeout_ms(b), -1);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_timeout_zero_and_negative) {
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  cf_future *f = new_future(), *g = new_future();
  slot s0 = {&c, 0}, s1 = {&c, 1};
  ck_assert_int_eq(cf_bridge_watch_timeout(b, f, 0, on_done_slot, &s0), 0);
  ck_assert_int_eq(cf_bridge_next_timeout_ms(b), 0);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, g, -1, on_done_slot, &s1), 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.status[0], CF_ETIMEDOUT);
  /* The user future was asked to cancel: it was pending, so it is. */
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(cf_bridge_next_timeout_ms(b), -1);
  ck_assert_int_eq(cf_future_set_result(g, NULL), 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(c.done, 2);
  ck_assert_int_eq(c.status[1], 0);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_bridge_free(b), 0);
}
END_TEST

/* ---- closing with work in flight ---- */

START_TEST(test_close_in_flight) {
  cf_executor *pool = cf_test_pool(2);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  enum { N = 40 };
  cf_future *fs[N];
  for (intptr_t i = 0; i < N; i++)
    ck_assert_int_eq(cf_bridge_submit(b, pool, task_sleepy, (void *)i,
                                      on_done_count, &c, &fs[i]),
                     0);
  /* Wait until at least one completion has reached the bridge. */
  struct pollfd p = {.fd = cf_bridge_fd(b), .events = POLLIN};
  ck_assert_int_eq(poll(&p, 1, (int)cf_test_scale(10000)), 1);
  cf_future *user = new_future();
  ck_assert_int_eq(cf_bridge_watch_timeout(b, user, 60, on_done_count, &c), 0);
  ck_assert_int_eq(cf_bridge_close(b), 0);
  /* Every callback ran, once, right away. */
  ck_assert_int_eq(c.done, N + 1);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  int delivered = 0, cancelled = 0;
  for (int i = 0; i < N + 1; i++) {
    if (c.status[i] == 0)
      delivered++;
    else if (c.status[i] == CF_ESHUTDOWN)
      cancelled++;
  }
  ck_assert_int_ge(delivered, 1);
  ck_assert_int_ge(cancelled, 1);
  ck_assert_int_eq(delivered + cancelled, N + 1);
  ck_assert_int_eq(c.wrong_thread, 0);
  ck_assert_int_eq(cf_bridge_close(b), CF_ESTATE);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), CF_ESTATE);
  ck_assert_int_eq(
      cf_bridge_submit(b, pool, task_sleepy, NULL, on_done_count, &c, NULL),
      CF_ESTATE);
  ck_assert_int_eq(cf_bridge_watch(b, user, on_done_count, &c), CF_ESTATE);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, user, 1, on_done_count, &c),
                   CF_ESTATE);
  int fd = cf_bridge_fd(b);
  ck_assert(fcntl(fd, F_GETFD) >= 0); /* open until free */
  ck_assert_int_eq(cf_bridge_free(b), 0);
  /* Late completions land on a freed bridge: nothing runs, nothing leaks. */
  ck_assert_int_eq(cf_future_set_result(user, NULL), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  ck_assert_int_eq(c.done, N + 1);
  for (int i = 0; i < N; i++)
    cf_future_release(fs[i]);
  cf_future_release(user);
}
END_TEST

START_TEST(test_free_in_flight) {
  int fds = cf_test_count_fds();
  cf_executor *pool = cf_test_pool(4);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  for (intptr_t i = 0; i < 100; i++)
    ck_assert_int_eq(cf_bridge_submit(b, pool, task_sleepy, (void *)i,
                                      on_done_count, &c, NULL),
                     0);
  cf_test_sleep_ms(10);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(c.done, 100);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  ck_assert_int_eq(c.done, 100);
  ck_assert_int_eq(cf_test_count_fds(), fds);
}
END_TEST

static void on_done_free_bridge(cf_future *f, int status, void *ud) {
  slot *s = ud;
  on_done_slot(f, status, ud);
  if (s->index == 1)
    ck_assert_int_eq(cf_bridge_free(s->c->b), 0);
  if (s->index == 2) /* delivered by the free above */
    ck_assert_int_eq(cf_bridge_dispatch(s->c->b, 0, NULL), CF_ESTATE);
}

START_TEST(test_free_from_callback) {
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  enum { N = 5 };
  cf_future *fs[N + 1];
  slot slots[N + 1];
  for (int i = 0; i <= N; i++) {
    fs[i] = new_future();
    slots[i] = (slot){&c, i};
    ck_assert_int_eq(cf_bridge_watch(b, fs[i], on_done_free_bridge, &slots[i]),
                     0);
  }
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_future_set_result(fs[i], NULL), 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 2, NULL), 0);
  /* The first two ran in the dispatch, the rest in the free: the done ones
   * with 0, the one never completed with CF_ESHUTDOWN. */
  ck_assert_int_eq(c.done, N + 1);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(c.order[i], i);
    ck_assert_int_eq(c.status[i], 0);
  }
  ck_assert_int_eq(c.order[N], N);
  ck_assert_int_eq(c.status[N], CF_ESHUTDOWN);
  ck_assert_int_eq(cf_future_set_result(fs[N], NULL), 0);
  for (int i = 0; i <= N; i++)
    cf_future_release(fs[i]);
}
END_TEST

/* A request as a server makes one: on the heap, read by its task. */
typedef struct request {
  cf_test_gate *gate; /* the task reads the request once past it */
  int in, out;
  atomic_int *freed;
  loop_ctx *c;
} request;

static int task_read_request(void *arg, void **result) {
  request *r = arg;
  cf_test_gate_pass(r->gate);
  r->out = 2 * r->in; /* after the bridge closed, for the running one */
  *result = NULL;
  return 0;
}

static void free_request(cf_future *f, void *ud) {
  request *r = ud;
  /* Only once the task is over: it ran to the end, or never ran. */
  ck_assert(cf_future_done(f));
  ck_assert(cf_future_cancelled(f) || r->out == 2 * r->in);
  atomic_fetch_add_explicit(r->freed, 1, memory_order_relaxed);
  free(r);
}

/* The pattern cf_bridge_fn documents. */
static void on_done_request(cf_future *f, int status, void *ud) {
  request *r = ud;
  loop_ctx *c = r->c;
  c->status[c->done++] = status;
  if (status != 0)
    cf_future_request_cancel(f);
  if (cf_future_on_done(f, free_request, r) != 0) {
    cf_future_wait(f, -1);
    free_request(f, r);
  }
}

/* A task still running when the bridge closes reads its heap argument
 * afterwards: the close status says so (CF_ESHUTDOWN, not a cancelled
 * task), and freeing on the future's own completion is what keeps ASan
 * quiet (freeing in the bridge callback is a use-after-free here). */
START_TEST(test_close_argument_lifetime) {
  cf_executor *pool = cf_test_pool(1);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  atomic_int freed = 0;
  enum { N = 3 };
  cf_future *fs[N];
  for (int i = 0; i < N; i++) {
    request *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    *r = (request){&gate, i + 1, 0, &freed, &c};
    ck_assert_int_eq(cf_bridge_submit(b, pool, task_read_request, r,
                                      on_done_request, r, &fs[i]),
                     0);
  }
  /* The first runs (held at the gate); the others wait in the queue. */
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, cf_test_scale(10)));
  ck_assert_int_eq(cf_bridge_close(b), 0);
  ck_assert_int_eq(c.done, N);
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(c.status[i], CF_ESHUTDOWN);
  ck_assert(cf_future_running(fs[0]));
  ck_assert(cf_future_cancelled(fs[1]) && cf_future_cancelled(fs[2]));
  /* The queued ones were freed at once, the running one is still read. */
  ck_assert_int_eq(atomic_load(&freed), N - 1);
  ck_assert_int_eq(cf_future_result(fs[1], 0, NULL), CF_ECANCELED);
  cf_test_gate_open(&gate);
  ck_assert_int_eq(cf_future_result(fs[0], cf_test_scale(10), NULL), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  ck_assert_int_eq(atomic_load(&freed), N);
  for (int i = 0; i < N; i++)
    cf_future_release(fs[i]);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

/* ---- threads ---- */

typedef struct thread_call {
  cf_bridge *b;
  int dispatch_rc, close_rc, free_rc, bind_rc, after_bind_rc;
} thread_call;

static void *other_thread(void *arg) {
  thread_call *t = arg;
  t->dispatch_rc = cf_bridge_dispatch(t->b, 0, NULL);
  t->close_rc = cf_bridge_close(t->b);
  t->free_rc = cf_bridge_free(t->b);
  return NULL;
}

static void *binding_thread(void *arg) {
  thread_call *t = arg;
  t->bind_rc = cf_bridge_bind_thread(t->b);
  t->after_bind_rc = cf_bridge_dispatch(t->b, 0, NULL);
  return NULL;
}

START_TEST(test_wrong_thread) {
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  cf_future *f = new_future();
  slot s = {&c, 0};
  ck_assert_int_eq(cf_bridge_watch(b, f, on_done_slot, &s), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0); /* binds */
  ck_assert_int_eq(c.done, 1);

  cf_future *g = new_future();
  slot s1 = {&c, 1};
  ck_assert_int_eq(cf_bridge_watch(b, g, on_done_slot, &s1), 0);
  ck_assert_int_eq(cf_future_set_result(g, NULL), 0);
  thread_call t = {.b = b};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &t), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(t.dispatch_rc, CF_EINVAL);
  ck_assert_int_eq(t.close_rc, CF_EINVAL);
  ck_assert_int_eq(t.free_rc, CF_EINVAL);
  ck_assert_int_eq(c.done, 1); /* nothing ran there, and nothing was lost */
  ck_assert(fd_readable(cf_bridge_fd(b)));
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(c.done, 2);

  /* Handing the loop over to another thread. */
  ck_assert_int_eq(pthread_create(&th, NULL, binding_thread, &t), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(t.bind_rc, 0);
  ck_assert_int_eq(t.after_bind_rc, 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_bind_thread(b), 0);
  cf_future_release(f);
  cf_future_release(g);
  ck_assert_int_eq(cf_bridge_free(b), 0);
}
END_TEST

static void on_done_nested(cf_future *f, int status, void *ud) {
  loop_ctx *c = ud;
  (void)f;
  (void)status;
  c->status[c->done++] = cf_bridge_dispatch(c->b, 0, NULL);
}

START_TEST(test_nested_dispatch_busy) {
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  ck_assert_int_eq(cf_bridge_watch(b, f, on_done_nested, &c), 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.status[0], CF_EBUSY);
  cf_future_release(f);
  ck_assert_int_eq(cf_bridge_free(b), 0);
}
END_TEST

static void on_done_resubmit(cf_future *f, int status, void *ud) {
  loop_ctx *c = ud;
  on_done_count(f, status, ud);
  if (c->resubmit > 0) {
    intptr_t next = c->target - c->resubmit;
    c->resubmit--;
    ck_assert_int_eq(cf_bridge_submit(c->b, c->pool, cf_test_task_identity,
                                      (void *)next, on_done_resubmit, c, NULL),
                     0);
  }
}

START_TEST(test_callback_submits_again) {
  cf_executor *pool = cf_test_pool(2);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  c.target = 300;
  c.resubmit = 299;
  ck_assert_int_eq(cf_bridge_submit(b, pool, cf_test_task_identity, (void *)0,
                                    on_done_resubmit, &c, NULL),
                   0);
  run_epoll(&c, 0, 30);
  ck_assert_int_eq(c.done, 300);
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < 300; i++) {
    ck_assert_int_eq(c.order[i], i);
    ck_assert_int_eq(c.seen[i], 1);
  }
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_many_executors_one_bridge) {
  cf_executor *pools[3] = {cf_test_pool(1), cf_test_pool(2), cf_test_pool(3)};
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  c.target = 300;
  for (intptr_t i = 0; i < 300; i++)
    ck_assert_int_eq(cf_bridge_submit(b, pools[i % 3], cf_test_task_identity,
                                      (void *)i, on_done_count, &c, NULL),
                     0);
  run_epoll(&c, 1, 30);
  ck_assert_int_eq(c.done, 300);
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < 300; i++)
    ck_assert_int_eq(c.seen[i], 1);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(cf_executor_free(pools[i]), 0);
}
END_TEST

typedef struct loop_thread {
  cf_executor *pool;
  loop_ctx c;
  int submit_errors;
  int free_rc;
} loop_thread;

static void *loop_main(void *arg) {
  loop_thread *lt = arg;
  cf_bridge *b = NULL;
  if (cf_bridge_new(&b) != 0)
    return NULL;
  ctx_init(&lt->c, b, lt->pool);
  lt->c.target = 200;
  lt->c.max = 16;
  for (intptr_t i = 0; i < 200; i++)
    if (cf_bridge_submit(b, lt->pool, task_sleepy, (void *)i, on_done_count,
                         &lt->c, NULL) != 0)
      lt->submit_errors++;
  run_epoll(&lt->c, 1, 30);
  lt->free_rc = cf_bridge_free(b);
  return NULL;
}

START_TEST(test_four_loops_one_pool) {
  cf_executor *pool = cf_test_pool(8);
  static loop_thread lts[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    memset(&lts[i], 0, sizeof lts[i]);
    lts[i].pool = pool;
    ck_assert_int_eq(pthread_create(&th[i], NULL, loop_main, &lts[i]), 0);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(lts[i].submit_errors, 0);
    ck_assert_int_eq(lts[i].c.done, 200);
    ck_assert_int_eq(lts[i].c.wrong_thread, 0);
    ck_assert_int_eq(lts[i].c.bad, 0);
    ck_assert_int_eq(lts[i].free_rc, 0);
    for (int k = 0; k < 200; k++)
      ck_assert_int_eq(lts[i].c.seen[k], 1);
  }
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_submit_errors) {
  cf_executor *pool = cf_test_pool(1);
  cf_bridge *b = new_bridge();
  ck_assert_int_eq(cf_shutdown(pool, CF_SHUTDOWN_WAIT), 0);
  cf_future *f = (cf_future *)(uintptr_t)1;
  ck_assert_int_eq(cf_bridge_submit(b, pool, cf_test_task_identity, NULL,
                                    never_called, NULL, &f),
                   CF_ESHUTDOWN);
  ck_assert_ptr_eq(f, (cf_future *)(uintptr_t)1);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

static int bytes_never_run(const void *in, size_t len, cf_buffer *out) {
  (void)in;
  (void)len;
  (void)out;
  return CF_ETASK;
}

/* cf_bridge_submit_bytes refuses what cf_submit_bytes refuses (a thread
 * pool takes no byte tasks), and a closed bridge, with on_done never run
 * and *out untouched. (Its successes, which need worker processes, are in
 * the bridge_process suite.) */
START_TEST(test_submit_bytes_errors) {
  cf_executor *pool = cf_test_pool(1);
  cf_bridge *b = new_bridge();
  int v = 1;
  cf_future *f = (cf_future *)(uintptr_t)1;
  ck_assert_int_eq(cf_bridge_submit_bytes(NULL, pool, bytes_never_run, &v,
                                          sizeof v, never_called, NULL, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit_bytes(b, NULL, bytes_never_run, &v,
                                          sizeof v, never_called, NULL, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit_bytes(b, pool, NULL, &v, sizeof v,
                                          never_called, NULL, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit_bytes(b, pool, bytes_never_run, &v,
                                          sizeof v, NULL, NULL, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit_bytes(b, pool, bytes_never_run, &v,
                                          sizeof v, never_called, NULL, &f),
                   CF_EINVAL);
  ck_assert_ptr_eq(f, (cf_future *)(uintptr_t)1);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  ck_assert_int_eq(cf_bridge_close(b), 0);
  ck_assert_int_eq(cf_bridge_submit_bytes(b, pool, bytes_never_run, &v,
                                          sizeof v, never_called, NULL, &f),
                   CF_ESTATE);
  ck_assert_ptr_eq(f, (cf_future *)(uintptr_t)1);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* RELIABILITY row 31: submit 10^4, cancel half from the loop, every
 * completion delivered once on the loop thread, no descriptor left. */
static void on_done_cancel_tally(cf_future *f, int status, void *ud) {
  loop_ctx *c = ud;
  if (status != 0 || !pthread_equal(pthread_self(), c->loop_thread))
    c->bad++;
  else if (cf_future_cancelled(f))
    c->status[0]++; /* cancelled ones */
  else if (cf_future_result(f, 0, NULL) == 0)
    c->status[1]++; /* finished ones */
  else
    c->bad++;
  c->done++;
}

START_TEST(test_submit_10k_cancel_half) {
  int fds = cf_test_count_fds();
  long n = cf_test_stress_count(10000);
  cf_executor *pool = cf_test_pool(2);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, pool);
  c.target = (int)n;
  c.max = 128;
  cf_future **fs = calloc((size_t)n, sizeof *fs);
  ck_assert_ptr_nonnull(fs);
  for (long i = 0; i < n; i++)
    ck_assert_int_eq(cf_bridge_submit(b, pool, cf_test_task_identity, (void *)i,
                                      on_done_cancel_tally, &c, &fs[i]),
                     0);
  int cancelled = 0;
  for (long i = 0; i < n; i += 2)
    cancelled += cf_future_cancel(fs[i]);
  run_epoll(&c, 0, 60);
  ck_assert_int_eq(c.done, (int)n);
  ck_assert_int_eq(c.bad, 0);
  ck_assert_int_eq(c.rescued, 0);
  ck_assert_int_eq(c.status[0], cancelled);
  ck_assert_int_eq(c.status[0] + c.status[1], (int)n);
  for (long i = 0; i < n; i++)
    cf_future_release(fs[i]);
  free(fs);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  ck_assert_int_eq(cf_test_count_fds(), fds);
}
END_TEST

/* ---- the wake protocol under load: no completion is ever stranded ---- */

typedef struct storm {
  cf_future **fs;
  long n;
  int stride, first;
} storm;

/* Completes every stride-th future, from its own thread. */
static void *storm_main(void *arg) {
  storm *st = arg;
  for (long i = st->first; i < st->n; i += st->stride) {
    cf_future_set_result(st->fs[i], (void *)(intptr_t)i);
    if ((i & 63) == 0)
      sched_yield();
  }
  return NULL;
}

static void on_done_tally(cf_future *f, int status, void *ud) {
  (void)f;
  loop_ctx *c = ud;
  if (status != 0 || !pthread_equal(pthread_self(), c->loop_thread))
    c->bad++;
  c->done++;
}

START_TEST(test_wake_storm) {
  long n = cf_test_stress_count(40000);
  cf_bridge *b = new_bridge();
  static loop_ctx c;
  ctx_init(&c, b, NULL);
  c.target = (int)n;
  c.max = 7; /* re-arms often, racing the completers */
  cf_future **fs = calloc((size_t)n, sizeof *fs);
  ck_assert_ptr_nonnull(fs);
  for (long i = 0; i < n; i++) {
    fs[i] = new_future();
    ck_assert_int_eq(cf_bridge_watch(b, fs[i], on_done_tally, &c), 0);
  }
  enum { T = 4 };
  storm st[T];
  pthread_t th[T];
  for (int t = 0; t < T; t++) {
    st[t] = (storm){fs, n, T, t};
    ck_assert_int_eq(pthread_create(&th[t], NULL, storm_main, &st[t]), 0);
  }
  /* A stranded completion would leave this loop asleep until its timeout. */
  run_epoll(&c, 0, 60);
  for (int t = 0; t < T; t++)
    pthread_join(th[t], NULL);
  ck_assert_int_eq(c.done, (int)n);
  ck_assert_int_eq(c.bad, 0);
  ck_assert_int_eq(c.rescued, 0);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  /* Nothing left behind: the descriptor is quiet after one more drain. */
  ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  ck_assert(!fd_readable(cf_bridge_fd(b)));
  for (long i = 0; i < n; i++)
    cf_future_release(fs[i]);
  free(fs);
  ck_assert_int_eq(cf_bridge_free(b), 0);
}
END_TEST

Suite *cf_bridge_suite(void) {
  Suite *s = suite_create("bridge");
  TCase *tc = tcase_create("basics");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_null_arguments);
  tcase_add_test(tc, test_descriptor);
  tcase_add_test(tc, test_pipe_fallback);
  tcase_add_test(tc, test_burst_one_wake);
  tcase_add_test(tc, test_dispatch_bound_and_order);
  tcase_add_test(tc, test_watch_done_and_user_futures);
  tcase_add_test(tc, test_one_future_two_bridges);
  tcase_add_test(tc, test_wrong_thread);
  tcase_add_test(tc, test_nested_dispatch_busy);
  tcase_add_test(tc, test_submit_errors);
  tcase_add_test(tc, test_submit_bytes_errors);
  suite_add_tcase(s, tc);

  tc = tcase_create("cancel_timeout");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_cancel_from_loop);
  tcase_add_test(tc, test_timeout_pending_and_running);
  tcase_add_test(tc, test_timeout_not_reached);
  tcase_add_test(tc, test_timeout_zero_and_negative);
  suite_add_tcase(s, tc);

  tc = tcase_create("close");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_close_in_flight);
  tcase_add_test(tc, test_free_in_flight);
  tcase_add_test(tc, test_free_from_callback);
  tcase_add_test(tc, test_close_argument_lifetime);
  suite_add_tcase(s, tc);

  tc = tcase_create("loops");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_epoll_500_tasks_timer_ticks);
  tcase_add_test(tc, test_callback_submits_again);
  tcase_add_test(tc, test_many_executors_one_bridge);
  tcase_add_test(tc, test_four_loops_one_pool);
  tcase_add_test(tc, test_wake_storm);
  tcase_add_test(tc, test_submit_10k_cancel_half);
  suite_add_tcase(s, tc);
  return s;
}
