/* SPDX-License-Identifier: MIT */
/* Closing a bridge with work in flight, when each task reads a request on
 * the heap (a plain epoll loop; the libuv and libevent adapters close the
 * same way).
 *
 * A bridge that closes delivers every outstanding callback at once, with
 * status CF_ESHUTDOWN for those whose task has not finished: such a task
 * may be queued, or running and still reading its request. So the request
 * is freed when the future itself is done (cf_future_on_done runs at once
 * if it is; otherwise on the worker, after the task returned), never in
 * the bridge callback alone. Run under AddressSanitizer or valgrind, the
 * shortcut -- free(req) in on_done -- is a use-after-free.
 */
#define _POSIX_C_SOURCE 200809L

#include <cfutures.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

enum { REQUESTS = 12 };

typedef struct request {
  unsigned n;   /* input, read by the task */
  unsigned sum; /* output, written by the task */
} request;

static atomic_int freed; /* requests freed so far */
static int answered, shut_down;

/* Runs on a pool thread: a slow sum of 1..n that reads and writes its
 * request to the end. */
static int sum_to(void *arg, void **result) {
  request *req = arg;
  struct timespec ms = {0, 1000000};
  req->sum = 0;
  for (unsigned k = 1; k <= req->n; k++) {
    req->sum += k;
    nanosleep(&ms, NULL);
  }
  *result = NULL;
  return 0;
}

static void free_request(cf_future *f, void *userdata) {
  (void)f;
  free(userdata);
  /* relaxed: main reads the count after cf_executor_free joined the
   * workers. */
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
}

/* Runs on the loop thread: once the task is done (status 0), or when the
 * bridge closes first (CF_ESHUTDOWN: the task may still be running). */
static void on_done(cf_future *f, int status, void *userdata) {
  request *req = userdata;
  if (status == 0 && cf_future_result(f, 0, NULL) == 0) {
    printf("sum to %u = %u\n", req->n, req->sum);
    answered++;
  } else {
    shut_down++;
    cf_future_request_cancel(f); /* a queued task will not run */
  }
  /* The request goes when the task is over: now if it is. */
  if (cf_future_on_done(f, free_request, req) != 0) {
    cf_future_wait(f, -1); /* out of memory: wait for the task instead */
    free_request(f, req);
  }
}

int main(void) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 2;
  cf_executor *pool;
  if (cf_thread_pool_new(&o, &pool) != 0)
    return 1;
  cf_bridge *b;
  if (cf_bridge_new(&b) != 0) {
    cf_executor_free(pool);
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cf_bridge_fd(b), &ev) != 0) {
    if (ep >= 0)
      close(ep);
    cf_bridge_free(b);
    cf_executor_free(pool);
    return 1;
  }

  int submitted = 0, failed = 0;
  for (unsigned i = 0; i < REQUESTS; i++) {
    request *req = malloc(sizeof *req);
    if (req == NULL) {
      failed = 1;
      break;
    }
    req->n = 5 + 10 * (i % 3);
    /* On error on_done never runs: the request is still ours. */
    int rc = cf_bridge_submit(b, pool, sum_to, req, on_done, req, NULL);
    if (rc != 0) {
      fprintf(stderr, "submit: %s\n", cf_strerror(rc));
      free(req);
      failed = 1;
      break;
    }
    submitted++;
  }

  /* Serve the first two answers, then close with the rest in flight. */
  while (answered < 2 && answered + shut_down < submitted) {
    struct epoll_event out;
    if (epoll_wait(ep, &out, 1, 1000) < 0)
      break;
    cf_bridge_dispatch(b, 0, NULL);
  }
  cf_bridge_close(b); /* every callback not yet run runs now */
  printf("%d answered, %d left when the bridge closed\n", answered, shut_down);
  close(ep);
  cf_bridge_free(b);

  /* Running tasks finish (and free their requests); queued ones were
   * cancelled by on_done. */
  cf_executor_free(pool);
  int n = atomic_load_explicit(&freed, memory_order_relaxed);
  printf("%d of %d requests freed, each once\n", n, submitted);
  return failed || n != submitted || answered + shut_down != submitted;
}
