/* SPDX-License-Identifier: MIT */
/* gather: asyncio.gather for futures, on top of cf__wait_many. */
#include "internal.h"

static int outcome(const cf_future *f) {
  return cf__state(f) == CF_CANCELLED ? CF_ECANCELED : f->err;
}

int cf_gather(cf_future *const *fs, size_t n, double timeout, unsigned flags,
              void **results, int *errors) {
  uint64_t deadline;
  if ((fs == NULL && n > 0) || cf__deadline(timeout, &deadline) != 0 ||
      (flags & ~(unsigned)CF_GATHER_RETURN_ERRORS) ||
      ((flags & CF_GATHER_RETURN_ERRORS) && errors == NULL && n > 0))
    return CF_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (fs[i] == NULL)
      return CF_EINVAL;
  bool return_errors = flags & CF_GATHER_RETURN_ERRORS;
  int rc = n == 0 ? 0
                  : cf__wait_many(fs, n, deadline,
                                  return_errors ? CF_ALL_COMPLETED
                                                : CF_FIRST_EXCEPTION,
                                  true);
  if (rc != 0)
    return rc;
  int first = 0;
  for (size_t i = 0; i < n; i++) {
    int err = cf__done(fs[i]) ? outcome(fs[i]) : 0;
    if (results != NULL)
      results[i] = cf__done(fs[i]) && err == 0 ? fs[i]->value : NULL;
    if (errors != NULL)
      errors[i] = cf__done(fs[i]) ? err : CF_ETIMEDOUT;
    if (first == 0 && err != 0)
      first = err;
  }
  return return_errors ? 0 : first;
}
