/* SPDX-License-Identifier: MIT */
/*
 * Race several tasks, keep the first to finish, cancel the rest.
 *
 * Python:
 *     done, not_done = wait(fs, return_when=FIRST_COMPLETED)
 *     for f in not_done: f.cancel()
 *
 * cf_future_cancel only stops tasks that have not started. Tasks already
 * running learn that they should stop through cf_future_request_cancel and
 * cf_task_cancel_requested: cancellation is cooperative, nothing is ever
 * interrupted.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define N 6

/* "Searches" for arg milliseconds, checking every millisecond whether it
 * is still wanted. */
static int search(void *arg, void **result) {
  intptr_t ms = (intptr_t)arg;
  struct timespec one_ms = {0, 1000000};
  for (intptr_t i = 0; i < ms; i++) {
    if (cf_task_cancel_requested())
      return CF_ECANCELED; /* the future then ends cancelled */
    nanosleep(&one_ms, NULL);
  }
  *result = arg;
  return 0;
}

int main(void) {
  /* Two workers, six tasks: two run at once, four wait in the queue. */
  static const intptr_t durations[N] = {30, 400, 300, 500, 200, 600};
  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 2;
  cf_executor *pool = NULL;
  cf_future *fs[N], *done[N], *not_done[N];
  size_t ndone = 0, nnot_done = 0, n = 0;

  int err = cf_thread_pool_new(&opts, &pool);
  /* A failed submit leaves fs[n] unset: stop before counting it. */
  for (; err == 0 && n < N; n++)
    if ((err = cf_submit(pool, search, (void *)durations[n], &fs[n])) != 0)
      break;
  if (err == 0)
    err = cf_wait(fs, N, 10.0, CF_FIRST_COMPLETED, done, &ndone, not_done,
                  &nnot_done);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    for (size_t i = 0; i < n; i++)
      cf_future_release(fs[i]);
    cf_executor_free(pool);
    return 1;
  }

  void *winner = NULL;
  cf_future_result(done[0], 0, &winner); /* done: does not block */
  printf("first done: the %ld ms search (%zu finished, %zu not)\n",
         (long)(intptr_t)winner, ndone, nnot_done);

  /* Cancel the queued ones outright; ask the running one to stop. */
  size_t cancelled = 0, stopped = 0;
  for (size_t i = 0; i < nnot_done; i++) {
    if (cf_future_cancel(not_done[i]))
      cancelled++;
    else if (cf_future_request_cancel(not_done[i]) == 0)
      stopped++;
  }
  printf("cancelled %zu queued, asked %zu running to stop\n", cancelled,
         stopped);

  /* The pool waits for the stopped task to notice and return. */
  cf_executor_free(pool);
  int cancelled_states = 0;
  for (size_t i = 0; i < n; i++) {
    cancelled_states += cf_future_cancelled(fs[i]);
    cf_future_release(fs[i]);
  }
  printf("%d of %d futures ended cancelled\n", cancelled_states, N);
  return (intptr_t)winner == 30 && cancelled_states == N - 1 ? 0 : 1;
}
