/* SPDX-License-Identifier: MIT */
/*
 * Scheduled tasks (cf_submit_after, cf_submit_every), built on timer
 * futures (timer.c): a task submitted to an executor when a timer fires.
 *
 * DESIGN. The caller gets a proxy future (the "scheduled" pseudo-executor;
 * its arg is the record). A record ties it to the pending timer, or, once
 * the timer has fired, to the task's own future: the record makes the task
 * future itself (so that it exists before it is queued and cancel can reach
 * it), adds a callback node and submits it. When the task is done, a
 * one-shot proxy completes with the task's outcome; a periodic one arms the
 * next timer (fixed rate: the previous deadline + period; fixed delay: the
 * task's end + period), and completes only when the task fails, a
 * submission or a timer fails, or it is cancelled.
 *
 * Cancelling the proxy (its vtable's cancel) while the timer is pending
 * cancels the timer (out of the heap) and the proxy; while the task is
 * queued, a one-shot proxy cancels the task, and ends cancelled through the
 * task's callback; while it runs, a one-shot cancel fails (the future is
 * the task's). A periodic proxy is always cancellable while pending: the
 * queued run is cancelled, a running one finishes and is not followed.
 * cf_future_request_cancel reaches the running task's cancel token.
 *
 * The record has one reference per node registered (timer, task, proxy)
 * and one for the creating call; it holds a reference to the proxy.
 *
 * LOCKING. rec->mu guards timer, task and stopped. It is taken in the
 * timer's and the task's callbacks and by cancel; nothing is completed and
 * no callback runs under it. Lock order: rec->mu, then the timer lock
 * (arming a timer) or a stripe lock (adding a node).
 */
#include "internal.h"

#include "cfutures/timer.h"

#include <stdlib.h>

static bool sched_cancel(cf_executor *ex, cf_future *proxy);
static void sched_request_cancel(cf_executor *ex, cf_future *proxy);

static const struct cf__executor_vtable sched_vt = {.kind = "scheduled",
                                                    .cancel = sched_cancel,
                                                    .request_cancel =
                                                        sched_request_cancel};
static cf_executor sched_ex = {.vt = &sched_vt};

struct sched {
  atomic_uint refs;
  pthread_mutex_t mu;
  cf_executor *ex;
  cf_fn fn;
  void *arg;
  bool periodic, fixed_delay;
  uint64_t period_ns;
  uint64_t due; /* the current timer's deadline */
  cf_future *proxy;
  struct cf__callback timer_node, task_node;
  /* Under mu. */
  cf_future *timer; /* armed timer (referenced), or NULL */
  cf_future *task;  /* task in flight (referenced), or NULL */
  bool stopped;     /* the proxy is done or being cancelled */
};

static void sched_unref(struct sched *s) {
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_mutex_destroy(&s->mu);
  cf_future_release(s->proxy);
  free(s);
}

static void on_timer(cf_future *timer, void *userdata);

/* Arms the timer for s->due. */
static int arm_locked(struct sched *s) {
  cf_future *t;
  int rc = cf__timer_at(s->due, &t);
  if (rc != 0)
    return rc;
  s->timer = t;
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  /* Pending for at least this instant, unless due now and already fired:
   * then run the callback ourselves, after the lock is dropped. */
  return cf__future_add_node(t, &s->timer_node) ? 0 : 1;
}

static void end_proxy(struct sched *s, int err, void *value, const char *msg,
                      bool cancelled) {
  char *copy = msg != NULL ? cf__strdup(msg) : NULL;
  cf__future_complete(s->proxy, cancelled ? CF_CANCELLED : CF_FINISHED, err,
                      value, copy);
}

static void on_task(cf_future *task, void *userdata) {
  struct sched *s = userdata;
  bool cancelled = cf__state(task) == CF_CANCELLED;
  int err = cancelled ? CF_ECANCELED : task->err;
  bool end = false;
  cf_future *fired = NULL; /* the new timer, if it fired before its node */
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  s->task = NULL;
  if (!s->stopped) {
    if (!s->periodic || err != 0) {
      end = true;
    } else {
      uint64_t now = cf_now_ns();
      s->due = s->fixed_delay ? now + s->period_ns : s->due + s->period_ns;
      rc = arm_locked(s);
      fired = rc == 1 ? s->timer : NULL;
      end = rc < 0;
    }
    s->stopped = end;
  }
  pthread_mutex_unlock(&s->mu);
  if (end && rc < 0)
    end_proxy(s, rc, NULL, "the next run could not be scheduled", false);
  else if (end)
    end_proxy(s, err, err == 0 ? task->value : NULL, task->msg, cancelled);
  if (fired != NULL)
    on_timer(fired, s);
  cf_future_release(task); /* the record's */
  sched_unref(s);
}

static void on_timer(cf_future *timer, void *userdata) {
  struct sched *s = userdata;
  cf_future *task = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->timer == timer)
    s->timer = NULL;
  bool go = !s->stopped && cf__state(timer) == CF_FINISHED;
  if (go && (task = cf__future_alloc(s->ex, s->fn, s->arg)) != NULL) {
    s->task = task; /* the allocation's reference */
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    cf__future_add_node(task, &s->task_node); /* pending and private */
  }
  if (go && task == NULL)
    s->stopped = true;
  pthread_mutex_unlock(&s->mu);
  cf_future_release(timer);
  if (go && task == NULL) {
    end_proxy(s, CF_ENOMEM, NULL, NULL, false);
  } else if (task != NULL && !cf__done(task)) {
    cf_future_retain(task); /* the queue's */
    int rc = cf__executor_submit_future(s->ex, task);
    if (rc != 0) {
      cf_future_release(task);
      cf__future_complete(task, CF_FINISHED, rc, NULL,
                          cf__strdup("the scheduled task could not be "
                                     "submitted"));
    }
  }
  sched_unref(s);
}

static bool sched_cancel(cf_executor *ex, cf_future *proxy) {
  (void)ex;
  struct sched *s = proxy->arg;
  pthread_mutex_lock(&s->mu);
  if (s->stopped) {
    pthread_mutex_unlock(&s->mu);
    return false;
  }
  cf_future *task = cf_future_retain(s->task);
  cf_future *timer = cf_future_retain(s->timer);
  /* A one-shot with its task out ends through the task's callback, if
   * the task can still be cancelled. */
  bool via_task = !s->periodic && task != NULL;
  if (!via_task)
    s->stopped = true;
  pthread_mutex_unlock(&s->mu);
  if (timer != NULL)
    cf_future_cancel(timer);
  if (task != NULL)
    cf_future_cancel(task);
  if (!via_task)
    cf__future_cancel_pending(proxy);
  cf_future_release(timer);
  cf_future_release(task);
  return cf__state(proxy) == CF_CANCELLED;
}

static void sched_request_cancel(cf_executor *ex, cf_future *proxy) {
  (void)ex;
  struct sched *s = proxy->arg;
  pthread_mutex_lock(&s->mu);
  cf_future *task = cf_future_retain(s->task);
  pthread_mutex_unlock(&s->mu);
  if (task != NULL)
    cf_future_request_cancel(task);
  cf_future_release(task);
}

static int schedule(cf_executor *ex, double delay, bool periodic,
                    bool fixed_delay, cf_fn fn, void *arg, cf_future **out) {
  uint64_t due;
  if (ex == NULL || fn == NULL || out == NULL || !ex->vt->takes_fn ||
      ex->vt->submit == NULL || cf__deadline(delay < 0 ? 0 : delay, &due) != 0)
    return CF_EINVAL;
  struct sched *s = calloc(1, sizeof *s);
  if (s == NULL)
    return CF_ENOMEM;
  cf_future *proxy = cf__future_alloc(&sched_ex, NULL, s);
  if (proxy == NULL || pthread_mutex_init(&s->mu, NULL) != 0) {
    if (proxy != NULL)
      cf__future_mem_free(proxy);
    free(s);
    return CF_ENOMEM;
  }
  s->ex = ex;
  s->fn = fn;
  s->arg = arg;
  s->periodic = periodic;
  s->fixed_delay = fixed_delay;
  s->period_ns = periodic ? (uint64_t)(delay * 1e9) : 0;
  s->due = due;
  s->proxy = proxy;
  s->timer_node = (struct cf__callback){.fn = on_timer, .userdata = s};
  s->task_node = (struct cf__callback){.fn = on_task, .userdata = s};
  atomic_init(&s->refs, 1); /* this call */
  pthread_mutex_lock(&s->mu);
  int rc = arm_locked(s);
  pthread_mutex_unlock(&s->mu);
  if (rc < 0) {
    pthread_mutex_destroy(&s->mu);
    cf__future_mem_free(proxy);
    free(s);
    return rc;
  }
  *out = cf_future_retain(proxy); /* the record keeps the allocation's */
  if (rc == 1)
    on_timer(s->timer, s);
  sched_unref(s);
  return 0;
}

int cf_submit_after(cf_executor *ex, double seconds, cf_fn fn, void *arg,
                    cf_future **out) {
  return schedule(ex, seconds, false, false, fn, arg, out);
}

int cf_submit_every(cf_executor *ex, double period, unsigned flags, cf_fn fn,
                    void *arg, cf_future **out) {
  if (period != period || period <= 0 || period > 1e9 ||
      (flags & ~(unsigned)CF_EVERY_FIXED_DELAY))
    return CF_EINVAL;
  return schedule(ex, period, true, flags & CF_EVERY_FIXED_DELAY, fn, arg, out);
}
