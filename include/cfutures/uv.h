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
 *   cf_uv_bridge ub;
 *   cf_uv_bridge_init(uv_default_loop(), &ub);        // on the loop thread
 *   cf_bridge_submit(ub.bridge, pool, work, arg, on_done, ctx, NULL);
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *   ... and, from a callback on the loop, when done:
 *   cf_uv_bridge_close(&ub, on_closed);
 * @endcode
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
 * handle), valid until the close callback has run. */
struct cf_uv_bridge {
  /** The bridge to submit and watch through (read-only). */
  cf_bridge *bridge;
  /** Most completion callbacks per loop iteration; 0 = every completion
   * ready. 256 after init; may be changed on the loop thread. */
  size_t max_per_dispatch;
  /** For the user. */
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
 * @return 0, CF_EINVAL (loop or ub NULL), the errors of cf_bridge_new, or a
 *         libuv error code (a negative errno) from uv_poll_init.
 * @threads Never blocks. The loop thread.
 */
CF_EXTERN int cf_uv_bridge_init(uv_loop_t *loop, cf_uv_bridge *ub);

/**
 * Closes the bridge (every callback not yet run runs now, with the status
 * cf_bridge_close gives it) and starts closing the adapter's handles with
 * uv_close; once they are closed the bridge is freed and close_cb (may be
 * NULL) runs, after which ub may be freed. May be called from inside a
 * completion callback.
 *
 * @param ub The adapter.
 * @param close_cb Run once the handles are closed, or NULL.
 * @return 0, CF_EINVAL (NULL, or not the loop thread), CF_ESTATE (already
 *         closing).
 * @threads Never blocks (except in callbacks). Loop thread only.
 */
CF_EXTERN int cf_uv_bridge_close(cf_uv_bridge *ub, cf_uv_close_cb close_cb);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_UV_H */
