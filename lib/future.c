/* SPDX-License-Identifier: MIT */
/*
 * Futures: one allocation, one atomic state word.
 *
 * WAITING. A thread waiting on one future sets CF__F_WAITERS in the state
 * word and sleeps on that word with a futex (FUTEX_WAIT_BITSET: an absolute
 * CLOCK_MONOTONIC deadline); the completer sees the flag in the CAS that
 * publishes the done state and wakes the word. The futex re-checks the
 * word in the kernel, so a wake-up cannot be lost between the check and
 * the sleep, and a future nobody waits on completes without a system call.
 * Waits on many futures (wait.c, as_completed.c) use callback nodes and a
 * condition variable of their own instead.
 *
 * LOCKING. Futures have no mutex of their own (it would double their size);
 * a fixed table of stripe mutexes, shared by address hash, guards the
 * callback lists. Completion itself is lock-free (see complete_at): the
 * stripe is taken only when the publishing CAS shows a callback.
 *
 * Lock order: an executor's lock may be held when a stripe lock is taken
 * (cancel), never the reverse. Done callbacks run with no lock held.
 */
#include "internal.h"
#include "spin.h"

#include <stdlib.h>
#include <string.h>

#define NSTRIPES 64

static struct stripe {
  pthread_mutex_t mu;
} __attribute__((aligned(64)))
stripes[NSTRIPES] = {[0 ... NSTRIPES - 1] = {PTHREAD_MUTEX_INITIALIZER}};

_Thread_local cf_future *cf__tls_current;
_Thread_local cf_executor *cf__tls_executor;
_Thread_local unsigned cf__tls_in_callback;
/* Message set by the running task; taken when it returns. */
static _Thread_local char *tls_msg;

static struct stripe *stripe_of(const cf_future *f) {
  uintptr_t h = (uintptr_t)f;
  h ^= h >> 12;
  return &stripes[(h >> 6) % NSTRIPES];
}

cf_future *cf__future_alloc(cf_executor *ex, cf_fn fn, void *arg) {
  cf_future *f = cf__future_mem_alloc();
  if (f == NULL)
    return NULL;
  *f = (cf_future){.ex = ex, .fn = fn, .arg = arg, .queued_ns = cf_now_ns()};
  atomic_init(&f->state, CF_PENDING);
  atomic_init(&f->refs, 1);
  return f;
}

int cf_future_new(cf_future **out) {
  if (out == NULL)
    return CF_EINVAL;
  cf_future *f = cf__future_alloc(NULL, NULL, NULL);
  if (f == NULL)
    return CF_ENOMEM;
  *out = f;
  return 0;
}

cf_future *cf_future_retain(cf_future *f) {
  if (f != NULL)
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

void cf_future_release(cf_future *f) {
  if (f == NULL)
    return;
  /* acq_rel: the last owner must see every other owner's writes. */
  if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* Only callbacks of a future that never completed can remain, and only
   * cf_future_on_done's: internal nodes are removed by their owners, who
   * hold references while they are registered. */
  struct cf__callback *cb = f->callbacks;
  while (cb != NULL) {
    struct cf__callback *next = cb->next;
    if (cb->heap)
      free(cb);
    cb = next;
  }
  if (f->value_free != NULL && f->value != NULL)
    f->value_free(f->value);
  free(f->msg);
  cf__future_mem_free(f);
}

/* Lets the executor move a PENDING future it began without a word. */
static void observe(const cf_future *f) {
  if (f->ex != NULL && f->ex->vt->observe != NULL && cf__state(f) == CF_PENDING)
    f->ex->vt->observe(f->ex, (cf_future *)f);
}

int cf_future_state(const cf_future *f) {
  if (f == NULL)
    return CF_EINVAL;
  observe(f);
  return (int)cf__state(f);
}

bool cf_future_cancelled(const cf_future *f) {
  return f != NULL && cf__state(f) == CF_CANCELLED;
}

bool cf_future_running(const cf_future *f) {
  if (f == NULL)
    return false;
  observe(f);
  return cf__state(f) == CF_RUNNING;
}

bool cf_future_done(const cf_future *f) {
  return f != NULL && cf__done(f);
}

bool cf__future_try_start(cf_future *f) {
  return cf__future_try_start_at(f, 0);
}

bool cf__future_try_start_at(cf_future *f, uint64_t now) {
  uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
  if ((old & CF__STATE_MASK) != CF_PENDING)
    return false;
  /* Written before the CAS that publishes RUNNING (release), so a reader
   * that sees RUNNING or FINISHED sees it. A cancelled future reports no
   * start whatever this wrote. */
  if (now == 0)
    now = cf_now_ns();
  /* A worker passes when its previous task ended; a task queued after that
   * instant started no earlier than it was queued. */
  f->started_ns = now > f->queued_ns ? now : f->queued_ns;
  do {
    if ((old & CF__STATE_MASK) != CF_PENDING || (old & CF__F_CLAIM))
      return false;
  } while (!atomic_compare_exchange_weak_explicit(
      &f->state, &old, (old & ~CF__STATE_MASK) | CF_RUNNING,
      memory_order_acq_rel, memory_order_relaxed));
  return true;
}

/* Runs callbacks detached from a done future, in the order they were
 * added (the list is kept newest first). */
static void run_callbacks(cf_future *f, struct cf__callback *cb) {
  struct cf__callback *rev = NULL;
  while (cb != NULL) {
    struct cf__callback *next = cb->next;
    cb->next = rev;
    rev = cb;
    cb = next;
  }
  while (rev != NULL) {
    struct cf__callback *next = rev->next;
    bool heap = rev->heap;
    cf__tls_in_callback++;
    rev->fn(f, rev->userdata); /* may free rev if it is internal */
    cf__tls_in_callback--;
    if (heap)
      free(rev);
    rev = next;
  }
}

/*
 * Moves f from a state in `from` (a bit mask of states) to `to`. A completer
 * first claims the future (CF__F_CLAIM, one CAS that fails if another
 * completer holds the claim or the state is not allowed), then writes the
 * outcome, which nobody else writes or reads before the state says done,
 * then publishes the done state (release). try_start refuses a claimed
 * future, so a cancel never races a start over the outcome. Waiters and
 * callbacks set their flag with a CAS that fails once the future is done,
 * so the publishing CAS sees every flag set before it: it then wakes the
 * waiters' futex, and takes the stripe lock only to take the callback
 * list. A future nobody waits on completes with two CASes, no lock and no
 * system call.
 */
static int complete_at(cf_future *f, unsigned from, uint32_t to, int err,
                       void *value, char *msg, uint64_t now) {
  uint32_t old = atomic_load_explicit(&f->state, memory_order_relaxed);
  do {
    if (!(from & (1u << (old & CF__STATE_MASK))) || (old & CF__F_CLAIM)) {
      free(msg);
      return CF_ESTATE;
    }
  } while (!atomic_compare_exchange_weak_explicit(
      &f->state, &old, old | CF__F_CLAIM, memory_order_acquire,
      memory_order_relaxed));
  f->value = value;
  f->err = err;
  f->msg = msg;
  f->finished_ns = now;
  old = atomic_load_explicit(&f->state, memory_order_relaxed);
  /* release: publishes the outcome to whoever sees the done state. */
  while (!atomic_compare_exchange_weak_explicit(
      &f->state, &old, (old & ~(CF__STATE_MASK | CF__F_CLAIM)) | to,
      memory_order_release, memory_order_relaxed))
    ;
  if (old & CF__F_WAITERS)
    cf__unpark_all(&f->state);
  if (!(old & CF__F_CALLBACKS))
    return 0;
  struct stripe *s = stripe_of(f);
  pthread_mutex_lock(&s->mu);
  struct cf__callback *cbs = f->callbacks;
  f->callbacks = NULL;
  pthread_mutex_unlock(&s->mu);
  /* A callback may drop the last reference someone else held. */
  cf_future_retain(f);
  run_callbacks(f, cbs);
  cf_future_release(f);
  return 0;
}

static int complete(cf_future *f, unsigned from, uint32_t to, int err,
                    void *value, char *msg) {
  return complete_at(f, from, to, err, value, msg, cf_now_ns());
}

#define FROM_PENDING (1u << CF_PENDING)
#define FROM_RUNNING (1u << CF_RUNNING)

int cf__future_complete(cf_future *f, int state, int err, void *value,
                        char *msg) {
  if (state == CF_CANCELLED)
    return complete(f, FROM_PENDING | FROM_RUNNING, CF_CANCELLED, CF_ECANCELED,
                    NULL, msg);
  return complete(f, FROM_PENDING | FROM_RUNNING, CF_FINISHED, err, value, msg);
}

bool cf__future_cancel_pending(cf_future *f) {
  return complete(f, FROM_PENDING, CF_CANCELLED, CF_ECANCELED, NULL, NULL) == 0;
}

static bool cancel_requested(const cf_future *f) {
  return (atomic_load_explicit(&f->state, memory_order_relaxed) &
          CF__F_CANCEL_REQ) ||
         (f->ex != NULL &&
          atomic_load_explicit(&f->ex->stop_running, memory_order_relaxed));
}

uint64_t cf__future_run_started(cf_future *f) {
  cf_future *prev = cf__tls_current;
  char *prev_msg = tls_msg;
  cf__tls_current = f;
  tls_msg = NULL;
  void *result = NULL;
  int rc = f->fn(f->arg, &result);
  char *msg = tls_msg;
  tls_msg = prev_msg;
  cf__tls_current = prev;
  uint64_t now = cf_now_ns();
  if (rc == 0) {
    free(msg);
    complete_at(f, FROM_RUNNING, CF_FINISHED, 0, result, NULL, now);
    return now;
  }
  if (rc > 0)
    rc = CF_ETASK;
  if (rc == CF_ECANCELED && cancel_requested(f))
    complete_at(f, FROM_RUNNING, CF_CANCELLED, CF_ECANCELED, NULL, msg, now);
  else
    complete_at(f, FROM_RUNNING, CF_FINISHED, rc, NULL, msg, now);
  return now;
}

/* Sets a flag unless f is done. Seeing the done
 * state is an acquire, so a caller told "done" sees the outcome and
 * everything the task wrote before it completed. */
static bool flag_unless_done(cf_future *f, uint32_t flag) {
  uint32_t old = atomic_load_explicit(&f->state, memory_order_acquire);
  do {
    if ((old & CF__STATE_MASK) >= CF_FINISHED)
      return false;
  } while (!atomic_compare_exchange_weak_explicit(
      &f->state, &old, old | flag, memory_order_acquire, memory_order_acquire));
  return true;
}

bool cf__future_add_node(cf_future *f, struct cf__callback *node) {
  struct stripe *s = stripe_of(f);
  pthread_mutex_lock(&s->mu);
  bool added = flag_unless_done(f, CF__F_CALLBACKS);
  if (added) {
    node->next = f->callbacks;
    f->callbacks = node;
  }
  pthread_mutex_unlock(&s->mu);
  return added;
}

bool cf__future_remove_node(cf_future *f, struct cf__callback *node) {
  struct stripe *s = stripe_of(f);
  pthread_mutex_lock(&s->mu);
  bool found = false;
  for (struct cf__callback **p = &f->callbacks; *p != NULL; p = &(*p)->next) {
    if (*p == node) {
      *p = node->next;
      found = true;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return found;
}

int cf_future_on_done(cf_future *f, cf_done_fn cb, void *userdata) {
  if (f == NULL || cb == NULL)
    return CF_EINVAL;
  struct cf__callback *node = malloc(sizeof *node);
  if (node == NULL)
    return CF_ENOMEM;
  node->fn = cb;
  node->userdata = userdata;
  node->heap = true;
  if (!cf__future_add_node(f, node)) {
    free(node);
    cb(f, userdata);
  }
  return 0;
}

static bool is_done(void *f) {
  return cf__done(f);
}

static bool executor_cpu_to_spare(void *ex) {
  cf_executor *e = ex;
  return e->vt->cpu_to_spare(e);
}

int cf__future_wait_until(cf_future *f, uint64_t deadline) {
  if (cf__done(f))
    return 0;
  cf_executor *ex = f->ex;
  /* A worker waiting on a task still queued on its own pool runs it: the
   * pool may have no other worker free to ever run it. */
  if (ex != NULL && ex == cf__tls_executor && ex->vt->run_inline != NULL &&
      ex->vt->run_inline(ex, f))
    return 0;
  /* A short task is often done within microseconds: poll first, within
   * the deadline, if a CPU is free for it (never when the workers keep
   * every CPU busy: the poll would slow the very task it waits for). The
   * state word is written once, by the completer, so polling it every
   * pause costs nobody else. */
  if (ex != NULL && ex->spin_us > 0 && ex->vt->cpu_to_spare != NULL &&
      ex->vt->cpu_to_spare(ex)) {
    unsigned spin = ex->spin_us;
    if (deadline != UINT64_MAX) {
      uint64_t now = cf_now_ns();
      uint64_t left_us = deadline > now ? (deadline - now) / 1000u : 0;
      spin = left_us < spin ? (unsigned)left_us : spin;
    }
    if (spin > 0 &&
        cf__spin_until(is_done, f, spin, 1, executor_cpu_to_spare, ex))
      return 0;
  }
  for (;;) {
    uint32_t old = atomic_load_explicit(&f->state, memory_order_acquire);
    if ((old & CF__STATE_MASK) >= CF_FINISHED)
      return 0;
    if (!(old & CF__F_WAITERS)) {
      if (!atomic_compare_exchange_weak_explicit(
              &f->state, &old, old | CF__F_WAITERS, memory_order_acquire,
              memory_order_acquire))
        continue;
      old |= CF__F_WAITERS;
    }
    if (deadline != UINT64_MAX && cf_now_ns() >= deadline)
      return CF_ETIMEDOUT;
    cf__park_until(&f->state, old, deadline);
  }
}

int cf_future_wait(cf_future *f, double timeout) {
  uint64_t deadline;
  if (f == NULL || cf__deadline(timeout, &deadline) != 0)
    return CF_EINVAL;
  return cf__future_wait_until(f, deadline);
}

int cf_future_result(cf_future *f, double timeout, void **out) {
  int rc = cf_future_wait(f, timeout);
  if (rc != 0)
    return rc;
  if (cf__state(f) == CF_CANCELLED)
    return CF_ECANCELED;
  if (f->err != 0)
    return f->err;
  if (out != NULL)
    *out = f->value;
  return 0;
}

int cf_future_error(cf_future *f, double timeout) {
  int rc = cf_future_wait(f, timeout);
  if (rc != 0)
    return rc;
  return cf__state(f) == CF_CANCELLED ? CF_ECANCELED : f->err;
}

const char *cf_future_error_message(const cf_future *f) {
  if (f == NULL || !cf__done(f) || f->err == 0)
    return NULL;
  return f->msg;
}

bool cf_future_cancel(cf_future *f) {
  if (f == NULL)
    return false;
  uint32_t st = cf__state(f);
  if (st == CF_PENDING) {
    if (f->ex != NULL && f->ex->vt->cancel != NULL)
      f->ex->vt->cancel(f->ex, f);
    else
      cf__future_cancel_pending(f);
    st = cf__state(f);
  }
  return st == CF_CANCELLED;
}

int cf_future_request_cancel(cf_future *f) {
  if (f == NULL)
    return CF_EINVAL;
  if (cf__done(f))
    return CF_ESTATE;
  if (cf_future_cancel(f))
    return 0;
  if (cf__done(f))
    return CF_ESTATE;
  atomic_fetch_or_explicit(&f->state, CF__F_CANCEL_REQ, memory_order_relaxed);
  if (f->ex != NULL && f->ex->vt->request_cancel != NULL)
    f->ex->vt->request_cancel(f->ex, f);
  return 0;
}

int cf_future_set_running(cf_future *f) {
  if (f == NULL || f->ex != NULL)
    return CF_EINVAL;
  if (cf__future_try_start(f))
    return 0;
  return cf__state(f) == CF_CANCELLED ? CF_ECANCELED : CF_ESTATE;
}

int cf_future_set_result(cf_future *f, void *value) {
  if (f == NULL || f->ex != NULL)
    return CF_EINVAL;
  return complete(f, FROM_PENDING | FROM_RUNNING, CF_FINISHED, 0, value, NULL);
}

int cf_future_set_error(cf_future *f, int err, const char *message) {
  if (f == NULL || f->ex != NULL || err >= 0)
    return CF_EINVAL;
  char *msg = NULL;
  if (message != NULL && (msg = cf__strdup(message)) == NULL) {
    int rc = cf__future_complete(
        f, err == CF_ECANCELED ? CF_CANCELLED : CF_FINISHED, err, NULL, NULL);
    return rc == 0 ? CF_ENOMEM : rc;
  }
  return cf__future_complete(
      f, err == CF_ECANCELED ? CF_CANCELLED : CF_FINISHED, err, NULL, msg);
}

int cf_future_times_get(const cf_future *f, cf_future_times *out) {
  if (f == NULL || out == NULL)
    return CF_EINVAL;
  out->queued_ns = f->queued_ns;
  observe(f);
  uint32_t st = cf__state(f);
  out->started_ns = st == CF_RUNNING || st == CF_FINISHED ? f->started_ns : 0;
  out->finished_ns = cf__done(f) ? f->finished_ns : 0;
  return 0;
}

bool cf_task_cancel_requested(void) {
  cf_future *f = cf__tls_current;
  return f != NULL && cancel_requested(f);
}

int cf_task_set_message(const char *message) {
  if (message == NULL)
    return CF_EINVAL;
  if (cf__tls_current == NULL)
    return CF_ESTATE;
  char *msg = cf__strdup(message);
  if (msg == NULL)
    return CF_ENOMEM;
  free(tls_msg);
  tls_msg = msg;
  return 0;
}

cf_future *cf_task_current(void) {
  return cf__tls_current;
}
