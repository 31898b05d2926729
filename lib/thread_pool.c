/*
 * The thread pool executor (Python's ThreadPoolExecutor).
 *
 * DESIGN. One FIFO queue of futures (intrusive, through qnext/qprev) under
 * one mutex. Workers start lazily: a submit starts a thread only when the
 * queue holds more tasks than there are idle workers to take them, up to
 * max_workers. A worker takes a batch of tasks per lock acquisition (its
 * share of the queue, at most BATCH) so that a busy pool costs a lock round
 * trip per batch, not per task, and a submit wakes a sleeping worker only
 * when one sleeps and none has been woken already: no system call per task
 * while the workers keep up.
 *
 * A task is started by a CAS on its future (PENDING -> RUNNING), so cancel
 * (PENDING -> CANCELLED) may race a worker that has already taken the task
 * into its batch: whichever CAS wins decides, and the loser drops its
 * reference. A worker that waits on a future still pending on this pool
 * runs it inline (run_inline), so nested waits cannot starve the pool.
 *
 * LOCKING. pool->mu guards the queue, the counts of workers (alive, idle,
 * being woken, to retire), the shutdown/broken flags and the lists of
 * worker records. Futures are completed, and their callbacks run, with
 * pool->mu released; the lock order is pool->mu, then a future's stripe
 * lock (future.c), never the reverse. Task counters are per-worker relaxed
 * atomics written only by their worker, summed by cf_executor_stats_get.
 */
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 16

struct worker {
  struct worker *next;
  struct thread_pool *pool;
  pthread_t tid;
  unsigned id;
  /* Written only by this worker (relaxed load + store), read by stats. */
  atomic_uint_fast64_t completed, failed, cancelled;
  atomic_int running;
};

struct thread_pool {
  cf_executor base;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;  /* idle workers wait for tasks */
  pthread_cond_t space_cv; /* submitters wait for room (max_queued) */
  pthread_cond_t exit_cv;  /* shutdown(WAIT) waits for workers to exit */
  cf_future *head, *tail;
  size_t nqueued;
  /* nqueued, readable without the lock by spinning workers. */
  atomic_size_t nqueued_hint;
  int max_workers;
  int nspinning; /* idle workers polling nqueued_hint before sleeping */
  int nworkers, nidle, nwaking, nretire;
  int space_waiters;
  bool shutdown, broken;
  struct worker *live;   /* running workers */
  struct worker *exited; /* exited, waiting to be joined */
  unsigned next_id;
  uint64_t submitted;
  /* Counters of workers that exited, folded in at exit. */
  uint64_t completed, failed, cancelled;
  atomic_uint_fast64_t cancelled_queued; /* cancelled while queued */
  /* Options. */
  char prefix[16];
  cf_init_fn initializer;
  void *initargs;
  size_t max_queued;
  unsigned flags;
  unsigned spin_us;
};

static _Thread_local struct worker *tls_worker;

static struct thread_pool *pool_of(cf_executor *ex) {
  return (struct thread_pool *)ex;
}

void cf_thread_pool_options_init(cf_thread_pool_options *opts) {
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof *opts);
  int n = cf_cpu_count() + 4;
  opts->max_workers = n < 32 ? n : 32;
  opts->spin_us = 50;
}

static void queue_push_locked(struct thread_pool *p, cf_future *f) {
  f->qnext = NULL;
  f->qprev = p->tail;
  if (p->tail != NULL)
    p->tail->qnext = f;
  else
    p->head = f;
  p->tail = f;
  f->in_queue = 1;
  p->nqueued++;
  atomic_store_explicit(&p->nqueued_hint, p->nqueued, memory_order_relaxed);
}

static void queue_unlink_locked(struct thread_pool *p, cf_future *f) {
  if (f->qprev != NULL)
    f->qprev->qnext = f->qnext;
  else
    p->head = f->qnext;
  if (f->qnext != NULL)
    f->qnext->qprev = f->qprev;
  else
    p->tail = f->qprev;
  f->qnext = f->qprev = NULL;
  f->in_queue = 0;
  p->nqueued--;
  atomic_store_explicit(&p->nqueued_hint, p->nqueued, memory_order_relaxed);
  if (p->space_waiters > 0)
    pthread_cond_signal(&p->space_cv);
}

/* Takes the whole queue out (shutdown with cancel, broken pool). */
static cf_future *queue_detach_locked(struct thread_pool *p) {
  cf_future *list = p->head;
  for (cf_future *f = list; f != NULL; f = f->qnext)
    f->in_queue = 0;
  p->head = p->tail = NULL;
  p->nqueued = 0;
  atomic_store_explicit(&p->nqueued_hint, 0, memory_order_relaxed);
  if (p->space_waiters > 0)
    pthread_cond_broadcast(&p->space_cv);
  return list;
}

static void count(atomic_uint_fast64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Runs a task this worker took from the queue and drops the queue's
 * reference. *now is the time the previous task of the batch finished,
 * which is when this one starts: one clock read per task, not two. */
static void run_task(struct worker *w, cf_future *f, uint64_t *now) {
  if (cf__future_try_start_at(f, *now)) {
    atomic_fetch_add_explicit(&w->running, 1, memory_order_relaxed);
    *now = cf__future_run_started(f);
    atomic_fetch_sub_explicit(&w->running, 1, memory_order_relaxed);
    if (cf__state(f) == CF_CANCELLED)
      count(&w->cancelled);
    else if (f->err != 0)
      count(&w->failed);
    else
      count(&w->completed);
  }
  cf_future_release(f);
}

static int start_worker_locked(struct thread_pool *p);

/* Polls for work for up to spin_us before the worker sleeps: a submit
 * that finds a spinning worker needs no wake-up (a system call and, on a
 * small machine, a context switch). sched_yield hands the CPU to a
 * runnable submitter sharing it, so spinning never starves the thread it
 * waits for. */
static void spin_for_work(struct thread_pool *p) {
  uint64_t deadline = cf_now_ns() + (uint64_t)p->spin_us * 1000u;
  for (unsigned i = 0;; i++) {
    if (atomic_load_explicit(&p->nqueued_hint, memory_order_relaxed) > 0)
      return;
    if ((i & 15) == 15) {
      if (cf_now_ns() >= deadline)
        return;
      sched_yield();
    } else {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      __asm__ __volatile__("yield");
#endif
    }
  }
}

/* The initializer failed: no task will ever run here again. */
static void break_pool(struct thread_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->broken = true;
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

  cf_future *batch[BATCH];
  pthread_mutex_lock(&p->mu);
  for (;;) {
    bool spun = false;
    while (p->head == NULL && !p->shutdown && !p->broken && p->nretire == 0) {
      /* One spinner at a time: it picks up a burst's first task without
       * a wake-up, while more spinners would only take CPU from the
       * submitters on a small or oversubscribed machine. */
      if (!spun && p->spin_us > 0 && p->nspinning == 0) {
        spun = true;
        p->nspinning++;
        pthread_mutex_unlock(&p->mu);
        spin_for_work(p);
        pthread_mutex_lock(&p->mu);
        p->nspinning--;
        continue;
      }
      p->nidle++;
      pthread_cond_wait(&p->work_cv, &p->mu);
      p->nidle--;
      if (p->nwaking > 0)
        p->nwaking--;
    }
    if (p->nretire > 0) {
      p->nretire--;
      break;
    }
    if (p->head == NULL || p->broken)
      break; /* shut down and drained */
    /* Take this worker's share, so that a burst spreads over the pool. */
    size_t share = p->nqueued / (size_t)(p->nworkers > 0 ? p->nworkers : 1);
    size_t n = 0;
    do {
      cf_future *f = p->head;
      queue_unlink_locked(p, f);
      batch[n++] = f;
    } while (p->head != NULL && n < share && n < BATCH);
    /* Tasks remain and someone sleeps: let them help. */
    if (p->head != NULL && p->nidle > p->nwaking) {
      p->nwaking++;
      pthread_cond_signal(&p->work_cv);
    }
    pthread_mutex_unlock(&p->mu);
    uint64_t now = cf_now_ns();
    for (size_t i = 0; i < n; i++)
      run_task(w, batch[i], &now);
    pthread_mutex_lock(&p->mu);
  }
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
  p->nworkers--;
  if (p->nworkers == 0)
    pthread_cond_broadcast(&p->exit_cv);
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
  /* Workers never need deep stacks of their own beyond the task's; keep
   * the default so tasks get what a normal thread gets. */
  int rc = pthread_create(&w->tid, NULL, worker_main, w);
  if (rc != 0) {
    free(w);
    return CF_EAGAIN;
  }
  w->next = p->live;
  p->live = w;
  p->nworkers++;
  return 0;
}

static bool is_worker_thread(cf_executor *ex) {
  return cf__tls_executor == ex;
}

static int pool_submit(cf_executor *ex, cf_future *f) {
  struct thread_pool *p = pool_of(ex);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (p->broken) {
      pthread_mutex_unlock(&p->mu);
      return CF_EBROKEN;
    }
    if (p->shutdown) {
      pthread_mutex_unlock(&p->mu);
      return CF_ESHUTDOWN;
    }
    if (p->max_queued == 0 || p->nqueued < p->max_queued ||
        is_worker_thread(ex))
      break;
    if (p->flags & CF_POOL_NONBLOCK) {
      pthread_mutex_unlock(&p->mu);
      return CF_EAGAIN;
    }
    p->space_waiters++;
    pthread_cond_wait(&p->space_cv, &p->mu);
    p->space_waiters--;
  }
  queue_push_locked(p, f);
  p->submitted++;
  if (p->nidle > p->nwaking) {
    p->nwaking++;
    pthread_cond_signal(&p->work_cv);
  } else if (p->nworkers < p->max_workers &&
             p->nqueued > (size_t)(p->nidle + p->nspinning)) {
    int rc = start_worker_locked(p);
    if (rc != 0 && p->nworkers == 0) {
      /* Nobody could ever run it: refuse rather than strand it. */
      queue_unlink_locked(p, f);
      p->submitted--;
      pthread_mutex_unlock(&p->mu);
      return rc;
    }
  }
  pthread_mutex_unlock(&p->mu);
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
  cf_future *cancel = NULL;
  if (flags & CF_SHUTDOWN_CANCEL_FUTURES)
    cancel = queue_detach_locked(p);
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
  while (p->nworkers > 0)
    pthread_cond_wait(&p->exit_cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
  join_exited(p);
  return 0;
}

static void pool_destroy(cf_executor *ex) {
  struct thread_pool *p = pool_of(ex);
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
  s.workers = (size_t)p->nworkers;
  s.idle = (size_t)p->nidle;
  s.queued = p->nqueued;
  s.max_workers = (size_t)p->max_workers;
  s.submitted = p->submitted;
  s.completed = p->completed;
  s.failed = p->failed;
  s.cancelled = p->cancelled +
                atomic_load_explicit(&p->cancelled_queued, memory_order_relaxed);
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
  int excess = p->nworkers - p->nretire - max_workers;
  if (excess > 0) {
    p->nretire += excess;
    pthread_cond_broadcast(&p->work_cv);
  }
  /* Growing: start workers for what is queued now. */
  while (p->nworkers < p->max_workers && p->nqueued > (size_t)p->nidle &&
         start_worker_locked(p) == 0)
    ;
  pthread_mutex_unlock(&p->mu);
  join_exited(p);
  return 0;
}

static bool pool_cancel(cf_executor *ex, cf_future *f) {
  struct thread_pool *p = pool_of(ex);
  if (!cf__future_cancel_pending(f))
    return false;
  atomic_fetch_add_explicit(&p->cancelled_queued, 1, memory_order_relaxed);
  pthread_mutex_lock(&p->mu);
  bool unlinked = f->in_queue;
  if (unlinked)
    queue_unlink_locked(p, f);
  pthread_mutex_unlock(&p->mu);
  if (unlinked)
    cf_future_release(f); /* the queue's reference */
  return true;
}

static bool pool_run_inline(cf_executor *ex, cf_future *f) {
  struct thread_pool *p = pool_of(ex);
  struct worker *w = tls_worker;
  if (w == NULL || w->pool != p)
    return false;
  pthread_mutex_lock(&p->mu);
  bool unlinked = f->in_queue;
  if (unlinked)
    queue_unlink_locked(p, f);
  pthread_mutex_unlock(&p->mu);
  /* Still queued, or in some worker's batch: whoever starts it first runs
   * it; the other drops its reference. */
  bool ran = false;
  if (cf__future_try_start(f)) {
    atomic_fetch_add_explicit(&w->running, 1, memory_order_relaxed);
    cf__future_run_started(f);
    atomic_fetch_sub_explicit(&w->running, 1, memory_order_relaxed);
    count(f->err != 0 ? &w->failed : &w->completed);
    ran = true;
  }
  if (unlinked)
    cf_future_release(f);
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
};

int cf_thread_pool_new(const cf_thread_pool_options *opts, cf_executor **out) {
  cf_thread_pool_options defaults;
  if (out == NULL)
    return CF_EINVAL;
  if (opts == NULL) {
    cf_thread_pool_options_init(&defaults);
    opts = &defaults;
  }
  if (opts->max_workers < 1 || (opts->flags & ~(unsigned)CF_POOL_NONBLOCK))
    return CF_EINVAL;
  struct thread_pool *p = calloc(1, sizeof *p);
  if (p == NULL)
    return CF_ENOMEM;
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
  pthread_cond_init(&p->work_cv, NULL);
  pthread_cond_init(&p->space_cv, NULL);
  pthread_cond_init(&p->exit_cv, NULL);
  p->max_workers = opts->max_workers;
  const char *prefix =
      opts->thread_name_prefix != NULL ? opts->thread_name_prefix : "cf";
  /* Leave room for "_<n>" within the kernel's 15 bytes. */
  snprintf(p->prefix, 12, "%s", prefix);
  p->initializer = opts->initializer;
  p->initargs = opts->initargs;
  p->max_queued = opts->max_queued;
  p->flags = opts->flags;
  p->spin_us = opts->spin_us;
  *out = &p->base;
  return 0;
}
