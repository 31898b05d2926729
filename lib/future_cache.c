/* SPDX-License-Identifier: MIT */
/*
 * Memory for futures: a small cache in front of malloc.
 *
 * DESIGN. A future is usually allocated by the submitting thread and freed
 * by a worker, the case where malloc is slowest (the chunk goes back to
 * another thread's arena, under that arena's lock). Here a thread frees
 * into a private list; once that holds BATCH futures it hands the whole
 * list to a process-wide stack with one CAS. A thread that needs a future
 * takes one from its private list, or else takes the whole shared stack
 * with one exchange. Neither operation can suffer ABA: the shared stack
 * is only ever pushed onto or emptied, never popped one at a time.
 *
 * The shared stack holds at most GLOBAL_MAX futures (beyond that, free()),
 * a private list at most BATCH; a thread's list goes to the shared stack
 * when the thread exits. Builds with AddressSanitizer use plain malloc and
 * free, so that a use after free is still caught.
 */
#include "internal.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE 0
#endif
#endif
#ifndef CACHE
#define CACHE 1
#endif

#if CACHE

#define BATCH 32
#define GLOBAL_MAX 8192

struct local {
  cf_future *head, *tail; /* linked through qnext */
  unsigned n;
};

static _Atomic(cf_future *) shared;
static atomic_uint shared_count;
static _Thread_local struct local local;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* Pushes a linked list of n futures onto the shared stack, or frees it
 * when the stack is full. */
static void push_shared(cf_future *head, cf_future *tail, unsigned n) {
  if (atomic_fetch_add_explicit(&shared_count, n, memory_order_relaxed) + n >
      GLOBAL_MAX) {
    atomic_fetch_sub_explicit(&shared_count, n, memory_order_relaxed);
    while (head != NULL) {
      cf_future *next = head->qnext;
      free(head);
      head = next;
    }
    return;
  }
  cf_future *old = atomic_load_explicit(&shared, memory_order_relaxed);
  do
    tail->qnext = old;
  /* release: the list's links (and the futures' last writes) are visible
   * to the thread that takes it. */
  while (!atomic_compare_exchange_weak_explicit(
      &shared, &old, head, memory_order_release, memory_order_relaxed));
}

static void on_thread_exit(void *unused) {
  (void)unused;
  if (local.n > 0)
    push_shared(local.head, local.tail, local.n);
  local = (struct local){0};
}

static void exit_key_create(void) {
  pthread_key_create(&exit_key, on_thread_exit);
}

cf_future *cf__future_mem_alloc(void) {
  cf_future *f = local.head;
  if (f == NULL) {
    f = atomic_exchange_explicit(&shared, NULL, memory_order_acquire);
    if (f == NULL)
      return malloc(sizeof *f);
    unsigned n = 0;
    cf_future *tail = f;
    for (; tail->qnext != NULL; tail = tail->qnext)
      n++;
    atomic_fetch_sub_explicit(&shared_count, n + 1, memory_order_relaxed);
    local = (struct local){f, tail, n + 1};
  }
  local.head = f->qnext;
  if (local.head == NULL)
    local.tail = NULL;
  local.n--;
  return f;
}

void cf__future_mem_free(cf_future *f) {
  if (local.n == 0) {
    /* The first future this thread keeps: arrange to hand the list over
     * when the thread exits. */
    pthread_once(&exit_once, exit_key_create);
    pthread_setspecific(exit_key, &local);
    local.tail = f;
  }
  f->qnext = local.head;
  local.head = f;
  if (++local.n >= BATCH) {
    push_shared(local.head, local.tail, local.n);
    local = (struct local){0};
  }
}

#else

cf_future *cf__future_mem_alloc(void) { return malloc(sizeof(cf_future)); }

void cf__future_mem_free(cf_future *f) { free(f); }

#endif
