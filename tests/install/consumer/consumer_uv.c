/* SPDX-License-Identifier: MIT */
/* Built against an installed cfutures_uv: runs one task from a libuv loop
 * through the bridge and closes it from the completion callback. */
#define _POSIX_C_SOURCE 200809L /* uv.h needs pthread_rwlock_t */
#include <cfutures/uv.h>
#include <stdint.h>
#include <stdio.h>

static int answer(void *arg, void **result) {
  *result = arg;
  return 0;
}

static void on_done(cf_future *f, int status, void *userdata) {
  cf_uv_bridge *ub = userdata;
  void *value = NULL;
  if (status == 0 && cf_future_result(f, 0, &value) == 0)
    *(intptr_t *)ub->data = (intptr_t)value;
  cf_uv_bridge_close(ub, NULL);
}

int main(void) {
  intptr_t got = 0;
  cf_uv_bridge ub;
  cf_executor *pool = NULL;
  uv_loop_t *loop = uv_default_loop();
  int err = cf_thread_pool_new(NULL, &pool);
  if (err == 0)
    err = cf_uv_bridge_init(loop, &ub);
  if (err == 0) {
    ub.data = &got;
    err = cf_bridge_submit(ub.bridge, pool, answer, (void *)(intptr_t)42,
                           on_done, &ub, NULL);
  }
  if (err == 0)
    uv_run(loop, UV_RUN_DEFAULT);
  if (pool != NULL)
    cf_executor_free(pool);
  uv_loop_close(loop);
  if (err != 0 || got != 42) {
    fprintf(stderr, "consumer_uv: %s, got %ld\n", cf_strerror(err), (long)got);
    return 1;
  }
  printf("consumer_uv: the loop got %ld\n", (long)got);
  return 0;
}
