/* SPDX-License-Identifier: MIT */
/*
 * Spinning and parking.
 *
 * Polling before sleeping: a thread that finds its work (or its future's
 * outcome) while polling needs no wake-up -- a system call and, on a small
 * machine, a context switch on each side. Two costs are kept off the poll
 * itself:
 *  - the clock: the loop reads it once every CHECK_NS or so, not once a
 *    look, sizing the next run of looks from the measured cost of the last;
 *  - sched_yield: a yield takes the poller off its CPU for a scheduler
 *    round trip even when the CPU has nothing else to run, which puts
 *    microseconds into the latency the poll exists to save. The poller
 *    yields only when the caller says no CPU is free (the thread it waits
 *    for may be waiting for this CPU), or cannot tell.
 *
 * Parking is a futex on the word itself: the kernel re-checks the word
 * before sleeping, so a wake-up sent after the word changed cannot be
 * lost between the caller's check and its sleep.
 */
#include "spin.h"

#include "cfutures.h"

#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How often (ns) the loop looks at the clock and asks whether to yield. */
#define CHECK_NS 1000u
#define MIN_LOOKS 8u
#define MAX_LOOKS 4096u

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

bool cf__spin_until(bool (*done)(void *), void *arg, unsigned spin_us,
                    unsigned max_pauses, bool (*spare)(void *),
                    void *spare_arg) {
  uint64_t start = cf_now_ns(), budget = (uint64_t)spin_us * 1000u;
  uint64_t looked = 0;
  unsigned pauses = 1, looks = MIN_LOOKS;
  for (;;) {
    for (unsigned i = 0; i < looks; i++) {
      if (done(arg))
        return true;
      for (unsigned k = 0; k < pauses; k++)
        cpu_relax();
      if (pauses < max_pauses)
        pauses *= 2;
    }
    looked += looks;
    uint64_t elapsed = cf_now_ns() - start;
    if (elapsed >= budget)
      return done(arg);
    if (spare == NULL || !spare(spare_arg))
      sched_yield();
    /* The next run of looks: about CHECK_NS long, and not past the
     * budget by more than one run. */
    uint64_t per = elapsed / looked + 1;
    uint64_t next = CHECK_NS / per;
    uint64_t left = (budget - elapsed) / per + 1;
    if (next > left)
      next = left;
    looks = next < MIN_LOOKS   ? MIN_LOOKS
            : next > MAX_LOOKS ? MAX_LOOKS
                               : (unsigned)next;
  }
}

void cf__park_until(_Atomic uint32_t *word, uint32_t expected,
                    uint64_t deadline) {
  struct timespec ts, *tsp = NULL;
  if (deadline != UINT64_MAX) {
    ts.tv_sec = (time_t)(deadline / 1000000000u);
    ts.tv_nsec = (long)(deadline % 1000000000u);
    tsp = &ts;
  }
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET_PRIVATE, expected, tsp,
          NULL, FUTEX_BITSET_MATCH_ANY);
}

void cf__unpark_all(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
          0);
}
