/* SPDX-License-Identifier: MIT */
/*
 * The event-loop bridge: completions delivered to one loop thread.
 *
 * DESIGN
 *
 * Every submit or watch makes one record, a watch, that lives in exactly one
 * place at a time:
 *
 *   waiting  -- its future is not done (a doubly-linked list; a watch with a
 *               timeout is also in the deadline heap);
 *   ready    -- its completion (status 0) or its expiry (CF_ETIMEDOUT) has
 *               been recorded and awaits the loop (a FIFO list);
 *   batch    -- swapped out by the loop thread, being delivered;
 *   claimed  -- delivered, or about to be by close.
 *
 * A worker that completes a future runs on_future_done (registered with the
 * public cf_future_on_done), which moves the watch from waiting to ready and
 * writes to the descriptor only if no wake is pending -- one loop wake per
 * batch, not per task (Redis bio.c, libuv's uv_async_t). The loop thread
 * reads the descriptor, swaps the ready list out into its batch and runs the
 * callbacks with no lock held, in completion order, at most max per call;
 * what is left goes back to the head of the ready list with a fresh wake, so
 * the loop returns after serving its other descriptors.
 *
 * Deadlines: a min-heap of waiting watches by deadline. cf_bridge_dispatch
 * moves expired ones to the ready list (status CF_ETIMEDOUT); their
 * cf_future_request_cancel runs at delivery, unlocked. The loop learns how
 * long it may sleep from cf_bridge_next_timeout_ms; a new earliest deadline
 * wakes it through the descriptor.
 *
 * Lifetimes. A watch has two references: the future's done callback, which
 * the future holds until it fires (the public API cannot take a callback
 * back), and the delivery, dropped once the user's callback ran. The watch
 * holds a bridge reference, so a completion that arrives after
 * cf_bridge_free finds the bridge's memory alive and its closed flag set,
 * and touches nothing else. A wake-up write is decided under the mutex
 * (only while the bridge is open) and counted in `writers`, then made with
 * the mutex released, so a worker never holds the lock across a system
 * call; cf_bridge_free closes the bridge, waits for that count to reach
 * zero and only then closes the descriptor, so no write can reach a closed
 * (or reused) descriptor.
 *
 * LOCKING
 *
 * b->mu guards the waiting list, the ready list, the heap, each watch's
 * `where`, `status` and list links while it is waiting or ready, and the
 * flags wake_pending, closed, dispatching, bound/owner. It is a leaf lock:
 * nothing else is taken while it is held, and no callback (ours or the
 * user's) runs under it, nor any write to the descriptor (see Lifetimes).
 * The batch list is touched only by the loop thread. Reference counts, the
 * pending count and the writers count are atomics.
 */
#include "cfutures/bridge.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { W_WAITING, W_READY, W_CLAIMED };

struct watch {
  struct watch *next, *prev;
  cf_bridge *b;
  cf_future *f;
  cf_bridge_fn fn;
  void *userdata;
  uint64_t deadline; /* UINT64_MAX = none */
  size_t heap_idx;   /* SIZE_MAX = not in the heap */
  int status;
  int where;
  atomic_uint refs;
};

struct cf_bridge {
  pthread_mutex_t mu;
  struct watch waiting; /* circular list sentinel */
  struct watch *ready_head, *ready_tail;
  struct watch **heap;
  size_t heap_len, heap_cap;
  bool wake_pending;
  bool drain_next; /* a wake-up write may land after the last drain */
  bool closed;
  bool dispatching;
  bool bound;
  pthread_t owner;
  /* Loop thread only. */
  struct watch *batch_head, *batch_tail;
  /* The same descriptor twice for an eventfd; a pipe's two ends otherwise.
   * -1 once freed. */
  int rfd, wfd;
  bool is_eventfd;
  /* Wake-up writes decided under the mutex and not yet finished. */
  atomic_int writers;
  atomic_size_t pending;
  atomic_uint refs;
};

static void bridge_put(cf_bridge *b) {
  /* acq_rel: the last owner must see every other owner's writes before it
   * destroys the mutex and frees. */
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_mutex_destroy(&b->mu);
  free(b->heap);
  free(b);
}

static void bridge_get(cf_bridge *b) {
  /* relaxed: the caller already holds a reference. */
  atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

static void watch_put(struct watch *w) {
  if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
    return;
  cf_bridge *b = w->b;
  free(w);
  bridge_put(b);
}

/* Lists --------------------------------------------------------------- */

static void waiting_insert_locked(cf_bridge *b, struct watch *w) {
  w->next = &b->waiting;
  w->prev = b->waiting.prev;
  b->waiting.prev->next = w;
  b->waiting.prev = w;
}

static void waiting_remove_locked(struct watch *w) {
  w->prev->next = w->next;
  w->next->prev = w->prev;
  w->next = w->prev = NULL;
}

static void fifo_push(struct watch **head, struct watch **tail,
                      struct watch *w) {
  w->next = NULL;
  if (*tail != NULL)
    (*tail)->next = w;
  else
    *head = w;
  *tail = w;
}

/* Moves all of [sh, st] to the end of [*head, *tail]. */
static void fifo_append(struct watch **head, struct watch **tail,
                        struct watch *sh, struct watch *st) {
  if (sh == NULL)
    return;
  if (*tail != NULL)
    (*tail)->next = sh;
  else
    *head = sh;
  *tail = st;
}

/* Deadline heap --------------------------------------------------------- */

static void heap_set(cf_bridge *b, size_t i, struct watch *w) {
  b->heap[i] = w;
  w->heap_idx = i;
}

static void heap_up_locked(cf_bridge *b, size_t i) {
  struct watch *w = b->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (b->heap[parent]->deadline <= w->deadline)
      break;
    heap_set(b, i, b->heap[parent]);
    i = parent;
  }
  heap_set(b, i, w);
}

static void heap_down_locked(cf_bridge *b, size_t i) {
  struct watch *w = b->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= b->heap_len)
      break;
    if (c + 1 < b->heap_len && b->heap[c + 1]->deadline < b->heap[c]->deadline)
      c++;
    if (w->deadline <= b->heap[c]->deadline)
      break;
    heap_set(b, i, b->heap[c]);
    i = c;
  }
  heap_set(b, i, w);
}

static int heap_push_locked(cf_bridge *b, struct watch *w) {
  if (b->heap_len == b->heap_cap) {
    size_t cap = b->heap_cap ? 2 * b->heap_cap : 16;
    struct watch **h = realloc(b->heap, cap * sizeof *h);
    if (h == NULL)
      return CF_ENOMEM;
    b->heap = h;
    b->heap_cap = cap;
  }
  b->heap[b->heap_len++] = w;
  heap_up_locked(b, b->heap_len - 1);
  return 0;
}

static void heap_remove_locked(cf_bridge *b, struct watch *w) {
  size_t i = w->heap_idx;
  if (i == SIZE_MAX)
    return;
  w->heap_idx = SIZE_MAX;
  struct watch *last = b->heap[--b->heap_len];
  if (i == b->heap_len)
    return;
  heap_set(b, i, last);
  if (i > 0 && b->heap[(i - 1) / 2]->deadline > last->deadline)
    heap_up_locked(b, i);
  else
    heap_down_locked(b, i);
}

/* The descriptor ------------------------------------------------------- */

/* Decides, under the lock, whether the caller must wake the loop: returns
 * the descriptor to write to (then call wake_write once unlocked), or -1.
 * The write is counted in `writers` so that free can wait for it before it
 * closes the descriptor. */
static int wake_prepare_locked(cf_bridge *b) {
  if (b->wake_pending || b->closed || b->wfd < 0)
    return -1;
  b->wake_pending = true;
  /* relaxed: ordered by the mutex against free's check of `closed`. */
  atomic_fetch_add_explicit(&b->writers, 1, memory_order_relaxed);
  return b->wfd;
}

static void wake_write(cf_bridge *b, int fd) {
  if (fd < 0)
    return;
  ssize_t n;
  if (b->is_eventfd) {
    uint64_t one = 1;
    do
      n = write(fd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
  } else {
    char c = 0;
    /* EAGAIN: the pipe is full, so it is readable already. */
    do
      n = write(fd, &c, 1);
    while (n < 0 && errno == EINTR);
  }
  /* release: the write happens-before a dispatch or free that sees the
   * count drop (acquire). */
  atomic_fetch_sub_explicit(&b->writers, 1, memory_order_release);
}

static void drain_locked(cf_bridge *b) {
  if (b->is_eventfd) {
    uint64_t v;
    ssize_t n;
    do
      n = read(b->rfd, &v, sizeof v);
    while (n < 0 && errno == EINTR);
  } else {
    char buf[64];
    ssize_t n;
    do
      n = read(b->rfd, buf, sizeof buf);
    while (n > 0 || (n < 0 && errno == EINTR));
  }
}

static int open_fds(cf_bridge *b) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd >= 0) {
    b->rfd = b->wfd = fd;
    b->is_eventfd = true;
    return 0;
  }
  if (errno == EMFILE || errno == ENFILE)
    return CF_EMFILE;
  if (errno == ENOMEM)
    return CF_ENOMEM;
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
    return errno == ENOMEM ? CF_ENOMEM : CF_EMFILE;
  b->rfd = p[0];
  b->wfd = p[1];
  return 0;
}

/* Public API --------------------------------------------------------------
 */

int cf_bridge_new(cf_bridge **out) {
  if (out == NULL)
    return CF_EINVAL;
  cf_bridge *b = calloc(1, sizeof *b);
  if (b == NULL)
    return CF_ENOMEM;
  /* Adaptive: the critical sections are a few list operations, so a
   * contended locker spins briefly instead of sleeping in the kernel. */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
  int init = pthread_mutex_init(&b->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  if (init != 0) {
    free(b);
    return CF_ENOMEM;
  }
  int rc = open_fds(b);
  if (rc != 0) {
    pthread_mutex_destroy(&b->mu);
    free(b);
    return rc;
  }
  b->waiting.next = b->waiting.prev = &b->waiting;
  atomic_init(&b->pending, 0);
  atomic_init(&b->writers, 0);
  atomic_init(&b->refs, 1);
  *out = b;
  return 0;
}

int cf_bridge_fd(const cf_bridge *b) {
  if (b == NULL)
    return CF_EINVAL;
  return b->rfd;
}

int cf_bridge_bind_thread(cf_bridge *b) {
  if (b == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&b->mu);
  b->owner = pthread_self();
  b->bound = true;
  pthread_mutex_unlock(&b->mu);
  return 0;
}

size_t cf_bridge_pending(cf_bridge *b) {
  if (b == NULL)
    return 0;
  return atomic_load_explicit(&b->pending, memory_order_relaxed);
}

/* Runs on the thread that completes f, or inside cf_future_on_done if f was
 * done already. */
static void on_future_done(cf_future *f, void *userdata) {
  (void)f;
  struct watch *w = userdata;
  cf_bridge *b = w->b;
  int fd = -1;
  pthread_mutex_lock(&b->mu);
  if (w->where == W_WAITING) {
    waiting_remove_locked(w);
    heap_remove_locked(b, w);
    w->status = 0;
    w->where = W_READY;
    fifo_push(&b->ready_head, &b->ready_tail, w);
    fd = wake_prepare_locked(b);
  }
  pthread_mutex_unlock(&b->mu);
  wake_write(b, fd);
  watch_put(w);
}

static int watch_add(cf_bridge *b, cf_future *f, uint64_t deadline,
                     cf_bridge_fn fn, void *userdata) {
  struct watch *w = malloc(sizeof *w);
  if (w == NULL)
    return CF_ENOMEM;
  w->b = b;
  w->f = cf_future_retain(f);
  w->fn = fn;
  w->userdata = userdata;
  w->deadline = deadline;
  w->heap_idx = SIZE_MAX;
  w->status = 0;
  w->where = W_WAITING;
  atomic_init(&w->refs, 2);

  int fd = -1;
  pthread_mutex_lock(&b->mu);
  int rc = b->closed ? CF_ESTATE : 0;
  if (rc == 0 && deadline != UINT64_MAX) {
    rc = heap_push_locked(b, w);
    /* A new earliest deadline: the loop may sleep past it, so wake it to
     * recompute its timeout. */
    if (rc == 0 && b->heap[0] == w)
      fd = wake_prepare_locked(b);
  }
  if (rc != 0) {
    pthread_mutex_unlock(&b->mu);
    cf_future_release(f);
    free(w);
    return rc;
  }
  waiting_insert_locked(b, w);
  atomic_fetch_add_explicit(&b->pending, 1, memory_order_relaxed);
  bridge_get(b);
  pthread_mutex_unlock(&b->mu);
  wake_write(b, fd);

  rc = cf_future_on_done(f, on_future_done, w);
  if (rc == 0)
    return 0;
  /* The future will never call us: take the watch back, unless close or a
   * deadline claimed it meanwhile -- then its callback runs on the loop
   * thread, and this call has succeeded after all. */
  pthread_mutex_lock(&b->mu);
  bool ours = w->where == W_WAITING;
  if (ours) {
    waiting_remove_locked(w);
    heap_remove_locked(b, w);
    w->where = W_CLAIMED;
    atomic_fetch_sub_explicit(&b->pending, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&b->mu);
  if (!ours) {
    watch_put(w);
    return 0;
  }
  cf_future_release(f);
  watch_put(w);
  watch_put(w);
  return rc;
}

int cf_bridge_watch_timeout(cf_bridge *b, cf_future *f, double timeout,
                            cf_bridge_fn on_done, void *userdata) {
  if (b == NULL || f == NULL || on_done == NULL)
    return CF_EINVAL;
  uint64_t deadline;
  int rc = cf__deadline(timeout, &deadline);
  if (rc != 0)
    return rc;
  return watch_add(b, f, deadline, on_done, userdata);
}

int cf_bridge_watch(cf_bridge *b, cf_future *f, cf_bridge_fn on_done,
                    void *userdata) {
  if (b == NULL || f == NULL || on_done == NULL)
    return CF_EINVAL;
  return watch_add(b, f, UINT64_MAX, on_done, userdata);
}

static bool is_closed(cf_bridge *b) {
  pthread_mutex_lock(&b->mu);
  bool closed = b->closed;
  pthread_mutex_unlock(&b->mu);
  return closed;
}

/* Watches a future just submitted, whose reference f the caller gives. */
static int watch_submitted(cf_bridge *b, cf_future *f, cf_bridge_fn on_done,
                           void *userdata, cf_future **out) {
  int rc = watch_add(b, f, UINT64_MAX, on_done, userdata);
  if (rc != 0) {
    /* Nobody would learn the outcome: stop the task if it has not run. */
    cf_future_request_cancel(f);
    cf_future_release(f);
    return rc;
  }
  if (out != NULL)
    *out = f;
  else
    cf_future_release(f);
  return 0;
}

int cf_bridge_submit(cf_bridge *b, cf_executor *executor, cf_fn fn, void *arg,
                     cf_bridge_fn on_done, void *userdata, cf_future **out) {
  if (b == NULL || executor == NULL || fn == NULL || on_done == NULL)
    return CF_EINVAL;
  if (is_closed(b))
    return CF_ESTATE;
  cf_future *f;
  int rc = cf_submit(executor, fn, arg, &f);
  if (rc != 0)
    return rc;
  return watch_submitted(b, f, on_done, userdata, out);
}

int cf_bridge_submit_bytes(cf_bridge *b, cf_executor *executor, cf_bytes_fn fn,
                           const void *data, size_t len, cf_bridge_fn on_done,
                           void *userdata, cf_future **out) {
  if (b == NULL || executor == NULL || fn == NULL || on_done == NULL)
    return CF_EINVAL;
  if (is_closed(b))
    return CF_ESTATE;
  cf_future *f;
  int rc = cf_submit_bytes(executor, fn, data, len, &f);
  if (rc != 0)
    return rc;
  return watch_submitted(b, f, on_done, userdata, out);
}

int cf_bridge_next_timeout_ms(cf_bridge *b) {
  if (b == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&b->mu);
  uint64_t deadline = b->heap_len > 0 ? b->heap[0]->deadline : UINT64_MAX;
  pthread_mutex_unlock(&b->mu);
  if (deadline == UINT64_MAX)
    return -1;
  uint64_t now = cf_now_ns();
  if (deadline <= now)
    return 0;
  uint64_t ms = (deadline - now + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

static bool is_loop_thread_locked(cf_bridge *b) {
  return !b->bound || pthread_equal(b->owner, pthread_self());
}

static void deliver(struct watch *w) {
  if (w->status == CF_ETIMEDOUT)
    cf_future_request_cancel(w->f);
  /* Counted out first, so a callback sees only the others as pending. */
  atomic_fetch_sub_explicit(&w->b->pending, 1, memory_order_relaxed);
  w->fn(w->f, w->status, w->userdata);
  cf_future_release(w->f);
  w->f = NULL;
  watch_put(w);
}

int cf_bridge_dispatch(cf_bridge *b, size_t max, size_t *ran) {
  if (b == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&b->mu);
  int rc = 0;
  if (!is_loop_thread_locked(b))
    rc = CF_EINVAL;
  else if (b->closed)
    rc = CF_ESTATE;
  else if (b->dispatching)
    rc = CF_EBUSY;
  if (rc != 0) {
    pthread_mutex_unlock(&b->mu);
    return rc;
  }
  b->owner = pthread_self();
  b->bound = true;
  b->dispatching = true;
  /* Drain before swapping: a completion that lands after the swap finds
   * wake_pending false and writes again, so none is stranded. A write
   * decided earlier may still be in flight and land after the drain,
   * leaving the descriptor readable with no wake pending: the next
   * dispatch drains it too (one spurious wake, never a level-triggered
   * spin). The count is read before draining, so a write it saw finish is
   * drained now. */
  if (b->wake_pending || b->drain_next) {
    int in_flight = atomic_load_explicit(&b->writers, memory_order_acquire);
    drain_locked(b);
    b->wake_pending = false;
    b->drain_next = in_flight > 0;
  }
  if (b->heap_len > 0) {
    uint64_t now = cf_now_ns();
    while (b->heap_len > 0 && b->heap[0]->deadline <= now) {
      struct watch *w = b->heap[0];
      heap_remove_locked(b, w);
      waiting_remove_locked(w);
      w->status = CF_ETIMEDOUT;
      w->where = W_READY;
      fifo_push(&b->ready_head, &b->ready_tail, w);
    }
  }
  fifo_append(&b->batch_head, &b->batch_tail, b->ready_head, b->ready_tail);
  b->ready_head = b->ready_tail = NULL;
  bridge_get(b); /* a callback may free the bridge */
  pthread_mutex_unlock(&b->mu);

  size_t n = 0;
  while (b->batch_head != NULL && (max == 0 || n < max)) {
    struct watch *w = b->batch_head;
    b->batch_head = w->next;
    if (b->batch_head == NULL)
      b->batch_tail = NULL;
    deliver(w);
    n++;
  }

  int fd = -1;
  pthread_mutex_lock(&b->mu);
  if (b->batch_head != NULL) {
    /* What is left goes before later completions, and the loop is told to
     * come back. (Close empties the batch, so the bridge is open here.) */
    b->batch_tail->next = b->ready_head;
    if (b->ready_head == NULL)
      b->ready_tail = b->batch_tail;
    b->ready_head = b->batch_head;
    b->batch_head = b->batch_tail = NULL;
    fd = wake_prepare_locked(b);
  }
  b->dispatching = false;
  pthread_mutex_unlock(&b->mu);
  wake_write(b, fd);
  bridge_put(b);
  if (ran != NULL)
    *ran = n;
  return 0;
}

int cf_bridge_close(cf_bridge *b) {
  if (b == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&b->mu);
  int rc = 0;
  if (!is_loop_thread_locked(b))
    rc = CF_EINVAL;
  else if (b->closed)
    rc = CF_ESTATE;
  if (rc != 0) {
    pthread_mutex_unlock(&b->mu);
    return rc;
  }
  b->closed = true;
  /* Delivery order: the rest of the current batch, what reached the
   * bridge since, then everything still waiting. */
  fifo_append(&b->batch_head, &b->batch_tail, b->ready_head, b->ready_tail);
  b->ready_head = b->ready_tail = NULL;
  while (b->waiting.next != &b->waiting) {
    struct watch *w = b->waiting.next;
    waiting_remove_locked(w);
    w->heap_idx = SIZE_MAX;
    w->status = CF_ESHUTDOWN;
    w->where = W_CLAIMED;
    fifo_push(&b->batch_head, &b->batch_tail, w);
  }
  b->heap_len = 0;
  bridge_get(b);
  pthread_mutex_unlock(&b->mu);

  while (b->batch_head != NULL) {
    struct watch *w = b->batch_head;
    b->batch_head = w->next;
    if (b->batch_head == NULL)
      b->batch_tail = NULL;
    deliver(w);
  }
  bridge_put(b);
  return 0;
}

int cf_bridge_free(cf_bridge *b) {
  if (b == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&b->mu);
  bool ok = is_loop_thread_locked(b);
  bool closed = b->closed;
  pthread_mutex_unlock(&b->mu);
  if (!ok)
    return CF_EINVAL;
  if (!closed)
    cf_bridge_close(b);
  /* Closed: no new wake-up write can start. Let those under way finish
   * before the descriptor goes (its number could be reused at once). */
  while (atomic_load_explicit(&b->writers, memory_order_acquire) > 0)
    sched_yield();
  pthread_mutex_lock(&b->mu);
  if (b->rfd >= 0) {
    if (b->wfd != b->rfd)
      close(b->wfd);
    close(b->rfd);
    b->rfd = b->wfd = -1;
  }
  pthread_mutex_unlock(&b->mu);
  bridge_put(b);
  return 0;
}
