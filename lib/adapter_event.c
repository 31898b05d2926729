/* SPDX-License-Identifier: MIT */
/*
 * The bridge on a libevent loop: a persistent EV_READ event on the bridge's
 * descriptor and one timer event for its nearest deadline, re-armed after
 * every dispatch. Everything here runs on the loop thread; the bridge does
 * its own locking.
 */
#include "cfutures/event.h"

#include <event2/event.h>
#include <stdlib.h>

struct cf_event_bridge {
  cf_bridge *bridge;
  struct event *readable;
  struct event *timer;
  size_t max;
  bool dispatching;
  bool freeing;
};

static void destroy(cf_event_bridge *eb) {
  /* event_free deletes the event first; on the loop thread it never
   * waits. */
  event_free(eb->readable);
  event_free(eb->timer);
  cf_bridge_free(eb->bridge);
  free(eb);
}

static void dispatch(cf_event_bridge *eb) {
  eb->dispatching = true;
  int rc = cf_bridge_dispatch(eb->bridge, eb->max, NULL);
  eb->dispatching = false;
  if (eb->freeing) {
    destroy(eb);
    return;
  }
  if (rc == CF_ESTATE) {
    /* Closed behind the adapter's back: its descriptor may stay readable,
     * so stop watching it rather than spin. */
    event_del(eb->readable);
    evtimer_del(eb->timer);
    return;
  }
  int ms = cf_bridge_next_timeout_ms(eb->bridge);
  if (ms < 0) {
    evtimer_del(eb->timer);
  } else {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(eb->timer, &tv);
  }
}

static void on_event(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  dispatch(arg);
}

int cf_event_bridge_new(struct event_base *base, cf_event_bridge **out) {
  if (base == NULL || out == NULL)
    return CF_EINVAL;
  cf_event_bridge *eb = calloc(1, sizeof *eb);
  if (eb == NULL)
    return CF_ENOMEM;
  int rc = cf_bridge_new(&eb->bridge);
  if (rc != 0) {
    free(eb);
    return rc;
  }
  cf_bridge_bind_thread(eb->bridge);
  eb->max = 256;
  eb->readable = event_new(base, cf_bridge_fd(eb->bridge), EV_READ | EV_PERSIST,
                           on_event, eb);
  eb->timer = evtimer_new(base, on_event, eb);
  if (eb->readable == NULL || eb->timer == NULL ||
      event_add(eb->readable, NULL) != 0) {
    if (eb->readable != NULL)
      event_free(eb->readable);
    if (eb->timer != NULL)
      event_free(eb->timer);
    cf_bridge_free(eb->bridge);
    free(eb);
    return CF_ENOMEM;
  }
  *out = eb;
  return 0;
}

cf_bridge *cf_event_bridge_get(const cf_event_bridge *eb) {
  return eb == NULL ? NULL : eb->bridge;
}

int cf_event_bridge_set_max(cf_event_bridge *eb, size_t max) {
  if (eb == NULL)
    return CF_EINVAL;
  eb->max = max;
  return 0;
}

int cf_event_bridge_free(cf_event_bridge *eb) {
  if (eb == NULL)
    return CF_EINVAL;
  if (eb->freeing) /* called again from a callback this free delivers */
    return CF_ESTATE;
  eb->freeing = true;
  /* Deliver now (and learn whether this is the loop thread) while the
   * events still exist; the rest waits for the dispatch, if any, to
   * unwind. */
  int rc = cf_bridge_close(eb->bridge);
  if (rc == CF_EINVAL) {
    eb->freeing = false;
    return rc;
  }
  if (!eb->dispatching)
    destroy(eb);
  return 0;
}
