/* SPDX-License-Identifier: MIT */
/* The generic executor calls: argument checks, then the kind's vtable. */
#include "internal.h"

static const struct cf__executor_vtable inline_vtable = {.kind = "inline"};
cf_executor cf__inline_executor = {.vt = &inline_vtable};

int cf__executor_submit_future(cf_executor *ex, cf_future *f) {
  if (!ex->vt->takes_fn || ex->vt->submit == NULL)
    return CF_EINVAL;
  return ex->vt->submit(ex, f);
}

int cf_submit(cf_executor *ex, cf_fn fn, void *arg, cf_future **out) {
  if (ex == NULL || fn == NULL || !ex->vt->takes_fn || ex->vt->submit == NULL)
    return CF_EINVAL;
  cf_future *f = cf__future_alloc(ex, fn, arg);
  if (f == NULL)
    return CF_ENOMEM;
  if (out != NULL)
    cf_future_retain(f); /* one for the caller, one for the queue */
  int rc = ex->vt->submit(ex, f);
  if (rc != 0) {
    if (out != NULL)
      cf_future_release(f);
    cf_future_release(f);
    return rc;
  }
  if (out != NULL)
    *out = f;
  return 0;
}

int cf_shutdown(cf_executor *ex, unsigned flags) {
  if (ex == NULL || ex->vt->shutdown == NULL ||
      (flags & ~(unsigned)(CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES)))
    return CF_EINVAL;
  return ex->vt->shutdown(ex, flags);
}

int cf_executor_free(cf_executor *ex) {
  if (ex == NULL || ex->vt->destroy == NULL)
    return CF_EINVAL;
  if (ex->vt->is_worker_thread != NULL && ex->vt->is_worker_thread(ex))
    return CF_EDEADLK;
  int rc = ex->vt->shutdown(ex, CF_SHUTDOWN_WAIT);
  if (rc != 0)
    return rc;
  ex->vt->destroy(ex);
  return 0;
}

int cf_executor_stats_get(cf_executor *ex, cf_executor_stats *out) {
  if (ex == NULL || out == NULL)
    return CF_EINVAL;
  if (ex->vt->stats == NULL)
    return CF_ENOSYS;
  return ex->vt->stats(ex, out);
}

int cf_executor_resize(cf_executor *ex, int max_workers) {
  if (ex == NULL || max_workers < 1)
    return CF_EINVAL;
  if (ex->vt->resize == NULL)
    return CF_ENOSYS;
  return ex->vt->resize(ex, max_workers);
}

/* timeout NULL: the executor's default. */
static int submit_bytes(cf_executor *ex, cf_bytes_fn fn, const void *data,
                        size_t len, const double *timeout, cf_future **out) {
  if (ex == NULL || ex->vt->submit_bytes == NULL || fn == NULL ||
      (data == NULL && len > 0) ||
      (timeout != NULL && (*timeout != *timeout || *timeout == 0)))
    return CF_EINVAL;
  return ex->vt->submit_bytes(ex, fn, data, len, timeout, out);
}

int cf_submit_bytes(cf_executor *ex, cf_bytes_fn fn, const void *data,
                    size_t len, cf_future **out) {
  return submit_bytes(ex, fn, data, len, NULL, out);
}

int cf_submit_bytes_timeout(cf_executor *ex, cf_bytes_fn fn, const void *data,
                            size_t len, double timeout, cf_future **out) {
  return submit_bytes(ex, fn, data, len, &timeout, out);
}

int cf_future_bytes(cf_future *f, double timeout, const void **data,
                    size_t *len) {
  if (f == NULL || f->ex == NULL || f->ex->vt->submit_bytes == NULL)
    return CF_EINVAL;
  uint64_t deadline;
  if (cf__deadline(timeout, &deadline) != 0)
    return CF_EINVAL;
  if (!cf__done(f) && timeout != 0 && f->ex->vt->wait_bytes != NULL)
    f->ex->vt->wait_bytes(f->ex, f, deadline);
  if (!cf__done(f)) {
    uint64_t now = cf_now_ns();
    timeout = deadline == UINT64_MAX ? -1
              : deadline > now       ? (double)(deadline - now) / 1e9
                                     : 0;
  }
  void *v = NULL;
  int rc = cf_future_result(f, timeout, &v);
  if (rc != 0)
    return rc;
  const struct cf__bytes_result *res = v;
  if (data != NULL)
    *data = res->bytes;
  if (len != NULL)
    *len = res->view.len;
  return 0;
}

static const struct cf__private private_api = {
    .abi = CF__PRIVATE_ABI,
    .future_alloc = cf__future_alloc,
    .future_try_start = cf__future_try_start,
    .future_complete = cf__future_complete,
    .future_cancel_pending = cf__future_cancel_pending,
    .future_run_started = cf__future_run_started,
    .bytes_result_new = cf__bytes_result_new,
    .bytes_task_future = cf__bytes_task_future,
    .bytes_task_run = cf__bytes_task_run,
    .bytes_task_find = cf__bytes_task_find,
    .task_wire_name = cf__task_wire_name,
    .cond_init = cf__cond_init,
    .cond_wait_until = cf__cond_wait_until,
};

const struct cf__private *cf_private_api(unsigned abi) {
  return abi == CF__PRIVATE_ABI ? &private_api : NULL;
}
