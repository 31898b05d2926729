/* SPDX-License-Identifier: MIT */
/*
 * The bridge on a libuv loop: a uv_poll_t on the bridge's descriptor and
 * one uv_timer_t for its nearest deadline, re-armed after every dispatch.
 * Everything here runs on the loop thread; the bridge does its own locking.
 */
#include "cfutures/uv.h"

#include <stddef.h>

#define UB_OF(handle, field)                                                   \
  ((cf_uv_bridge *)((char *)(handle)-offsetof(cf_uv_bridge, field)))

static void on_timer(uv_timer_t *t);

static void dispatch(cf_uv_bridge *ub) {
  int rc = cf_bridge_dispatch(ub->bridge, ub->max_per_dispatch, NULL);
  if (ub->closing)
    return;
  if (rc == CF_ESTATE) {
    /* Closed behind the adapter's back: its descriptor may stay readable,
     * so stop polling it rather than spin. */
    uv_poll_stop(&ub->poll);
    uv_timer_stop(&ub->timer);
    return;
  }
  int ms = cf_bridge_next_timeout_ms(ub->bridge);
  if (ms < 0)
    uv_timer_stop(&ub->timer);
  else
    uv_timer_start(&ub->timer, on_timer, (uint64_t)ms, 0);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  dispatch(UB_OF(p, poll));
}

static void on_timer(uv_timer_t *t) {
  dispatch(UB_OF(t, timer));
}

int cf_uv_bridge_init(uv_loop_t *loop, cf_uv_bridge *ub) {
  if (loop == NULL || ub == NULL)
    return CF_EINVAL;
  cf_bridge *b;
  int rc = cf_bridge_new(&b);
  if (rc != 0)
    return rc;
  cf_bridge_bind_thread(b);
  /* On a fresh descriptor this fails only for want of memory; the code is
   * a CF_E* one, as the libevent adapter's. */
  if (uv_poll_init(loop, &ub->poll, cf_bridge_fd(b)) != 0) {
    cf_bridge_free(b);
    return CF_ENOMEM;
  }
  /* Cannot fail on a live loop. */
  uv_timer_init(loop, &ub->timer);
  ub->bridge = b;
  ub->max_per_dispatch = 256;
  ub->close_cb = NULL;
  ub->closing = 0;
  uv_poll_start(&ub->poll, UV_READABLE, on_readable);
  return 0;
}

cf_bridge *cf_uv_bridge_get(const cf_uv_bridge *ub) {
  return ub == NULL ? NULL : ub->bridge;
}

int cf_uv_bridge_set_max(cf_uv_bridge *ub, size_t max) {
  if (ub == NULL)
    return CF_EINVAL;
  ub->max_per_dispatch = max;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  cf_uv_bridge *ub = h->data;
  if (--ub->closing > 0)
    return;
  cf_bridge_free(ub->bridge);
  ub->bridge = NULL;
  if (ub->close_cb != NULL)
    ub->close_cb(ub);
}

int cf_uv_bridge_close(cf_uv_bridge *ub, cf_uv_close_cb close_cb) {
  if (ub == NULL || ub->bridge == NULL)
    return CF_EINVAL;
  if (ub->closing)
    return CF_ESTATE;
  /* Set before the bridge's callbacks run, so that a close started from
   * one of them is refused rather than closing the handles twice. */
  ub->closing = 2;
  int rc = cf_bridge_close(ub->bridge);
  if (rc == CF_EINVAL) {
    ub->closing = 0;
    return rc;
  }
  ub->close_cb = close_cb;
  ub->poll.data = ub;
  ub->timer.data = ub;
  uv_close((uv_handle_t *)&ub->poll, on_closed);
  uv_close((uv_handle_t *)&ub->timer, on_closed);
  return 0;
}
