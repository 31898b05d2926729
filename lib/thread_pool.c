/* SPDX-License-Identifier: MIT */
/*
 * The thread pool executor (Python's ThreadPoolExecutor).
 *
 * DESIGN. A submit pushes its future onto the inbox, a lock-free stack (one
 * CAS), and takes the pool mutex only when a worker sleeps and must be
 * woken, or when a new worker should start. Workers, under the mutex, move
 * the whole inbox (reversed, so FIFO) onto the tail of the run queue and
 * take one task from its head. So a busy pool costs the submitter one CAS
 * per task and a worker one lock round trip per task, with no system call
 * while the workers keep up.
 * An idle worker polls for work for spin_us (yielding the CPU) before it
 * sleeps, so a steady stream of submits rarely needs a wake-up.
 *
 * Shutdown closes the inbox by swapping in a sentinel; a submit that finds
 * the sentinel fails, so no task is accepted once shutdown has taken the
 * inbox: nothing can be stranded after the last worker leaves. A failed
 * initializer closes it with another sentinel (broken).
 *
 * Workers start lazily: a submit starts one when no worker is idle (asleep
 * or spinning) and fewer than max_workers exist.
 *
 * A task is started by a CAS on its future (PENDING -> RUNNING), so cancel
 * (PENDING -> CANCELLED) may race a worker that has already taken the task:
 * whichever CAS wins decides, and whoever takes the future off the run
 * queue (or out of the inbox) drops the queue's reference. A worker that
 * waits on a future still pending on this pool runs it inline
 * (run_inline), so nested waits cannot starve the pool.
 *
 * Wake-ups cannot be lost: a worker about to sleep counts itself in
 * nsleeping (seq_cst) and then looks at the inbox (seq_cst), holding the
 * mutex until cond_wait releases it; a submit pushes (seq_cst) and then
 * reads nsleeping, and signals under the mutex. One of the two sees the
 * other. The queue bound uses the same pattern on pending/space_waiters.
 *
 * LOCKING. pool->mu guards the run queue, the worker counts and lists, and
 * the shutdown/broken flags. Futures are completed, and their callbacks
 * run, with pool->mu released; the lock order is pool->mu, then a future's
 * stripe lock (future.c), never the reverse. exit_mu guards exit_list, the
 * pools created with CF_POOL_JOIN_AT_EXIT; it is never held with pool->mu
 * and not while the exit handler waits. Task counters are per-worker
 * relaxed atomics written only by their worker, summed by stats.
 */
#include "internal.h"
#include "spin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inbox sentinels: no future lives at these addresses. */
#define INBOX_CLOSED ((cf_future *)1)
#define INBOX_BROKEN ((cf_future *)2)
#define IS_SENTINEL(p) ((uintptr_t)(p) <= 2 && (p) != NULL)

struct worker {
  struct worker *next;
  struct thread_pool *pool;
  pthread_t tid;
  unsigned id;
  /* Written only by this worker (relaxed load + store), read by stats. */
  atomic_uint_fast64_t completed, failed, cancelled;
  atomic_int running;
};

/* Fields are grouped by who writes them, each group on its own cache line,
 * so that the submitter's stores and the workers' do not keep stealing
 * one line from each other. */
#define CF__LINE 64

struct thread_pool {
  cf_executor base;
  struct thread_pool *exit_next; /* on exit_list, under exit_mu */
  /* Written by submitters. */
  _Alignas(CF__LINE) _Atomic(cf_future *) inbox;
  atomic_uint_fast64_t submitted;
  /* Written by both sides: tasks accepted and not yet taken by a worker
   * (inbox + run queue). */
  _Alignas(CF__LINE) atomic_size_t pending;
  /* Written by workers (under mu), read by submitters. */
  _Alignas(CF__LINE) atomic_int nsleeping; /* in cond_wait, or about to be */
  atomic_int nspinning;     /* workers polling before they sleep */
  atomic_int nstarting;     /* started, not yet looking for work */
  atomic_int nwaking;       /* signalled, not yet awake; written under mu */
  atomic_int nworkers;      /* alive; written under mu */
  atomic_int space_waiters; /* submitters waiting for room */
  atomic_uint_fast64_t cancelled_queued; /* cancelled before they ran */

  _Alignas(CF__LINE) pthread_mutex_t mu;
  pthread_cond_t work_cv;  /* idle workers wait for tasks */
  pthread_cond_t space_cv; /* submitters wait for room (max_queued) */
  pthread_cond_t exit_cv;  /* shutdown(WAIT) waits for workers to exit */
  cf_future *head, *tail;  /* run queue */
  int max_workers;
  int nretire;
  bool shutdown, broken;
  struct worker *live;   /* running workers */
  struct worker *exited; /* exited, waiting to be joined */
  unsigned next_id;
  /* Counters of workers that exited, folded in at exit. */
  uint64_t completed, failed, cancelled;

  /* Options, fixed at creation. */
  char prefix[16];
  cf_init_fn initializer;
  void *initargs;
  size_t max_queued;
  unsigned flags;
  int ncpus; /* cf_cpu_count() at creation */
};

static _Thread_local struct worker *tls_worker;

/* cf_future.in_queue, under the pool lock. */
enum { QUEUED = 1, DROPPED = 2 };

static struct thread_pool *pool_of(cf_executor *ex) {
  return (struct thread_pool *)ex;
}

/* Pools that exit waits for (CF_POOL_JOIN_AT_EXIT). */
static pthread_mutex_t exit_mu = PTHREAD_MUTEX_INITIALIZER;
static struct thread_pool *exit_list;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_registered = -1; /* atexit's result */

static int pool_shutdown(cf_executor *ex, unsigned flags);

/* The atexit handler: waits for every registered pool, unless waiting
 * could deadlock -- exit called from a done callback, which a task may be
 * waiting for, or from a pool's own worker (that pool is skipped). The
 * list is taken whole, so a pool freed meanwhile is not waited for twice;
 * freeing one of these pools while exit runs is the program's error. */
static void join_at_exit(void) {
  pthread_mutex_lock(&exit_mu);
  struct thread_pool *list = exit_list;
  exit_list = NULL;
  pthread_mutex_unlock(&exit_mu);
  if (cf__tls_in_callback > 0)
    return;
  for (struct thread_pool *p = list; p != NULL; p = p->exit_next)
    if (cf__tls_executor != &p->base)
      pool_shutdown(&p->base, CF_SHUTDOWN_WAIT);
}

static void exit_register_once(void) {
  exit_registered = atexit(join_at_exit);
}

static int exit_list_add(struct thread_pool *p) {
  pthread_once(&exit_once, exit_register_once);
  if (exit_registered != 0)
    return CF_ENOMEM;
  pthread_mutex_lock(&exit_mu);
  p->exit_next = exit_list;
  exit_list = p;
  pthread_mutex_unlock(&exit_mu);
  return 0;
}

static void exit_list_remove(struct thread_pool *p) {
  pthread_mutex_lock(&exit_mu);
  for (struct thread_pool **q = &exit_list; *q != NULL; q = &(*q)->exit_next)
    if (*q == p) {
      *q = p->exit_next;
      break;
    }
  pthread_mutex_unlock(&exit_mu);
}

void cf_thread_pool_options_init(cf_thread_pool_options *opts) {
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof *opts);
  int n = cf_cpu_count() + 4;
  opts->max_workers = n < 32 ? n : 32;
  opts->spin_us = 50;
}

/* Appends a list of futures (newest first, as the inbox holds them) to the
 * run queue in submission order. */
static void queue_append_reversed_locked(struct thread_pool *p,
                                         cf_future *list) {
  cf_future *first = NULL, *last = list;
  while (list != NULL) {
    cf_future *next = list->qnext;
    list->qnext = first;
    list->in_queue = QUEUED;
    first = list;
    list = next;
  }
  if (first == NULL)
    return;
  if (p->tail != NULL)
    p->tail->qnext = first;
  else
    p->head = first;
  p->tail = last;
}

/* Moves what was submitted since the last call onto the run queue. */
static void drain_inbox_locked(struct thread_pool *p) {
  cf_future *list = atomic_load_explicit(&p->inbox, memory_order_acquire);
  do {
    if (list == NULL || IS_SENTINEL(list))
      return;
  } while (!atomic_compare_exchange_weak_explicit(
      &p->inbox, &list, NULL, memory_order_acquire, memory_order_acquire));
  queue_append_reversed_locked(p, list);
}

static void wake_space_waiters(struct thread_pool *p) {
  if (p->max_queued != 0 && atomic_load(&p->space_waiters) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->space_cv);
    pthread_mutex_unlock(&p->mu);
  }
}

/* Takes a future that left pending (cancelled, or run inline) out of the
 * count and frees its slot; it stays on the run queue, a singly linked
 * list, until a worker pops it and drops the queue's reference. */
static void queue_drop_locked(struct thread_pool *p, cf_future *f) {
  f->in_queue = DROPPED;
  atomic_fetch_sub(&p->pending, 1);
}

/* Takes the whole run queue out (shutdown with cancel, broken pool). */
static cf_future *queue_detach_locked(struct thread_pool *p) {
  cf_future *list = p->head;
  size_t n = 0;
  for (cf_future *f = list; f != NULL; f = f->qnext) {
    n += f->in_queue == QUEUED;
    f->in_queue = 0;
  }
  p->head = p->tail = NULL;
  atomic_fetch_sub(&p->pending, n);
  pthread_cond_broadcast(&p->space_cv);
  return list;
}

/* Closes the inbox with a sentinel and queues what it held. */
static void close_inbox_locked(struct thread_pool *p, cf_future *sentinel) {
  cf_future *list = atomic_load(&p->inbox);
  do {
    if (list == INBOX_BROKEN)
      return; /* broken stays broken */
  } while (!atomic_compare_exchange_weak(&p->inbox, &list, sentinel));
  if (!IS_SENTINEL(list))
    queue_append_reversed_locked(p, list);
}

static void count(atomic_uint_fast64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

static void count_outcome(struct worker *w, cf_future *f) {
  if (cf__state(f) == CF_CANCELLED)
    count(&w->cancelled);
  else if (f->err != 0)
    count(&w->failed);
  else
    count(&w->completed);
}

/* Runs a task this worker took from the queue and drops the queue's
 * reference. *now is when the worker's previous task finished (0 if it
 * has been idle since), which is when this one starts. */
static void run_task(struct worker *w, cf_future *f, uint64_t *now) {
  if (cf__future_try_start_at(f, *now)) {
    atomic_fetch_add_explicit(&w->running, 1, memory_order_relaxed);
    *now = cf__future_run_started(f);
    atomic_fetch_sub_explicit(&w->running, 1, memory_order_relaxed);
    count_outcome(w, f);
  }
  cf_future_release(f);
}

/* The initializer failed: no task will ever run here again. */
static void break_pool(struct thread_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->broken = true;
  close_inbox_locked(p, INBOX_BROKEN);
  cf_future *list = queue_detach_locked(p);
  pthread_cond_broadcast(&p->work_cv);
  pthread_mutex_unlock(&p->mu);
  while (list != NULL) {
    cf_future *next = list->qnext;
    char *msg = cf__strdup("the pool's initializer failed");
    cf__future_complete(list, CF_FINISHED, CF_EBROKEN, NULL, msg);
    cf_future_release(list);
    list = next;
  }
}

/* Workers that are neither asleep nor polling (this one included, when a
 * worker asks), plus `extra` pollers, fit on the CPUs: polling then takes
 * no CPU a task could use. Racy reads: a hint. */
static bool cpus_to_spare(struct thread_pool *p, int extra) {
  int busy = atomic_load_explicit(&p->nworkers, memory_order_relaxed) -
             atomic_load_explicit(&p->nsleeping, memory_order_relaxed) -
             atomic_load_explicit(&p->nspinning, memory_order_relaxed);
  return busy + extra <= p->ncpus;
}

/* A thread about to wait on one of the pool's futures. */
static bool pool_cpu_to_spare(cf_executor *ex) {
  return cpus_to_spare(pool_of(ex), 1);
}

/* A worker about to poll for work. */
static bool worker_cpu_to_spare(void *arg) {
  return cpus_to_spare(arg, 0);
}

static bool has_work(void *arg) {
  struct thread_pool *p = arg;
  return atomic_load_explicit(&p->pending, memory_order_relaxed) > 0;
}

/* Moves a worker from one idle counter to another (NULL = none). Under
 * the lock. It removes before it adds: a racy reader may briefly count one
 * idle worker too few (and then decides under the lock) but never one too
 * many, which could leave a task without a worker. */
static void recount(atomic_int **counted, atomic_int *to) {
  if (*counted == to)
    return;
  if (*counted != NULL)
    atomic_fetch_sub(*counted, 1);
  if (to != NULL)
    atomic_fetch_add(to, 1);
  *counted = to;
}

static bool should_exit_locked(struct thread_pool *p) {
  return p->nretire > 0 || p->broken ||
         (p->shutdown && p->head == NULL &&
          IS_SENTINEL(atomic_load(&p->inbox)));
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct thread_pool *p = w->pool;
  char name[32];
  snprintf(name, sizeof name, "%s_%u", p->prefix, w->id);
  name[15] = '\0'; /* the kernel's limit */
  pthread_setname_np(pthread_self(), name);
  tls_worker = w;
  cf__tls_executor = &p->base;

  if (p->initializer != NULL && p->initializer(p->initargs) != 0)
    break_pool(p);

  bool spun = false;
  /* When the previous task finished: the next one starts then, unless the
   * worker idled in between. One clock read per task, not two. */
  uint64_t now = 0;
  /* The idle counter this worker is in. It stays counted (starting,
   * spinning, or asleep) until it has taken a task, so a submit never sees
   * a task in pending that no counted worker is about to take, and never
   * starts a worker it does not need. Counters change under the lock
   * (except nstarting's initial increment) and a woken worker takes its
   * task before it releases the lock. */
  atomic_int *counted = &p->nstarting;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (p->head == NULL)
      drain_inbox_locked(p);
    if (p->head == NULL || p->nretire > 0 || p->broken) {
      if (should_exit_locked(p)) {
        if (p->nretire > 0)
          p->nretire--;
        break;
      }
      if (!spun && p->base.spin_us > 0 && cpus_to_spare(p, 0)) {
        spun = true;
        recount(&counted, &p->nspinning);
        pthread_mutex_unlock(&p->mu);
        /* The pending count is written by every submit: each look steals
         * its cache line from the submitter, so look less and less often
         * (up to 8 pauses apart). */
        cf__spin_until(has_work, p, p->base.spin_us, 8, worker_cpu_to_spare, p);
        now = 0;
        pthread_mutex_lock(&p->mu);
        continue;
      }
      recount(&counted, &p->nsleeping);
      /* Look again after counting ourselves asleep: a submit that pushed
       * before it could see us is found here. */
      cf_future *in = atomic_load(&p->inbox);
      if (in == NULL || IS_SENTINEL(in)) {
        pthread_cond_wait(&p->work_cv, &p->mu);
        if (atomic_load(&p->nwaking) > 0)
          atomic_fetch_sub(&p->nwaking, 1);
      }
      now = 0;
      continue;
    }
    spun = false;
    /* One task at a time: a task that blocks must not hold others
     * hostage while a worker is free. The submitter never takes this lock,
     * so the cost is one lock round trip per task between workers only. */
    cf_future *f = p->head;
    p->head = f->qnext;
    if (p->head == NULL)
      p->tail = NULL;
    bool counted_pending = f->in_queue == QUEUED;
    f->in_queue = 0;
    /* Uncounted as idle before the task leaves pending: see pool_submit. */
    recount(&counted, NULL);
    if (counted_pending)
      atomic_fetch_sub(&p->pending, 1);
    /* Tasks remain and someone sleeps: let them help. */
    if (p->head != NULL &&
        atomic_load(&p->nsleeping) > atomic_load(&p->nwaking)) {
      atomic_fetch_add(&p->nwaking, 1);
      pthread_cond_signal(&p->work_cv);
    }
    if (p->max_queued != 0 && atomic_load(&p->space_waiters) > 0)
      pthread_cond_broadcast(&p->space_cv);
    pthread_mutex_unlock(&p->mu);
    run_task(w, f, &now);
    pthread_mutex_lock(&p->mu);
  }
  recount(&counted, NULL);
  /* Exit: hand the record over for joining. */
  for (struct worker **q = &p->live; *q != NULL; q = &(*q)->next) {
    if (*q == w) {
      *q = w->next;
      break;
    }
  }
  w->next = p->exited;
  p->exited = w;
  p->completed += atomic_load_explicit(&w->completed, memory_order_relaxed);
  p->failed += atomic_load_explicit(&w->failed, memory_order_relaxed);
  p->cancelled += atomic_load_explicit(&w->cancelled, memory_order_relaxed);
  if (atomic_fetch_sub(&p->nworkers, 1) == 1)
    pthread_cond_broadcast(&p->exit_cv);
  /* Work queued behind a retiring worker still needs a taker. */
  if (p->head != NULL &&
      atomic_load(&p->nsleeping) > atomic_load(&p->nwaking)) {
    atomic_fetch_add(&p->nwaking, 1);
    pthread_cond_signal(&p->work_cv);
  }
  pthread_mutex_unlock(&p->mu);
  tls_worker = NULL;
  cf__tls_executor = NULL;
  return NULL;
}

static int start_worker_locked(struct thread_pool *p) {
  struct worker *w = calloc(1, sizeof *w);
  if (w == NULL)
    return CF_ENOMEM;
  w->pool = p;
  w->id = p->next_id++;
  atomic_fetch_add(&p->nstarting, 1);
  if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
    atomic_fetch_sub(&p->nstarting, 1);
    free(w);
    return CF_EAGAIN;
  }
  w->next = p->live;
  p->live = w;
  atomic_fetch_add(&p->nworkers, 1);
  return 0;
}

static bool is_worker_thread(cf_executor *ex) {
  return cf__tls_executor == ex;
}

/* Waits for room under max_queued. Returns 0 once a slot is reserved in
 * pending, or an error. */
static int reserve_slot(struct thread_pool *p, cf_executor *ex) {
  size_t before = atomic_fetch_add(&p->pending, 1);
  if (p->max_queued == 0 || before < p->max_queued || is_worker_thread(ex))
    return 0;
  atomic_fetch_sub(&p->pending, 1);
  if (p->flags & CF_POOL_NONBLOCK)
    return CF_EAGAIN;
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->space_waiters, 1);
  int rc = 0;
  for (;;) {
    if (p->broken || p->shutdown) {
      rc = p->broken ? CF_EBROKEN : CF_ESHUTDOWN;
      break;
    }
    before = atomic_fetch_add(&p->pending, 1);
    if (before < p->max_queued)
      break;
    atomic_fetch_sub(&p->pending, 1);
    pthread_cond_wait(&p->space_cv, &p->mu);
  }
  atomic_fetch_sub(&p->space_waiters, 1);
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* The first worker starts before the first task is accepted, so a pool
 * that cannot start a thread refuses work instead of stranding it; after
 * that at least one worker lives until shutdown (resize never goes below
 * one). */
static int ensure_first_worker(struct thread_pool *p) {
  if (atomic_load(&p->nworkers) > 0)
    return 0;
  pthread_mutex_lock(&p->mu);
  int rc = 0;
  if (atomic_load(&p->nworkers) == 0 && !p->shutdown && !p->broken)
    rc = start_worker_locked(p);
  pthread_mutex_unlock(&p->mu);
  return rc;
}

static int pool_submit(cf_executor *ex, cf_future *f) {
  struct thread_pool *p = pool_of(ex);
  int rc = ensure_first_worker(p);
  if (rc == 0)
    rc = reserve_slot(p, ex);
  if (rc != 0)
    return rc;
  cf_future *head = atomic_load_explicit(&p->inbox, memory_order_relaxed);
  do {
    if (IS_SENTINEL(head)) {
      atomic_fetch_sub(&p->pending, 1);
      return head == INBOX_BROKEN ? CF_EBROKEN : CF_ESHUTDOWN;
    }
    f->qnext = head;
  } while (!atomic_compare_exchange_weak(&p->inbox, &head, f));
  atomic_fetch_add_explicit(&p->submitted, 1, memory_order_relaxed);

  /* A worker that is asleep, spinning or starting will take a task each;
   * beyond those, start one more (Python's rule: no idle worker, start
   * one). These are racy reads, settled under the lock, and ordered so
   * that they never show more idle workers than there are: pending is read
   * first, and a worker leaves the idle counts before its task leaves
   * pending, so an idle count read afterwards is no older than it. */
  size_t pending = atomic_load(&p->pending);
  int sleeping = atomic_load(&p->nsleeping);
  size_t idle = (size_t)(sleeping + atomic_load(&p->nspinning) +
                         atomic_load(&p->nstarting));
  if (sleeping > atomic_load(&p->nwaking) ||
      (pending > idle &&
       atomic_load_explicit(&p->nworkers, memory_order_relaxed) <
           p->max_workers)) {
    pthread_mutex_lock(&p->mu);
    idle = (size_t)(atomic_load(&p->nsleeping) + atomic_load(&p->nspinning) +
                    atomic_load(&p->nstarting));
    if (atomic_load(&p->nsleeping) > atomic_load(&p->nwaking)) {
      atomic_fetch_add(&p->nwaking, 1);
      pthread_cond_signal(&p->work_cv);
    } else if (atomic_load(&p->pending) > idle &&
               atomic_load(&p->nworkers) < p->max_workers && !p->shutdown) {
      start_worker_locked(p); /* if it fails, the live workers get to it */
    }
    pthread_mutex_unlock(&p->mu);
  }
  return 0;
}

static void join_exited(struct thread_pool *p) {
  pthread_mutex_lock(&p->mu);
  struct worker *list = p->exited;
  p->exited = NULL;
  pthread_mutex_unlock(&p->mu);
  while (list != NULL) {
    struct worker *next = list->next;
    pthread_join(list->tid, NULL);
    free(list);
    list = next;
  }
}

static int pool_shutdown(cf_executor *ex, unsigned flags) {
  struct thread_pool *p = pool_of(ex);
  pthread_mutex_lock(&p->mu);
  p->shutdown = true;
  close_inbox_locked(p, INBOX_CLOSED);
  cf_future *cancel = NULL;
  if (flags & CF_SHUTDOWN_CANCEL_FUTURES) {
    cancel = queue_detach_locked(p);
    atomic_store(&p->base.stop_running, true);
  }
  pthread_cond_broadcast(&p->work_cv);
  pthread_cond_broadcast(&p->space_cv);
  pthread_mutex_unlock(&p->mu);
  while (cancel != NULL) {
    cf_future *next = cancel->qnext;
    if (cf__future_cancel_pending(cancel))
      atomic_fetch_add_explicit(&p->cancelled_queued, 1, memory_order_relaxed);
    cf_future_release(cancel);
    cancel = next;
  }
  if (!(flags & CF_SHUTDOWN_WAIT))
    return 0;
  if (is_worker_thread(ex))
    return CF_EDEADLK;
  pthread_mutex_lock(&p->mu);
  while (atomic_load(&p->nworkers) > 0)
    pthread_cond_wait(&p->exit_cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
  join_exited(p);
  return 0;
}

static void pool_destroy(cf_executor *ex) {
  struct thread_pool *p = pool_of(ex);
  if (p->flags & CF_POOL_JOIN_AT_EXIT)
    exit_list_remove(p);
  join_exited(p);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->work_cv);
  pthread_cond_destroy(&p->space_cv);
  pthread_cond_destroy(&p->exit_cv);
  free(p);
}

static int pool_stats(cf_executor *ex, cf_executor_stats *out) {
  struct thread_pool *p = pool_of(ex);
  cf_executor_stats s = {0};
  pthread_mutex_lock(&p->mu);
  s.workers = (size_t)atomic_load(&p->nworkers);
  s.idle = (size_t)(atomic_load(&p->nsleeping) + atomic_load(&p->nspinning));
  s.queued = atomic_load(&p->pending);
  s.max_workers = (size_t)p->max_workers;
  s.submitted = atomic_load_explicit(&p->submitted, memory_order_relaxed);
  s.completed = p->completed;
  s.failed = p->failed;
  s.cancelled = p->cancelled + atomic_load_explicit(&p->cancelled_queued,
                                                    memory_order_relaxed);
  for (struct worker *w = p->live; w != NULL; w = w->next) {
    s.completed += atomic_load_explicit(&w->completed, memory_order_relaxed);
    s.failed += atomic_load_explicit(&w->failed, memory_order_relaxed);
    s.cancelled += atomic_load_explicit(&w->cancelled, memory_order_relaxed);
    s.running +=
        (size_t)atomic_load_explicit(&w->running, memory_order_relaxed);
  }
  pthread_mutex_unlock(&p->mu);
  *out = s;
  return 0;
}

static int pool_resize(cf_executor *ex, int max_workers) {
  struct thread_pool *p = pool_of(ex);
  pthread_mutex_lock(&p->mu);
  if (p->shutdown || p->broken) {
    pthread_mutex_unlock(&p->mu);
    return CF_ESHUTDOWN;
  }
  p->max_workers = max_workers;
  int excess = atomic_load(&p->nworkers) - p->nretire - max_workers;
  if (excess > 0) {
    p->nretire += excess;
    pthread_cond_broadcast(&p->work_cv);
  }
  /* Growing: start workers for what is queued now. */
  drain_inbox_locked(p);
  size_t idle =
      (size_t)(atomic_load(&p->nsleeping) + atomic_load(&p->nspinning));
  while (atomic_load(&p->nworkers) < p->max_workers &&
         atomic_load(&p->pending) > idle && start_worker_locked(p) == 0)
    idle++;
  pthread_mutex_unlock(&p->mu);
  join_exited(p);
  return 0;
}

static bool pool_cancel(cf_executor *ex, cf_future *f) {
  struct thread_pool *p = pool_of(ex);
  if (!cf__future_cancel_pending(f))
    return false;
  atomic_fetch_add_explicit(&p->cancelled_queued, 1, memory_order_relaxed);
  /* Its slot is free at once; the worker that pops it drops it. */
  pthread_mutex_lock(&p->mu);
  drain_inbox_locked(p);
  bool dropped = f->in_queue == QUEUED;
  if (dropped)
    queue_drop_locked(p, f);
  pthread_mutex_unlock(&p->mu);
  if (dropped)
    wake_space_waiters(p);
  return true;
}

static bool pool_run_inline(cf_executor *ex, cf_future *f) {
  struct thread_pool *p = pool_of(ex);
  struct worker *w = tls_worker;
  if (w == NULL || w->pool != p)
    return false;
  pthread_mutex_lock(&p->mu);
  drain_inbox_locked(p);
  bool dropped = f->in_queue == QUEUED && cf__state(f) == CF_PENDING;
  if (dropped)
    queue_drop_locked(p, f);
  pthread_mutex_unlock(&p->mu);
  if (dropped)
    wake_space_waiters(p);
  /* Whoever starts it first runs it; the queue's reference stays with the
   * worker that pops it. */
  bool ran = false;
  if (cf__future_try_start(f)) {
    atomic_fetch_add_explicit(&w->running, 1, memory_order_relaxed);
    cf__future_run_started(f);
    atomic_fetch_sub_explicit(&w->running, 1, memory_order_relaxed);
    count_outcome(w, f);
    ran = true;
  }
  return ran;
}

static const struct cf__executor_vtable thread_pool_vtable = {
    .kind = "thread",
    .takes_fn = true,
    .submit = pool_submit,
    .shutdown = pool_shutdown,
    .destroy = pool_destroy,
    .stats = pool_stats,
    .resize = pool_resize,
    .cancel = pool_cancel,
    .request_cancel = NULL,
    .run_inline = pool_run_inline,
    .is_worker_thread = is_worker_thread,
    .cpu_to_spare = pool_cpu_to_spare,
};

int cf_thread_pool_new(const cf_thread_pool_options *opts, cf_executor **out) {
  cf_thread_pool_options defaults;
  if (out == NULL)
    return CF_EINVAL;
  if (opts == NULL) {
    cf_thread_pool_options_init(&defaults);
    opts = &defaults;
  }
  if (opts->max_workers < 1 ||
      (opts->flags & ~(unsigned)(CF_POOL_NONBLOCK | CF_POOL_JOIN_AT_EXIT)))
    return CF_EINVAL;
  /* sizeof is a multiple of the alignment, as aligned_alloc asks. */
  struct thread_pool *p = aligned_alloc(CF__LINE, sizeof *p);
  if (p == NULL)
    return CF_ENOMEM;
  memset(p, 0, sizeof *p);
  p->base.vt = &thread_pool_vtable;
  /* Adaptive: the lock is held for a few list operations, so a contender
   * spinning briefly beats sleeping in the kernel. */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  int rc = pthread_mutex_init(&p->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    free(p);
    return CF_ENOMEM;
  }
  /* On CLOCK_MONOTONIC, like every condition variable here: a timed wait
   * added later cannot be moved by a change of the wall clock. */
  if (cf__cond_init(&p->work_cv) != 0 || cf__cond_init(&p->space_cv) != 0 ||
      cf__cond_init(&p->exit_cv) != 0) {
    pthread_mutex_destroy(&p->mu);
    free(p);
    return CF_ENOMEM;
  }
  atomic_init(&p->inbox, NULL);
  p->max_workers = opts->max_workers;
  const char *prefix =
      opts->thread_name_prefix != NULL ? opts->thread_name_prefix : "cf";
  /* Leave room for "_<n>" within the kernel's 15 bytes. */
  snprintf(p->prefix, 12, "%s", prefix);
  p->initializer = opts->initializer;
  p->initargs = opts->initargs;
  p->max_queued = opts->max_queued;
  p->flags = opts->flags;
  p->base.spin_us = opts->spin_us;
  p->ncpus = cf_cpu_count();
  if ((p->flags & CF_POOL_JOIN_AT_EXIT) && exit_list_add(p) != 0) {
    p->flags &= ~(unsigned)CF_POOL_JOIN_AT_EXIT;
    pool_destroy(&p->base);
    return CF_ENOMEM;
  }
  *out = &p->base;
  return 0;
}
