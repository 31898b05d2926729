/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/uv.h
 * @brief The bridge on a libuv loop (see @ref uv_adapter).
 */
/**
 * @defgroup uv_adapter libuv adapter
 * @ingroup adapters
 * @brief The bridge on a libuv loop (library cfutures_uv, pkg-config
 * libuv).
 *
 * @code
 *   cf_uv_bridge ub;                                  // yours, like a uv
 * handle cf_uv_bridge_init(uv_default_loop(), &ub);        // on the loop
 * thread cf_bridge_submit(cf_uv_bridge_get(&ub), pool, work, arg, on_done, ctx,
 *                    NULL);
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *   ... and, from a callback on the loop, when done:
 *   cf_uv_bridge_close(&ub, on_closed);               // like uv_close
 * @endcode
 *
 * The shape is libuv's: the caller allocates the cf_uv_bridge (embedded in
 * its own struct, or static), initialises it on the loop thread and closes
 * it asynchronously; the memory may go once the close callback has run.
 * The libevent adapter (@ref event_adapter) has the same operations with
 * libevent's shape (an opaque object, *_new and a synchronous *_free):
 *
 * | | libuv (cfutures/uv.h) | libevent (cfutures/event.h) |
 * | --- | --- | --- |
 * | start | cf_uv_bridge_init(loop, &ub) | cf_event_bridge_new(base, &eb) |
 * | bridge | cf_uv_bridge_get(&ub) | cf_event_bridge_get(eb) |
 * | limit | cf_uv_bridge_set_max(&ub, n) | cf_event_bridge_set_max(eb, n) |
 * | stop | cf_uv_bridge_close(&ub, cb) | cf_event_bridge_free(eb) |
 * | memory | the caller's, free once cb ran | the adapter's, gone on return |
 *
 * Start on the loop thread; "bridge" is the cf_bridge to submit and watch
 * through; "limit" bounds the callbacks run per loop iteration; "stop"
 * runs every callback not yet run, at once (cf_bridge_close), and may be
 * called from one of them (the libevent object then goes once that
 * dispatch returns).
 *
 * Each returns 0 or a CF_E* code, the same in both: CF_EINVAL for NULL or
 * a call from a thread other than the loop's, CF_ENOMEM when the loop
 * library cannot set up its handles, CF_ESTATE for a second close or free
 * (from a callback the first one delivers). The libuv struct has a data field
 * for the caller, as libuv handles do; the libevent object needs none (libevent
 * callbacks take their own argument).
 *
 * The adapter polls the bridge's descriptor with a uv_poll_t and serves the
 * bridge's deadlines (cf_bridge_watch_timeout) with one uv_timer_t. Both
 * handles are active until cf_uv_bridge_close, so they keep uv_run going,
 * as a uv_async_t would; uv_unref((uv_handle_t *)&ub.poll) stops that.
 *
 * libuv's own header needs POSIX declarations (pthread_rwlock_t): under
 * -std=c11 define _POSIX_C_SOURCE 200809L (or _GNU_SOURCE) before any
 * include.
 * @{
 */
#ifndef CFUTURES_UV_H
#define CFUTURES_UV_H

#include "bridge.h"

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_uv_bridge cf_uv_bridge;

/**
 * Called on the loop thread once the adapter's handles are closed.
 *
 * @param ub The adapter, which the callback may now free.
 */
typedef void (*cf_uv_close_cb)(cf_uv_bridge *ub);

/** A bridge polled by a libuv loop. Allocated by the caller (like a libuv
 * handle), valid until the close callback has run. Only data is for the
 * caller; use the functions for the rest. */
struct cf_uv_bridge {
  /** Private: the bridge (cf_uv_bridge_get). */
  cf_bridge *bridge;
  /** Private: callbacks per loop iteration (cf_uv_bridge_set_max). */
  size_t max_per_dispatch;
  /** For the user, as libuv handles' data. */
  void *data;
  /** Private: polls the bridge's descriptor. */
  uv_poll_t poll;
  /** Private: serves the bridge's watch deadlines. */
  uv_timer_t timer;
  /** Private: run once both handles are closed. */
  cf_uv_close_cb close_cb;
  /** Private: cf_uv_bridge_close has been called. */
  int closing;
};

/**
 * Creates a bridge bound to the calling thread, which must be the one that
 * runs loop, and starts polling it on loop. On error nothing is left
 * open.
 *
 * @param loop The libuv loop, run by the calling thread.
 * @param[out] ub The caller's adapter struct to initialise.
 * @return 0, CF_EINVAL (loop or ub NULL), the errors of cf_bridge_new
 *         (CF_ENOMEM, CF_EMFILE), CF_ENOMEM (libuv could not set up its
 *         poll handle).
 * @threads Never blocks. The loop thread.
 */
CF_EXTERN int cf_uv_bridge_init(uv_loop_t *loop, cf_uv_bridge *ub);

/**
 * The bridge to submit and watch through (cf_bridge_submit,
 * cf_bridge_submit_bytes, cf_bridge_watch).
 *
 * @param ub The adapter.
 * @return Its bridge, owned by the adapter and valid until the close
 *         callback runs; NULL for NULL, or once closed.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN cf_bridge *cf_uv_bridge_get(const cf_uv_bridge *ub);

/**
 * Sets the most completion callbacks run per loop iteration (0 = every
 * completion ready; 256 by default), so a flood of completions cannot
 * starve the loop's other handles.
 *
 * @param ub The adapter.
 * @param max Most callbacks per iteration; 0 = every completion ready.
 * @return 0 or CF_EINVAL (NULL).
 * @threads Never blocks. Loop thread.
 */
CF_EXTERN int cf_uv_bridge_set_max(cf_uv_bridge *ub, size_t max);

/**
 * Closes the bridge (every callback not yet run runs now, with the status
 * cf_bridge_close gives it) and starts closing the adapter's handles with
 * uv_close; once they are closed the bridge is freed and close_cb (may be
 * NULL) runs, after which ub may be freed. May be called from inside a
 * completion callback.
 *
 * @param ub The adapter.
 * @param close_cb Run once the handles are closed, or NULL.
 * @return 0, CF_EINVAL (NULL, or not the loop thread: nothing is closed),
 *         CF_ESTATE (already closing, such as a second
 *         call from a callback this close delivers).
 * @threads Never blocks (except in callbacks). Loop thread only.
 */
CF_EXTERN int cf_uv_bridge_close(cf_uv_bridge *ub, cf_uv_close_cb close_cb);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_UV_H */
