/* SPDX-License-Identifier: MIT */
/* Fault injection for the cf_fault_tests program: its link wraps malloc,
 * calloc, realloc, strdup, pthread_create, fork and the condition-variable
 * calls (-Wl,--wrap), so every call the library makes goes through here.
 * Disarmed, each wrapper only forwards. Armed, it counts the calls of its
 * kind and fails the k-th one (or every one from the k-th on), the way
 * curl's torture tests do: count a scenario's fallible calls, then run it
 * again failing the 1st, the 2nd, ... the last.
 *
 * Allocation failures are injected on every thread while armed, the test's
 * own included: a test must not call Check's assertions (which allocate)
 * while an allocation fault is armed. */
#ifndef CF_TEST_FAULT_INJECT_H
#define CF_TEST_FAULT_INJECT_H

#include <stdbool.h>

typedef enum {
  CF_FI_ALLOC,  /* malloc, calloc, realloc, strdup: NULL, errno ENOMEM */
  CF_FI_THREAD, /* pthread_create: EAGAIN */
  CF_FI_FORK,   /* fork: -1, errno EAGAIN */
  CF_FI_KINDS
} cf_fi_kind;

/* Starts counting calls of kind from zero. fail_at 0 only counts; k > 0
 * fails the k-th call, and with sticky every later call too. */
void cf_fi_arm(cf_fi_kind kind, long fail_at, bool sticky);
/* Stops failing calls of kind; returns the calls counted since cf_fi_arm. */
long cf_fi_disarm(cf_fi_kind kind);
/* Failures injected since the program started, of kind. */
long cf_fi_injected(cf_fi_kind kind);

/* While on, condition waits return spuriously at random (the mutex is
 * dropped and taken again, as a real spurious wakeup does), signals are
 * sometimes turned into broadcasts and sometimes delayed. */
void cf_fi_spurious(bool on);
/* Spurious wakeups injected since the program started. */
long cf_fi_spurious_count(void);

/* Condition variables created since the program started on a clock other
 * than CLOCK_MONOTONIC (pthread_cond_init is wrapped too). */
long cf_fi_conds_not_monotonic(void);

/* Runs LeakSanitizer now (ASan builds); returns true if it found a leak.
 * False where LeakSanitizer is absent. */
bool cf_fi_leaks_found(void);

#endif
