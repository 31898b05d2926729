/* SPDX-License-Identifier: MIT */
/*
 * Timers: futures that complete at a deadline (cf_future_after), for every
 * timer of the process one thread and one binary min-heap.
 *
 * DESIGN. A timer is a future of the "timer" pseudo-executor; it is its own
 * heap entry: the heap is an array of future pointers ordered by deadline,
 * each future keeping its deadline (due_ns) and its index in the heap
 * (slot) in fields that executor-owned futures use for their queue, so a
 * pending timer costs its future and one pointer. The heap holds one
 * reference to each future in it.
 *
 * The timer thread is started by the first timer, sleeps on a condition
 * variable on CLOCK_MONOTONIC until the earliest deadline (adding a timer
 * that becomes the earliest wakes it), pops every timer that is due (at
 * most BATCH at a time, so that adders never wait long), drops the lock and
 * completes them: done callbacks run on this thread, with no lock held, in
 * deadline order. After IDLE_NS with an empty heap it exits; the next timer
 * starts another. Cancelling a pending timer takes it out of the heap in
 * O(log n) and completes it cancelled on the cancelling thread; a timer
 * already popped but not yet completed can still be cancelled (the
 * future's own state decides which completion wins).
 *
 * FORK. The timer thread does not exist in a child. A pthread_atfork
 * handler (prepare: take the lock; parent: drop it; child: reset) empties
 * the child's heap and marks no thread running, so the child's first timer
 * starts a thread of its own. Timers pending in the parent at the fork
 * never fire in the child: their futures stay pending there, as the
 * parent's thread-pool tasks do (their memory is left, not freed).
 *
 * LOCKING. T.mu guards everything in T. It is a leaf: nothing else is
 * locked while it is held, and no future is completed and no callback runs
 * under it (the heap's array may be reallocated under it).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

#define BATCH 256
#define IDLE_NS 1000000000ull

static bool timer_cancel(cf_executor *ex, cf_future *f);

static const struct cf__executor_vtable timer_vt = {.kind = "timer",
                                                    .cancel = timer_cancel};
static cf_executor timer_ex = {.vt = &timer_vt};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cf_future **heap;
  size_t len, cap;
  bool running;  /* a timer thread exists (len > 0 implies running) */
  bool sleeping; /* it waits on cv */
  int init_err;  /* cf__cond_init's result, from the once */
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void) {
  pthread_mutex_lock(&T.mu);
}

static void atfork_parent(void) {
  pthread_mutex_unlock(&T.mu);
}

static void atfork_child(void) {
  T.heap = NULL; /* the parent's timers are not ours */
  T.len = T.cap = 0;
  T.running = T.sleeping = false;
  cf__cond_init(&T.cv); /* the parent's thread may have waited on it */
  pthread_mutex_unlock(&T.mu);
}

static void init_once(void) {
  T.init_err = cf__cond_init(&T.cv);
  if (T.init_err == 0 &&
      pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
    T.init_err = CF_ENOMEM;
}

/* The heap. ------------------------------------------------------------ */

static void put_locked(size_t i, cf_future *f) {
  T.heap[i] = f;
  f->slot = i;
}

static void sift_up_locked(size_t i) {
  cf_future *f = T.heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (T.heap[parent]->due_ns <= f->due_ns)
      break;
    put_locked(i, T.heap[parent]);
    i = parent;
  }
  put_locked(i, f);
}

static void sift_down_locked(size_t i) {
  cf_future *f = T.heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= T.len)
      break;
    if (c + 1 < T.len && T.heap[c + 1]->due_ns < T.heap[c]->due_ns)
      c++;
    if (f->due_ns <= T.heap[c]->due_ns)
      break;
    put_locked(i, T.heap[c]);
    i = c;
  }
  put_locked(i, f);
}

/* Takes the entry at i out of the heap. */
static void remove_at_locked(size_t i) {
  cf_future *last = T.heap[--T.len];
  T.heap[i]->slot = SIZE_MAX;
  if (i == T.len)
    return;
  put_locked(i, last);
  if (i > 0 && T.heap[(i - 1) / 2]->due_ns > last->due_ns)
    sift_up_locked(i);
  else
    sift_down_locked(i);
}

static bool in_heap_locked(const cf_future *f) {
  return f->slot < T.len && T.heap[f->slot] == f;
}

/* The thread. ---------------------------------------------------------- */

static void *timer_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&T.mu);
  for (;;) {
    if (T.len == 0) {
      uint64_t idle_until = cf_now_ns() + IDLE_NS;
      T.sleeping = true;
      while (T.len == 0 &&
             cf__cond_wait_until(&T.cv, &T.mu, idle_until) != CF_ETIMEDOUT)
        ;
      T.sleeping = false;
      if (T.len == 0)
        break;
    }
    uint64_t now = cf_now_ns();
    if (T.heap[0]->due_ns > now) {
      T.sleeping = true;
      cf__cond_wait_until(&T.cv, &T.mu, T.heap[0]->due_ns);
      T.sleeping = false;
      continue;
    }
    /* Pop what is due, linked through qnext (due_ns is not needed now). */
    cf_future *batch = NULL, **tail = &batch;
    for (int k = 0; k < BATCH && T.len > 0 && T.heap[0]->due_ns <= now; k++) {
      cf_future *f = T.heap[0];
      remove_at_locked(0);
      f->qnext = NULL;
      *tail = f;
      tail = &f->qnext;
    }
    pthread_mutex_unlock(&T.mu);
    while (batch != NULL) {
      cf_future *f = batch;
      batch = f->qnext;
      /* Fails only if a cancel got there first. */
      cf__future_complete(f, CF_FINISHED, 0, NULL, NULL);
      cf_future_release(f); /* the heap's reference */
    }
    pthread_mutex_lock(&T.mu);
  }
  T.running = false;
  free(T.heap);
  T.heap = NULL;
  T.cap = 0;
  pthread_mutex_unlock(&T.mu);
  return NULL;
}

static int start_thread_locked(void) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0)
    return CF_EAGAIN;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int rc = pthread_create(&th, &attr, timer_main, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return rc == ENOMEM ? CF_ENOMEM : CF_EAGAIN;
  pthread_setname_np(th, "cf_timer");
  T.running = true;
  return 0;
}

/* The calls. ----------------------------------------------------------- */

int cf__timer_at(uint64_t deadline, cf_future **out) {
  pthread_once(&once, init_once);
  if (T.init_err != 0)
    return T.init_err;
  cf_future *f = cf__future_alloc(&timer_ex, NULL, NULL);
  if (f == NULL)
    return CF_ENOMEM;
  f->due_ns = deadline;
  pthread_mutex_lock(&T.mu);
  int rc = 0;
  if (T.len == T.cap) {
    size_t cap = T.cap == 0 ? 64 : 2 * T.cap;
    cf_future **heap = realloc(T.heap, cap * sizeof *heap);
    if (heap == NULL)
      rc = CF_ENOMEM;
    else
      T.heap = heap, T.cap = cap;
  }
  if (rc == 0 && !T.running)
    rc = start_thread_locked();
  if (rc != 0) {
    pthread_mutex_unlock(&T.mu);
    cf__future_mem_free(f);
    return rc;
  }
  T.heap[T.len++] = f;
  sift_up_locked(T.len - 1);
  /* Only a new earliest deadline changes how long the thread sleeps. */
  if (f->slot == 0 && T.sleeping)
    pthread_cond_signal(&T.cv);
  *out = cf_future_retain(f); /* the heap keeps the allocation's */
  pthread_mutex_unlock(&T.mu);
  return 0;
}

static bool timer_cancel(cf_executor *ex, cf_future *f) {
  (void)ex;
  pthread_mutex_lock(&T.mu);
  bool removed = in_heap_locked(f);
  if (removed)
    remove_at_locked(f->slot);
  pthread_mutex_unlock(&T.mu);
  bool cancelled = cf__future_cancel_pending(f);
  if (removed)
    cf_future_release(f); /* the heap's reference, now ours */
  return cancelled;
}

int cf_future_after(double seconds, cf_future **out) {
  uint64_t deadline;
  if (out == NULL || cf__deadline(seconds < 0 ? 0 : seconds, &deadline) != 0)
    return CF_EINVAL;
  return cf__timer_at(deadline, out);
}
