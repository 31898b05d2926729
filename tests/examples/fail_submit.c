/* SPDX-License-Identifier: MIT */
/*
 * Preloaded into an example (LD_PRELOAD) to walk its error path: the k-th
 * call of cf_submit or cf_submit_bytes (CF_FAIL_SUBMIT_AT=k, counted
 * together) fails with CF_ENOMEM without touching its out-parameter, as a
 * real failed submit does. Every other call goes to the library. Run under
 * valgrind, an example that then reads or releases the future it never got,
 * or leaks on its way out, is caught.
 */
#include <cfutures.h>
#include <cfutures/process_pool.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int submit_fn(cf_executor *, cf_fn, void *, cf_future **);
typedef int submit_bytes_fn(cf_executor *, cf_bytes_fn, const void *, size_t,
                            cf_future **);

static atomic_long calls;

/* True for the call that must fail; says so once on stderr, so a test can
 * tell that the failure was injected at all. */
static int injected_here(const char *what) {
  const char *at = getenv("CF_FAIL_SUBMIT_AT");
  long k = at ? strtol(at, NULL, 10) : 0;
  if (atomic_fetch_add(&calls, 1) + 1 != k)
    return 0;
  char line[96];
  int len =
      snprintf(line, sizeof line, "fail_submit: %s call %ld fails\n", what, k);
  if (len > 0 && write(2, line, (size_t)len) < 0)
    return 1; /* nothing more to do about a closed stderr */
  return 1;
}

int cf_submit(cf_executor *ex, cf_fn fn, void *arg, cf_future **out) {
  if (injected_here("cf_submit"))
    return CF_ENOMEM;
  submit_fn *next = (submit_fn *)dlsym(RTLD_NEXT, "cf_submit");
  return next(ex, fn, arg, out);
}

int cf_submit_bytes(cf_executor *ex, cf_bytes_fn fn, const void *data,
                    size_t len, cf_future **out) {
  if (injected_here("cf_submit_bytes"))
    return CF_ENOMEM;
  submit_bytes_fn *next =
      (submit_bytes_fn *)dlsym(RTLD_NEXT, "cf_submit_bytes");
  return next(ex, fn, data, len, out);
}
