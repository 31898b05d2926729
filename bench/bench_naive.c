/* SPDX-License-Identifier: MIT */
/*
 * The naive peer: the thread pool and futures every C programmer writes
 * first, and the baseline cfutures must beat by a wide margin.
 *
 * DESIGN/LOCKING: one mutex (pool.mu) guards the task list and the stop
 * flag; one condition variable is signalled on every submit. Each task is a
 * malloc'ed node, freed by the worker that ran it. A naive future owns its
 * own mutex and condition variable (fut.mu guards done, result and
 * listener); an as-completed listener has its own mutex (lst.mu guards its
 * ring). Lock order: fut.mu before lst.mu; pool.mu is never held with
 * either. Tasks run with no lock held.
 */
#include "bench_report.h"
#include "bench_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "naive";

/* The pool ---------------------------------------------------------------- */

typedef void (*task_fn)(void *arg);

typedef struct task {
  struct task *next;
  task_fn fn;
  void *arg;
} task;

typedef struct pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  task *head, *tail;
  int stop;
  int nthreads;
  pthread_t *threads;
} pool;

static void *pool_worker(void *p_) {
  pool *p = p_;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->stop)
      pthread_cond_wait(&p->cv, &p->mu);
    task *t = p->head;
    if (!t) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    p->head = t->next;
    if (!p->head)
      p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    t->fn(t->arg);
    free(t);
  }
}

static pool *pool_new(int nthreads) {
  pool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->nthreads = nthreads;
  p->threads = calloc((size_t)nthreads, sizeof *p->threads);
  for (int i = 0; i < nthreads; i++)
    pthread_create(&p->threads[i], NULL, pool_worker, p);
  return p;
}

static int pool_submit(pool *p, task_fn fn, void *arg) {
  task *t = malloc(sizeof *t);
  if (!t)
    return -1;
  t->next = NULL;
  t->fn = fn;
  t->arg = arg;
  pthread_mutex_lock(&p->mu);
  if (p->tail)
    p->tail->next = t;
  else
    p->head = t;
  p->tail = t;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

/* Runs what is queued, then joins the workers and frees the pool. */
static void pool_free(pool *p) {
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->threads);
  free(p);
}

/* Futures ------------------------------------------------------------------ */

typedef struct listener listener;

typedef struct fut {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  void *result;
  listener *lst;
  void *(*fn)(void *);
  void *arg;
} fut;

struct listener {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  fut **ring;
  size_t cap, head, count;
};

static void listener_push(listener *l, fut *f) {
  pthread_mutex_lock(&l->mu);
  l->ring[(l->head + l->count) % l->cap] = f;
  l->count++;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static fut *listener_pop(listener *l) {
  pthread_mutex_lock(&l->mu);
  while (l->count == 0)
    pthread_cond_wait(&l->cv, &l->mu);
  fut *f = l->ring[l->head];
  l->head = (l->head + 1) % l->cap;
  l->count--;
  pthread_mutex_unlock(&l->mu);
  return f;
}

static void fut_run(void *f_) {
  fut *f = f_;
  void *r = f->fn(f->arg);
  pthread_mutex_lock(&f->mu);
  f->result = r;
  f->done = 1;
  listener *l = f->lst;
  pthread_cond_broadcast(&f->cv);
  if (l)
    listener_push(l, f);
  pthread_mutex_unlock(&f->mu);
}

static fut *fut_submit(pool *p, void *(*fn)(void *), void *arg) {
  fut *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->fn = fn;
  f->arg = arg;
  if (pool_submit(p, fut_run, f) != 0) {
    free(f);
    return NULL;
  }
  return f;
}

static void *fut_result(fut *f) {
  pthread_mutex_lock(&f->mu);
  while (!f->done)
    pthread_cond_wait(&f->cv, &f->mu);
  void *r = f->result;
  pthread_mutex_unlock(&f->mu);
  return r;
}

static void fut_free(fut *f) {
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
}

/* Registers l on f; a future already done goes straight into the ring. */
static void fut_listen(fut *f, listener *l) {
  pthread_mutex_lock(&f->mu);
  if (f->done)
    listener_push(l, f);
  else
    f->lst = l;
  pthread_mutex_unlock(&f->mu);
}

/* Workloads --------------------------------------------------------------- */

static void noop(void *arg) {
  (void)arg;
}

static void *noop_fut(void *arg) {
  return arg;
}

static int run_w1(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 1000000, 200000);
  pool *p = pool_new(P);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    pool_submit(p, noop, NULL);
  pool_free(p);
  bench_report_w1(IMPL, P, "", n, bench_now_ns() - t0);

  /* The same with a future per task, kept and waited for. */
  fut **fs = malloc((size_t)n * sizeof *fs);
  p = pool_new(P);
  t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    fs[i] = fut_submit(p, noop_fut, NULL);
  for (long i = 0; i < n; i++) {
    fut_result(fs[i]);
    fut_free(fs[i]);
  }
  bench_report_w1(IMPL, P, " futures", n, bench_now_ns() - t0);
  pool_free(p);
  free(fs);
  return 0;
}

static int run_w2(const bench_args *a) {
  int P = a->pool ? a->pool : 1;
  long n = bench_args_n(a, 100000, 20000);
  double *lat = malloc((size_t)n * sizeof *lat);
  pool *p = pool_new(P);
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    fut *f = fut_submit(p, noop_fut, NULL);
    fut_result(f);
    lat[i] = (double)(bench_now_ns() - t0);
    fut_free(f);
  }
  pool_free(p);
  bench_report_w2(IMPL, "", lat, (size_t)n);
  free(lat);
  return 0;
}

static uint64_t w3_iters;

static void *spin_task(void *arg) {
  return (void *)(uintptr_t)bench_spin_work(w3_iters, (uintptr_t)arg);
}

static int run_w3(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, BENCH_W3_TASKS, BENCH_W3_TASKS_QUICK);
  w3_iters = bench_spin_calibrate(BENCH_W3_TASK_MS);
  uintptr_t sink = 0;
  uint64_t t0 = bench_thread_cpu_ns();
  for (long i = 0; i < n; i++)
    sink += (uintptr_t)spin_task((void *)(uintptr_t)(i + 1));
  uint64_t serial = bench_thread_cpu_ns() - t0;
  fut **fs = malloc((size_t)n * sizeof *fs);
  pool *p = pool_new(P);
  t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    fs[i] = fut_submit(p, spin_task, (void *)(uintptr_t)(i + 1));
  for (long i = 0; i < n; i++) {
    sink -= (uintptr_t)fut_result(fs[i]);
    fut_free(fs[i]);
  }
  uint64_t parallel = bench_now_ns() - t0;
  pool_free(p);
  free(fs);
  if (sink != 0)
    fprintf(stderr, "naive W3: results differ\n");
  bench_report_w3(IMPL, P, serial, parallel);
  return 0;
}

static int run_w4(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 100000, 20000);
  fut **fs = malloc((size_t)n * sizeof *fs);
  pool *p = pool_new(P);

  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    fs[i] = fut_submit(p, noop_fut, NULL);
  for (long i = 0; i < n; i++)
    fut_result(fs[i]);
  for (long i = 0; i < n; i++)
    fut_free(fs[i]);
  bench_report_w4(IMPL, "wait-all", n, bench_now_ns() - t0);

  listener l;
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  l.cap = (size_t)n;
  l.head = l.count = 0;
  l.ring = malloc((size_t)n * sizeof *l.ring);
  t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    fs[i] = fut_submit(p, noop_fut, NULL);
  for (long i = 0; i < n; i++)
    fut_listen(fs[i], &l);
  for (long i = 0; i < n; i++) {
    fut *f = listener_pop(&l);
    /* The worker may still hold f->mu while it pushes; take it once so the
     * future is quiescent before it is destroyed. */
    pthread_mutex_lock(&f->mu);
    pthread_mutex_unlock(&f->mu);
    fut_free(f);
  }
  bench_report_w4(IMPL, "as-completed", n, bench_now_ns() - t0);
  pool_free(p);
  free(l.ring);
  pthread_mutex_destroy(&l.mu);
  pthread_cond_destroy(&l.cv);
  free(fs);
  return 0;
}

static bench_gate gate;

static void gate_task(void *arg) {
  (void)arg;
  bench_gate_wait(&gate);
}

static int run_mem(const bench_args *a) {
  long n = bench_args_n(a, 1000000, 200000);
  int with_futures = strcmp(a->variant, "nofuture") != 0;
  fut **fs = malloc((size_t)n * sizeof *fs);
  memset(fs, 0, (size_t)n * sizeof *fs); /* touched: not counted below */
  bench_gate_init(&gate);
  pool *p = pool_new(1);
  pool_submit(p, gate_task, NULL);
  size_t before = bench_rss_bytes();
  for (long i = 0; i < n; i++) {
    if (with_futures)
      fs[i] = fut_submit(p, noop_fut, NULL);
    else
      pool_submit(p, noop, NULL);
  }
  size_t after = bench_rss_bytes();
  bench_gate_open(&gate);
  if (with_futures)
    for (long i = 0; i < n; i++) {
      fut_result(fs[i]);
      fut_free(fs[i]);
    }
  pool_free(p);
  bench_report_mem(IMPL, with_futures ? "task+future" : "task", n, before,
                   after);
  bench_gate_destroy(&gate);
  free(fs);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"W1", run_w1},
                                      {"W2", run_w2},
                                      {"W3", run_w3},
                                      {"W4", run_w4},
                                      {"MEM", run_mem}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
