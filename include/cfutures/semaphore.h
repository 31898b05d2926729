/* SPDX-License-Identifier: MIT */
/*
 * cfutures/semaphore.h: a counting semaphore with timeouts.
 *
 * A semaphore holds a count of permits. Acquiring takes one, waiting while
 * none is left; releasing gives one back and wakes one waiter. Its common
 * use is limiting how many tasks use a resource at once (Python's
 * threading.Semaphore / asyncio.Semaphore): submit every task, and let each
 * acquire a permit around the part that must not run more than N wide.
 *
 * Unlike POSIX sem_t, waits are measured on CLOCK_MONOTONIC and follow the
 * library's timeout rule (negative waits forever, zero polls, NaN is
 * CF_EINVAL), and errors are CF_E* codes. Every function may be called from
 * any thread; a permit may be released by a thread other than the one that
 * acquired it.
 */
#ifndef CFUTURES_SEMAPHORE_H
#define CFUTURES_SEMAPHORE_H

#include "cfutures.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A counting semaphore (opaque). */
typedef struct cf_semaphore cf_semaphore;

/**
 * Creates a semaphore holding initial permits (0 is allowed: the first
 * acquire then waits for a release). *out receives it; the caller frees it
 * with cf_semaphore_free. Returns 0, CF_EINVAL (out NULL), CF_ENOMEM.
 * Never blocks.
 */
CF_EXTERN int cf_semaphore_new(size_t initial, cf_semaphore **out);

/**
 * Takes one permit, waiting up to timeout seconds while none is left.
 * Waiters are served in no guaranteed order. Returns 0 (the caller holds a
 * permit), CF_ETIMEDOUT (none became free before the deadline; zero
 * polls), CF_EINVAL (s NULL, NaN timeout). Blocks while the count is 0.
 */
CF_EXTERN int cf_semaphore_acquire(cf_semaphore *s, double timeout);

/**
 * Takes one permit if one is free now. Returns 0, CF_EAGAIN (none free),
 * CF_EINVAL (s NULL). Never blocks.
 */
CF_EXTERN int cf_semaphore_try_acquire(cf_semaphore *s);

/**
 * Gives one permit back and wakes one waiter, if any. Returns 0, or
 * CF_EINVAL (s NULL, or the count is already SIZE_MAX). Never blocks for
 * long.
 */
CF_EXTERN int cf_semaphore_release(cf_semaphore *s);

/** The number of free permits now (0 for NULL). Never blocks for long. */
CF_EXTERN size_t cf_semaphore_value(const cf_semaphore *s);

/**
 * Frees the semaphore. No thread may be waiting on it or use it afterwards.
 * NULL is a no-op.
 */
CF_EXTERN void cf_semaphore_free(cf_semaphore *s);

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_SEMAPHORE_H */
