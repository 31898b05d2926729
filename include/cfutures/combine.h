/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/combine.h
 * @brief Futures made of futures, without blocking (see @ref combinators).
 */
/**
 * @defgroup combinators Combinators
 * @brief Futures made of futures, without blocking: cf_future_all() and
 * cf_future_any() (asyncio's `await gather(...)`, Java's allOf / anyOf).
 *
 * cf_gather and cf_wait block the calling thread, which an event loop
 * cannot afford. The calls here return at once with a new future, the
 * combined future, that completes when its inputs decide: give it a done
 * callback, watch it with cf_bridge_watch, chain it with cf_future_then or
 * wait on it like any other future (asyncio's `await gather(...)`, Java's
 * allOf / anyOf).
 *
 * @code
 *   cf_future *all;
 *   cf_future_all(fs, n, 0, &all);             // returns at once
 *   for (size_t i = 0; i < n; i++)
 *     cf_future_release(fs[i]);                // all keeps what it needs
 *   cf_bridge_watch(bridge, all, on_all, ctx); // on_all runs on the loop
 *   cf_future_release(all);
 * @endcode
 *
 * Rules that hold for every combinator:
 *
 *  - Inputs may come from any executor (thread pool, process pool, MPI
 *    pool) or from cf_future_new, mixed in one call, listed more than once,
 *    already done or not.
 *  - No thread waits: the combinator adds a done callback to each input.
 *    It decides on the thread that completes the deciding input (or on the
 *    calling thread, before the call returns, if that input is already
 *    done); the combined future's own done callbacks run there too.
 *  - Ownership: the combinator takes a reference to each input, so the
 *    caller may release its own at once. It drops them all as the combined
 *    future ends, and takes its callbacks off the inputs still unfinished,
 *    so ending early keeps nothing alive; when the inputs decide, this
 *    (and CF_COMBINE_CANCEL_INPUTS) happens before the combined future is
 *    completed, so whoever sees it done sees the rest asked to cancel. What
 *    it reports (outcome codes, result pointers) is copied into the
 *    combined future; what an input owns stays with the input: its error
 *    message, and the bytes of a byte future (cf_submit_bytes), whose
 *    result pointer is reported as NULL here. Keep a reference to such an
 *    input to read them (cf_future_bytes, cf_future_error_message).
 *  - The combined future belongs to the library: cf_future_set_result,
 *    cf_future_set_error and cf_future_set_running refuse it (CF_EINVAL).
 *    While it is pending, cf_future_cancel (or cf_future_request_cancel)
 *    cancels it: it ends CF_CANCELLED and, before the cancel call returns,
 *    drops its inputs and, with CF_COMBINE_CANCEL_INPUTS, calls
 *    cf_future_request_cancel on every input not yet done. An input that
 *    is itself cancelled does not cancel the combined future: it is an
 *    outcome like an error (CF_ECANCELED).
 *  - A caller's mistake is CF_EINVAL; out of memory is CF_ENOMEM; either
 *    way nothing was registered and *out is left untouched.
 * @{
 */
#ifndef CFUTURES_COMBINE_H
#define CFUTURES_COMBINE_H

#include "cfutures.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of cf_future_all (and, for CF_COMBINE_CANCEL_INPUTS, of
 * cf_future_with_timeout). */
enum {
  /** Done at the first input that fails (an error, or cancelled) instead
   * of when every input is done; the others are left running unless
   * CF_COMBINE_CANCEL_INPUTS is given too. */
  CF_ALL_FAIL_FAST = 1 << 0,
  /** asyncio's return_exceptions: the combined future succeeds once every
   * input is done, whatever their outcomes; read each with
   * cf_future_all_outcome. Not with CF_ALL_FAIL_FAST. */
  CF_ALL_RETURN_ERRORS = 1 << 1,
  /** When the combined future ends before some input is done (fail-fast,
   * a timeout, or the combined future cancelled), call
   * cf_future_request_cancel on those inputs: a pending task is
   * cancelled, a running one sees its cancel token. */
  CF_COMBINE_CANCEL_INPUTS = 1 << 2
};

/** One input's outcome, as cf_future_all reports it. */
typedef struct cf_outcome {
  /** 0 (succeeded), the input's error code, CF_ECANCELED (the input was
   * cancelled), or CF_EBUSY (the input was not done when the combined
   * future ended: fail-fast). */
  int err;
  /** The input's result when err is 0 (as cf_future_result gives it;
   * NULL for a byte future), else NULL. */
  void *value;
} cf_outcome;

/**
 * @brief A future done when every input is done (asyncio.gather without
 * awaiting; Java's allOf).
 *
 * Without flags the combined future is done once every input is done: it
 * succeeds if every input succeeded, and otherwise fails with the error
 * code (and a copy of the message) of the first failed input in input
 * order, a cancelled input counting as CF_ECANCELED. With CF_ALL_FAIL_FAST
 * it fails as soon as one input fails, with that input's code. With
 * CF_ALL_RETURN_ERRORS it always succeeds once every input is done.
 *
 * Either way its outcomes are reachable, in input order, for as long as a
 * reference to it is held: on success cf_future_result gives a pointer to
 * an array of n cf_outcome (owned by the combined future; NULL when n is
 * 0), and cf_future_all_outcome reads one outcome after success or failure.
 * n == 0 gives a future already done with success.
 *
 * @param fs the inputs (borrowed for the call; each gets a reference of
 *           the combinator's own until the combined future is done)
 * @param n how many; may be 0
 * @param flags CF_ALL_FAIL_FAST, CF_ALL_RETURN_ERRORS,
 *              CF_COMBINE_CANCEL_INPUTS, or 0
 * @param[out] out receives one reference to the combined future
 * @return 0; CF_EINVAL (out NULL, fs NULL with n > 0, a NULL input, an
 *         unknown flag, CF_ALL_FAIL_FAST with CF_ALL_RETURN_ERRORS);
 *         CF_ENOMEM.
 * @threads Never blocks; may run the combined future's callbacks before
 *          returning when the inputs already decide. Any thread.
 */
CF_EXTERN int cf_future_all(cf_future *const *fs, size_t n, unsigned flags,
                            cf_future **out);

/**
 * @brief Reads input i's outcome from a future made by cf_future_all.
 *
 * @param all the combined future (borrowed), done
 * @param i the input's index in the array given to cf_future_all
 * @param[out] result if not NULL, receives the input's result when it
 *                    succeeded (NULL for a byte future), else NULL
 * @return the input's outcome, as cf_outcome.err: 0, its error code,
 *         CF_ECANCELED, CF_EBUSY (not done when @p all ended); or, about
 *         the call: CF_EINVAL (all NULL or not from cf_future_all, i out of
 *         range), CF_ESTATE (all is not done yet), CF_ECANCELED (all itself
 *         was cancelled: it has no outcomes; cf_future_cancelled tells
 *         this apart). *result is written only when the return is an
 *         outcome.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_future_all_outcome(const cf_future *all, size_t i,
                                    void **result);

/**
 * @brief A future done when the first input is done (Java's anyOf;
 * asyncio.wait with FIRST_COMPLETED, without awaiting).
 *
 * The combined future finishes with the first input's outcome: its result
 * (NULL for a byte future), or its error code and a copy of its message;
 * an input that was cancelled makes it fail with CF_ECANCELED (it is not
 * itself cancelled). cf_future_any_index says which input it was. The
 * other inputs are left running. When several inputs are already done at
 * the call, the first of them in input order wins.
 *
 * @param fs the inputs (borrowed for the call; referenced by the
 *           combinator until the combined future is done)
 * @param n how many; at least 1 (no input could ever be first)
 * @param[out] out receives one reference to the combined future
 * @return 0; CF_EINVAL (out or fs NULL, n == 0, a NULL input); CF_ENOMEM.
 * @threads Never blocks; may run the combined future's callbacks before
 *          returning. Any thread.
 */
CF_EXTERN int cf_future_any(cf_future *const *fs, size_t n, cf_future **out);

/**
 * @brief Which input of a cf_future_any future came first.
 *
 * @param any the combined future (borrowed), done
 * @param[out] index receives the input's index in the array given to
 *                   cf_future_any
 * @return 0; CF_EINVAL (NULL argument, a future not from cf_future_any);
 *         CF_ESTATE (not done yet); CF_ECANCELED (any itself was
 *         cancelled before an input was done).
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_future_any_index(const cf_future *any, size_t *index);

/**
 * @brief A future that completes with f's outcome, or fails with
 * CF_ETIMEDOUT if f is not done within seconds (asyncio.wait_for, without
 * awaiting).
 *
 * If f is done first, the combined future finishes with f's outcome (its
 * result, NULL for a byte future; or its error code and a copy of its
 * message; CF_ECANCELED if f was cancelled) and the timer is cancelled. If
 * the deadline comes first it fails with CF_ETIMEDOUT, and with
 * CF_COMBINE_CANCEL_INPUTS it first calls cf_future_request_cancel(f) (a
 * pending f is cancelled, a running one sees its cancel token); f is left
 * running otherwise. The deadline is measured on CLOCK_MONOTONIC by the
 * process's timer thread (cfutures/timer.h): the timeout decision runs,
 * with the combined future's callbacks, on that thread. A negative timeout
 * never times out; 0 fails at once on the timer thread unless f is already
 * done. A timeout is told apart from f itself failing with CF_ETIMEDOUT by
 * cf_future_done(f) (false after a timeout, unless f finished since).
 *
 * @param f the future (borrowed; referenced until the combined future is
 *          done)
 * @param seconds the timeout
 * @param flags CF_COMBINE_CANCEL_INPUTS or 0
 * @param[out] out receives one reference to the combined future
 * @return 0; CF_EINVAL (f or out NULL, NaN, an unknown flag); CF_ENOMEM;
 *         CF_EAGAIN (the timer thread could not be started).
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_future_with_timeout(cf_future *f, double seconds,
                                     unsigned flags, cf_future **out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_COMBINE_H */
