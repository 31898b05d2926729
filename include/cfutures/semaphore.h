/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/semaphore.h
 * @brief A counting semaphore with timeouts (see @ref semaphore).
 */
/**
 * @defgroup semaphore Semaphore
 * @brief A counting semaphore with timeouts (Python's threading.Semaphore).
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
 * @{
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
 * with cf_semaphore_free.
 *
 * @param initial The permits it starts with.
 * @param[out] out Receives the semaphore.
 * @return 0, CF_EINVAL (out NULL), CF_ENOMEM.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_semaphore_new(size_t initial, cf_semaphore **out);

/**
 * Takes one permit, waiting up to timeout seconds while none is left.
 * Waiters are served in no guaranteed order.
 *
 * @param s The semaphore.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @return 0 (the caller holds a permit), CF_ETIMEDOUT (none became free
 *         before the deadline; zero polls), CF_EINVAL (s NULL, NaN timeout).
 * @threads Blocks while the count is 0; any thread.
 */
CF_EXTERN int cf_semaphore_acquire(cf_semaphore *s, double timeout);

/**
 * Takes one permit if one is free now.
 *
 * @param s The semaphore.
 * @return 0, CF_EAGAIN (none free), CF_EINVAL (s NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_semaphore_try_acquire(cf_semaphore *s);

/**
 * Gives one permit back and wakes one waiter, if any.
 *
 * @param s The semaphore.
 * @return 0, or CF_EINVAL (s NULL, or the count is already SIZE_MAX).
 * @threads Never blocks for long; any thread, also one that did not
 *          acquire the permit.
 */
CF_EXTERN int cf_semaphore_release(cf_semaphore *s);

/**
 * The number of free permits now.
 *
 * @param s The semaphore.
 * @return The count (0 for NULL).
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN size_t cf_semaphore_value(const cf_semaphore *s);

/**
 * Frees the semaphore. No thread may be waiting on it or use it afterwards.
 * NULL is a no-op.
 *
 * @param s The semaphore, or NULL.
 * @threads Never blocks; no other thread may use s at the same time or
 *          afterwards.
 */
CF_EXTERN void cf_semaphore_free(cf_semaphore *s);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_SEMAPHORE_H */
