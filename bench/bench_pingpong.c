/* SPDX-License-Identifier: MIT */
/*
 * DESIGN: both threads share one 32-bit sequence word. The initiator
 * publishes an odd value, the responder answers with the next even one;
 * release stores and acquire loads order the hand-over, and the futex kind
 * sleeps in FUTEX_WAIT on the word instead of spinning. The value 0 with
 * the stop flag set tells the responder to exit.
 */
#include "bench_pingpong.h"

#include "bench_util.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct bench_pingpong {
  _Atomic uint32_t word;
  atomic_bool stop;
  int use_futex;
  uint32_t seq; /* the initiator's last odd value */
  pthread_t responder;
};

static void futex_wait(_Atomic uint32_t *w, uint32_t val) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Waits until the word is no longer old; returns the new value. */
static uint32_t await_change(bench_pingpong *pp, uint32_t old) {
  uint32_t v;
  while ((v = atomic_load_explicit(&pp->word, memory_order_acquire)) == old) {
    if (pp->use_futex)
      futex_wait(&pp->word, v);
    else
      cpu_relax();
  }
  return v;
}

static void publish(bench_pingpong *pp, uint32_t v) {
  atomic_store_explicit(&pp->word, v, memory_order_release);
  if (pp->use_futex)
    futex_wake(&pp->word);
}

static void *responder_main(void *arg) {
  bench_pingpong *pp = arg;
  uint32_t seen = 0;
  for (;;) {
    seen = await_change(pp, seen);
    if (atomic_load_explicit(&pp->stop, memory_order_relaxed))
      return NULL;
    seen++;
    publish(pp, seen);
  }
}

bench_pingpong *bench_pingpong_start(int use_futex) {
  bench_pingpong *pp = calloc(1, sizeof *pp);
  if (!pp)
    return NULL;
  pp->use_futex = use_futex;
  atomic_init(&pp->word, 0);
  atomic_init(&pp->stop, false);
  if (pthread_create(&pp->responder, NULL, responder_main, pp) != 0) {
    free(pp);
    return NULL;
  }
  return pp;
}

double bench_pingpong_round(bench_pingpong *pp) {
  uint32_t odd = pp->seq + 1;
  uint64_t t0 = bench_now_ns();
  publish(pp, odd);
  await_change(pp, odd);
  double dt = (double)(bench_now_ns() - t0);
  pp->seq = odd + 1;
  return dt;
}

void bench_pingpong_stop(bench_pingpong *pp) {
  atomic_store_explicit(&pp->stop, true, memory_order_relaxed);
  /* Any change of the word wakes the responder, which then sees stop (the
   * release store below orders stop before it). */
  publish(pp, pp->seq + 1);
  pthread_join(pp->responder, NULL);
  free(pp);
}
