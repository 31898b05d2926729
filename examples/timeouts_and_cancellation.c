/* SPDX-License-Identifier: MIT */
/*
 * Timeouts and cancellation.
 *
 * Python:
 *     try:
 *         f.result(timeout=0.05)
 *     except TimeoutError:
 *         f.cancel()
 *
 * A timeout only bounds the wait: the task goes on. To stop it, cancel a
 * queued future (it never runs), or raise a running task's cancel token,
 * which the task polls with cf_task_cancel_requested.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* A long job that checks, between steps, whether it is still wanted. */
static int long_job(void *arg, void **result) {
  struct timespec step = {0, 5 * 1000000L};
  for (int i = 0; i < 2000; i++) { /* 10 s if nobody stops it */
    if (cf_task_cancel_requested()) {
      cf_task_set_message("stopped early on request");
      return CF_ECANCELED;
    }
    nanosleep(&step, NULL);
  }
  *result = arg;
  return 0;
}

int main(void) {
  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 1; /* the second job has to queue */
  cf_executor *pool = NULL;
  cf_future *running = NULL, *queued = NULL;
  int err = cf_thread_pool_new(&opts, &pool);
  if (err == 0)
    err = cf_submit(pool, long_job, NULL, &running);
  if (err == 0)
    err = cf_submit(pool, long_job, NULL, &queued);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    if (running != NULL)
      cf_future_request_cancel(running); /* so freeing the pool is quick */
    cf_future_release(running);
    cf_executor_free(pool);
    return 1;
  }

  /* 1. A bounded wait: CF_ETIMEDOUT, and the future is still not done. */
  err = cf_future_result(running, 0.05, NULL);
  printf("result(timeout=0.05): %s; done: %s\n", cf_err_name(err),
         cf_future_done(running) ? "yes" : "no");

  /* 2. A queued task is cancelled outright: it will never run. */
  printf("cancel queued job: %s\n", cf_future_cancel(queued) ? "ok" : "no");
  printf("its result: %s\n", cf_err_name(cf_future_result(queued, -1, NULL)));

  /* 3. A running task cannot be cancelled, only asked to stop. */
  printf("cancel running job: %s\n", cf_future_cancel(running) ? "ok" : "no");
  cf_future_request_cancel(running);
  err = cf_future_result(running, 10.0, NULL);
  printf("running job ended: %s (%s)\n", cf_err_name(err),
         cf_future_error_message(running) ? cf_future_error_message(running)
                                          : "no message");
  int ok = cf_future_cancelled(queued) && err == CF_ECANCELED;

  /* 4. A shutdown that cancels whatever is still queued. */
  cf_future *late = NULL;
  cf_submit(pool, long_job, NULL, &late);
  cf_shutdown(pool, CF_SHUTDOWN_CANCEL_FUTURES | CF_SHUTDOWN_WAIT);
  printf("after shutdown(cancel_futures): %s; new submits: %s\n",
         cf_err_name(cf_future_error(late, -1)),
         cf_err_name(cf_submit(pool, long_job, NULL, NULL)));

  cf_future_release(late);
  cf_future_release(running);
  cf_future_release(queued);
  cf_executor_free(pool);
  return ok ? 0 : 1;
}
