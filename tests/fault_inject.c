/* SPDX-License-Identifier: MIT */
/* Fault injection through the linker's --wrap (see fault_inject.h).
 *
 * LOCKING. No lock: the counters are C11 atomics, so that a wrapper may run
 * on any thread, inside a library lock, without taking part in its lock
 * order. A forked child (the process pool's zygote and workers) inherits
 * the counters as they were and goes on counting in its own copy, so a
 * fork fault armed at k > 1 lands in the zygote's worker forks. */
#include "fault_inject.h"

#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
pid_t __real_fork(void);
int __real_pthread_cond_init(pthread_cond_t *cv,
                             const pthread_condattr_t *attr);
int __real_pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu);
int __real_pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *mu,
                                  const struct timespec *abstime);
int __real_pthread_cond_signal(pthread_cond_t *cv);
int __real_pthread_cond_broadcast(pthread_cond_t *cv);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
pid_t __wrap_fork(void);
int __wrap_pthread_cond_init(pthread_cond_t *cv,
                             const pthread_condattr_t *attr);
int __wrap_pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu);
int __wrap_pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *mu,
                                  const struct timespec *abstime);
int __wrap_pthread_cond_signal(pthread_cond_t *cv);
int __wrap_pthread_cond_broadcast(pthread_cond_t *cv);

struct injector {
  atomic_bool armed;
  atomic_bool sticky;
  atomic_long fail_at;
  atomic_long calls;
  atomic_long injected;
};

static struct injector inj[CF_FI_KINDS];
static atomic_bool spurious_on;
static atomic_long spurious_n;

void cf_fi_arm(cf_fi_kind kind, long fail_at, bool sticky) {
  struct injector *i = &inj[kind];
  atomic_store(&i->armed, false);
  atomic_store(&i->calls, 0);
  atomic_store(&i->fail_at, fail_at);
  atomic_store(&i->sticky, sticky);
  atomic_store(&i->armed, true);
}

long cf_fi_disarm(cf_fi_kind kind) {
  atomic_store(&inj[kind].armed, false);
  return atomic_load(&inj[kind].calls);
}

long cf_fi_injected(cf_fi_kind kind) {
  return atomic_load(&inj[kind].injected);
}

/* True if this call is to fail. */
static bool hit(cf_fi_kind kind) {
  struct injector *i = &inj[kind];
  if (!atomic_load_explicit(&i->armed, memory_order_acquire))
    return false;
  long n = atomic_fetch_add(&i->calls, 1) + 1;
  long k = atomic_load(&i->fail_at);
  if (k <= 0 || n < k || (n > k && !atomic_load(&i->sticky)))
    return false;
  atomic_fetch_add(&i->injected, 1);
  if (getenv("CF_FI_TRACE") != NULL) {
    /* Where the fault landed, for a reproducer. */
    void *frames[32];
    int nf = backtrace(frames, 32);
    char line[64];
    int len = snprintf(line, sizeof line, "fault %d at call %ld (pid %d):\n",
                       (int)kind, n, (int)getpid());
    if (write(2, line, (size_t)len) < 0)
      return true;
    backtrace_symbols_fd(frames, nf, 2);
  }
  return true;
}

void *__wrap_malloc(size_t n) {
  if (hit(CF_FI_ALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
  if (hit(CF_FI_ALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
  if (hit(CF_FI_ALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
  if (hit(CF_FI_ALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return __real_strdup(s);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg) {
  if (hit(CF_FI_THREAD))
    return EAGAIN;
  return __real_pthread_create(t, attr, fn, arg);
}

pid_t __wrap_fork(void) {
  if (hit(CF_FI_FORK)) {
    errno = EAGAIN;
    return -1;
  }
  return __real_fork();
}

/* Spurious wakeups ------------------------------------------------------ */

void cf_fi_spurious(bool on) {
  atomic_store(&spurious_on, on);
}

long cf_fi_spurious_count(void) {
  return atomic_load(&spurious_n);
}

/* A per-thread xorshift: no lock, no shared state to race on. */
static unsigned roll(void) {
  static _Thread_local uint32_t x;
  if (x == 0)
    x = (uint32_t)(uintptr_t)&x ^ 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/* One wait in four returns at once, having dropped the mutex for a yield. */
static bool spurious_wakeup(pthread_mutex_t *mu) {
  if (!atomic_load_explicit(&spurious_on, memory_order_relaxed) ||
      roll() % 4 != 0)
    return false;
  atomic_fetch_add(&spurious_n, 1);
  pthread_mutex_unlock(mu);
  sched_yield();
  pthread_mutex_lock(mu);
  return true;
}

int __wrap_pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu) {
  if (spurious_wakeup(mu))
    return 0;
  return __real_pthread_cond_wait(cv, mu);
}

int __wrap_pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *mu,
                                  const struct timespec *abstime) {
  if (spurious_wakeup(mu))
    return 0;
  return __real_pthread_cond_timedwait(cv, mu, abstime);
}

/* A notify sometimes comes late (a short sleep, the notifier's mutex
 * possibly held) -- the window a lost wakeup needs. */
static void maybe_delay(void) {
  if (!atomic_load_explicit(&spurious_on, memory_order_relaxed))
    return;
  unsigned r = roll() % 64;
  if (r == 0) {
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  } else if (r < 8) {
    sched_yield();
  }
}

int __wrap_pthread_cond_signal(pthread_cond_t *cv) {
  maybe_delay();
  if (atomic_load_explicit(&spurious_on, memory_order_relaxed) &&
      roll() % 2 == 0)
    return __real_pthread_cond_broadcast(cv);
  return __real_pthread_cond_signal(cv);
}

int __wrap_pthread_cond_broadcast(pthread_cond_t *cv) {
  maybe_delay();
  return __real_pthread_cond_broadcast(cv);
}

/* Condition variables' clocks ------------------------------------------- */

static atomic_long not_monotonic;

int __wrap_pthread_cond_init(pthread_cond_t *cv,
                             const pthread_condattr_t *attr) {
  clockid_t clock = CLOCK_REALTIME; /* the default */
  if (attr != NULL)
    pthread_condattr_getclock(attr, &clock);
  if (clock != CLOCK_MONOTONIC)
    atomic_fetch_add(&not_monotonic, 1);
  return __real_pthread_cond_init(cv, attr);
}

long cf_fi_conds_not_monotonic(void) {
  return atomic_load(&not_monotonic);
}

/* LeakSanitizer -------------------------------------------------------- */

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

bool cf_fi_leaks_found(void) {
  if (__lsan_do_recoverable_leak_check == NULL)
    return false;
  return __lsan_do_recoverable_leak_check() != 0;
}
