/* SPDX-License-Identifier: MIT */
/* Built against an installed cfutures_event: runs one task from a libevent
 * loop through the bridge and frees the adapter from the completion
 * callback, which leaves the loop without events so that it returns. */
#include <cfutures/event.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  cf_event_bridge *eb;
  intptr_t got;
  int free_rc;
} consumer_ctx;

static int answer(void *arg, void **result) {
  *result = arg;
  return 0;
}

static void on_done(cf_future *f, int status, void *userdata) {
  consumer_ctx *c = userdata;
  void *value = NULL;
  if (status == 0 && cf_future_result(f, 0, &value) == 0)
    c->got = (intptr_t)value;
  c->free_rc = cf_event_bridge_free(c->eb);
}

int main(void) {
  consumer_ctx c = {NULL, 0, -1};
  cf_executor *pool = NULL;
  struct event_base *base = event_base_new();
  int err = base != NULL ? cf_thread_pool_new(NULL, &pool) : CF_ENOMEM;
  if (err == 0)
    err = cf_event_bridge_new(base, &c.eb);
  if (err == 0)
    err = cf_bridge_submit(cf_event_bridge_get(c.eb), pool, answer,
                           (void *)(intptr_t)42, on_done, &c, NULL);
  if (err == 0)
    event_base_dispatch(base);
  if (pool != NULL)
    cf_executor_free(pool);
  if (base != NULL)
    event_base_free(base);
  if (err != 0 || c.got != 42 || c.free_rc != 0) {
    fprintf(stderr, "consumer_event: %s, got %ld\n", cf_strerror(err),
            (long)c.got);
    return 1;
  }
  printf("consumer_event: the loop got %ld\n", (long)c.got);
  return 0;
}
