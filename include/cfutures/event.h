/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/event.h
 * @brief The bridge on a libevent loop (see @ref event_adapter).
 */
/**
 * @defgroup event_adapter libevent adapter
 * @ingroup adapters
 * @brief The bridge on a libevent loop (library cfutures_event, pkg-config
 * libevent).
 *
 * @code
 *   cf_event_bridge *eb;
 *   cf_event_bridge_new(base, &eb);                 // on the loop thread
 *   cf_bridge_submit(cf_event_bridge_get(eb), pool, work, arg, on_done,
 *                    ctx, NULL);
 *   event_base_dispatch(base);
 *   ... and, from a callback on the loop (or after the loop), when done:
 *   cf_event_bridge_free(eb);                       // like event_free
 * @endcode
 *
 * The shape is libevent's: an opaque object made by cf_event_bridge_new
 * and freed, synchronously, by cf_event_bridge_free. The libuv adapter
 * (@ref uv_adapter) has the same operations with libuv's shape (a
 * caller-allocated struct, closed asynchronously with a close callback):
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
 * The adapter watches the bridge's descriptor with one persistent EV_READ
 * event and serves the bridge's deadlines (cf_bridge_watch_timeout) with
 * one timer event. The read event keeps event_base_dispatch running until
 * cf_event_bridge_free (or event_base_loopbreak / loopexit).
 * @{
 */
#ifndef CFUTURES_EVENT_H
#define CFUTURES_EVENT_H

#include "bridge.h"

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
/** A bridge served by a libevent base (opaque). */
typedef struct cf_event_bridge cf_event_bridge;

/**
 * Creates a bridge bound to the calling thread, which must be the one that
 * runs base, and adds its events to base. *out receives the adapter.
 *
 * @param base The libevent base, run by the calling thread.
 * @param[out] out Receives the adapter, freed with cf_event_bridge_free.
 * @return 0, CF_EINVAL (base or out NULL), the errors of cf_bridge_new
 *         (CF_ENOMEM, CF_EMFILE), CF_ENOMEM (libevent could not make or add
 *         an event).
 * @threads Never blocks. The loop thread.
 */
CF_EXTERN int cf_event_bridge_new(struct event_base *base,
                                  cf_event_bridge **out);

/**
 * The bridge to submit and watch through.
 *
 * @param eb The adapter.
 * @return Its bridge (NULL for NULL), owned by the adapter and valid
 *         until cf_event_bridge_free.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN cf_bridge *cf_event_bridge_get(const cf_event_bridge *eb);

/**
 * Sets the most completion callbacks run per loop iteration (0 = every
 * completion ready; 256 by default).
 *
 * @param eb The adapter.
 * @param max Most callbacks per iteration; 0 = every completion ready.
 * @return 0 or CF_EINVAL (NULL).
 * @threads Never blocks. Loop thread.
 */
CF_EXTERN int cf_event_bridge_set_max(cf_event_bridge *eb, size_t max);

/**
 * Removes the adapter's events, closes and frees the bridge (every callback
 * not yet run runs now, with the status cf_bridge_close gives it) and frees
 * the adapter. May be called from inside a completion callback (the
 * adapter then goes once that dispatch returns).
 *
 * @param eb The adapter.
 * @return 0, CF_EINVAL (NULL, or not the loop thread: nothing is freed),
 *         CF_ESTATE (called again from a callback this free delivers).
 * @threads Never blocks (except in callbacks). Loop thread only.
 */
CF_EXTERN int cf_event_bridge_free(cf_event_bridge *eb);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_EVENT_H */
