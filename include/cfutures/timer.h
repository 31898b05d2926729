/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/timer.h
 * @brief Timers and scheduled tasks (see @ref timers).
 */
/**
 * @defgroup timers Timers
 * @brief Timers and scheduled tasks (asyncio.sleep, loop.call_later,
 * Java's ScheduledExecutorService).
 *
 * A timer is a future that completes, with success and a NULL result, when
 * its delay has passed on CLOCK_MONOTONIC. Every timer of the process is
 * served by one timer thread, started by the first timer and ended after a
 * second with none pending (the next timer starts it again), driving a
 * binary min-heap: a pending timer costs no thread and about 120 bytes, and
 * cancelling one takes it out of the heap in O(log n). Its done callbacks
 * run on the timer thread, with no library lock held, in deadline order:
 * keep them short (submit long work to an executor), since every other
 * timer waits while one runs.
 *
 * Like every future, a timer is watched from a loop with cf_bridge_watch,
 * combined with cfutures/combine.h, chained with cf_future_then.
 *
 * After fork(), the child has no timer thread: timers pending in the parent
 * never fire in the child (their futures stay pending there), and the
 * child's first timer starts a thread of its own.
 * @{
 */
#ifndef CFUTURES_TIMER_H
#define CFUTURES_TIMER_H

#include "cfutures.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief A future that completes after @p seconds (asyncio.sleep as a
 * future; loop.call_later with cf_future_on_done).
 *
 * The future finishes with success (result NULL) on the timer thread once
 * the delay has passed, never earlier; its callbacks run there. A delay of
 * 0 or less completes it as soon as the timer thread runs (never on the
 * calling thread); one beyond about 31 years never fires. Cancelling it
 * while pending (cf_future_cancel) completes it cancelled, on the
 * cancelling thread, and takes it out of the heap. Releasing it does not
 * cancel it: the heap keeps its own reference until it fires.
 *
 * @param seconds the delay
 * @param[out] out receives one reference to the timer's future
 * @return 0; CF_EINVAL (out NULL, NaN); CF_ENOMEM; CF_EAGAIN (the timer
 *         thread could not be started).
 * @threads Never blocks for long (a short lock shared with the timer
 *          thread). Any thread, also a timer callback.
 */
CF_EXTERN int cf_future_after(double seconds, cf_future **out);

/**
 * @brief Submits fn(arg) to ex after a delay (ScheduledExecutorService's
 * schedule; loop.call_later of run_in_executor).
 *
 * When the delay has passed, the timer thread submits the task to ex; the
 * returned future then stands for the task: it stays pending while the
 * timer is pending and while the task is queued or runs, and completes
 * with the task's outcome (result, error code and message, or cancelled).
 * cf_future_cancel on it succeeds while the timer is pending (the task is
 * never submitted) and while the task is queued (the task never runs); it
 * fails once the task runs. cf_future_request_cancel raises a running
 * task's cancel token. If ex refuses the task when the timer fires
 * (shut down: CF_ESHUTDOWN; broken; a full queue under CF_POOL_NONBLOCK:
 * CF_EAGAIN), the future fails with that code. With a bounded queue
 * without CF_POOL_NONBLOCK, a full queue holds up the timer thread (and
 * every other timer) until there is room: prefer CF_POOL_NONBLOCK there.
 * ex must outlive the timer.
 *
 * @param ex a thread pool (an executor that runs cf_fn tasks)
 * @param seconds the delay (0 or less: as soon as the timer thread runs)
 * @param fn the task
 * @param arg its argument
 * @param[out] out receives one reference to the future
 * @return 0; CF_EINVAL (ex, fn or out NULL, NaN, an executor that takes
 *         byte tasks); CF_ENOMEM; CF_EAGAIN (no timer thread).
 * @threads Never blocks for long. Any thread.
 */
CF_EXTERN int cf_submit_after(cf_executor *ex, double seconds, cf_fn fn,
                              void *arg, cf_future **out);

/** Flags of cf_submit_every. */
enum {
  /** Each run is due one period after the previous run was due (Java's
   * scheduleAtFixedRate): runs that fall behind follow one another at once,
   * never two at a time. The default. */
  CF_EVERY_FIXED_RATE = 0,
  /** Each run is due one period after the previous run ended (Java's
   * scheduleWithFixedDelay). */
  CF_EVERY_FIXED_DELAY = 1 << 0
};

/**
 * @brief Submits fn(arg) to ex every @p period seconds, the first time one
 * period from now (ScheduledExecutorService's scheduleAtFixedRate /
 * scheduleWithFixedDelay).
 *
 * One run at a time: the next is scheduled when the previous is done. The
 * returned future stays pending while the runs go on; it completes only
 * when a run fails (with that run's error code and message, or cancelled
 * if the run ended cancelled), when ex refuses a run (its code), or when
 * it is cancelled. cf_future_cancel succeeds whenever it is pending: no
 * further run starts; a queued run is cancelled, a running one finishes
 * undisturbed (cf_future_request_cancel, which cancels first, does the
 * same). Results of successful runs are dropped. ex must outlive the schedule.
 *
 * @param ex a thread pool
 * @param period seconds between runs, > 0 and finite
 * @param flags CF_EVERY_FIXED_RATE or CF_EVERY_FIXED_DELAY
 * @param fn the task
 * @param arg its argument
 * @param[out] out receives one reference to the future
 * @return 0; CF_EINVAL (NULL ex, fn or out, a period that is not > 0,
 *         NaN or infinite, an unknown flag, an executor that takes byte
 *         tasks); CF_ENOMEM; CF_EAGAIN (no timer thread).
 * @threads Never blocks for long. Any thread.
 */
CF_EXTERN int cf_submit_every(cf_executor *ex, double period, unsigned flags,
                              cf_fn fn, void *arg, cf_future **out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_TIMER_H */
