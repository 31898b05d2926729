/* SPDX-License-Identifier: MIT */
/*
 * Private interfaces shared by the library's files. Nothing here is API.
 *
 * A future's life, and who may move it:
 *
 *   PENDING --(cf__future_try_start, a CAS; any thread)--> RUNNING
 *   PENDING --(cf__future_complete with CF_CANCELLED)--> CANCELLED
 *   RUNNING or PENDING --(cf__future_complete)--> FINISHED
 *
 * A transition into a done state first claims the future (a CAS), so a
 * second completion sees the first and fails with CF_ESTATE, and a start
 * cannot slip in while a cancel writes the outcome; waiters sleep on the
 * state word itself (a futex, future.c) and cannot miss the wake-up. PENDING ->
 * RUNNING is a lone CAS so that a worker starting a task takes no lock.
 */
#ifndef CF_INTERNAL_H
#define CF_INTERNAL_H

#include "cfutures.h"
#include "cfutures/process_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CF__STATE_MASK 0x3u
/* Somebody sleeps on this future's state word (futex). */
#define CF__F_WAITERS 0x4u
/* The running task was asked to stop (cf_future_request_cancel). */
#define CF__F_CANCEL_REQ 0x8u
/* The callback list is not empty (set under the stripe lock). */
#define CF__F_CALLBACKS 0x10u
/* A completer is writing the outcome (see complete_at in future.c). */
#define CF__F_CLAIM 0x20u

struct cf__callback {
  struct cf__callback *next;
  cf_done_fn fn;
  void *userdata;
  bool heap; /* allocated by cf_future_on_done, freed after it ran */
};

/* The executor kinds. Each implements what it supports; NULL = CF_ENOSYS. */
struct cf__executor_vtable {
  const char *kind;
  /* Runs cf_fn tasks (cf_submit, cf_future_then); false for kinds that
   * take other tasks (process pools take bytes). */
  bool takes_fn;
  /* Queue f (refs already taken for the executor). 0 or a CF_E* code; on
   * error the executor holds no reference. */
  int (*submit)(cf_executor *ex, cf_future *f);
  int (*shutdown)(cf_executor *ex, unsigned flags);
  /* Called once, after a waited shutdown; frees everything. */
  void (*destroy)(cf_executor *ex);
  int (*stats)(cf_executor *ex, cf_executor_stats *out);
  int (*resize)(cf_executor *ex, int max_workers);
  /* Try to cancel pending f: true if it was cancelled by this call (the
   * future is then complete, callbacks run). */
  bool (*cancel)(cf_executor *ex, cf_future *f);
  /* The running task was asked to stop (process pools may kill it). */
  void (*request_cancel)(cf_executor *ex, cf_future *f);
  /* If f is still queued on ex, take it out and run it on this thread.
   * Returns true if it ran. */
  bool (*run_inline)(cf_executor *ex, cf_future *f);
  /* True if the calling thread is one of the executor's workers. */
  bool (*is_worker_thread)(cf_executor *ex);
  /* True if one more thread polling would not take a CPU from a busy
   * worker (NULL = never poll). */
  bool (*cpu_to_spare)(cf_executor *ex);
  /* Byte tasks (cf_submit_bytes): queue fn(data[0..len)); timeout NULL =
   * the executor's default. NULL for kinds that take cf_fn tasks. */
  int (*submit_bytes)(cf_executor *ex, cf_bytes_fn fn, const void *data,
                      size_t len, const double *timeout, cf_future **out);
  /* Byte futures: waits for f until deadline, helping if it can (optional;
   * cf_future_bytes then waits as usual). */
  void (*wait_bytes)(cf_executor *ex, cf_future *f, uint64_t deadline);
  /* cf_map_bytes' default window: chunks in flight for this chunksize. */
  size_t (*map_window)(cf_executor *ex, size_t chunksize);
  /* Tasks cross a process image: they travel by registered name, so map
   * chunks must name their function rather than give its address. */
  bool (*by_name)(cf_executor *ex);
  /* Brings a PENDING f up to date with what the executor knows, moving it
   * to RUNNING if it began (a process pool's worker begins tasks without
   * telling anyone at once). Optional. */
  void (*observe)(cf_executor *ex, cf_future *f);
};

struct cf_executor {
  const struct cf__executor_vtable *vt;
  /* Microseconds a thread waiting on one of this executor's futures polls
   * it before sleeping (0 = never); fixed at creation. */
  unsigned spin_us;
  /* Raised by shutdown with CF_SHUTDOWN_CANCEL_FUTURES: every task running
   * on this executor sees cf_task_cancel_requested(). */
  atomic_bool stop_running;
};

struct cf_future {
  _Atomic uint32_t state; /* cf_state | CF__F_* flags */
  atomic_uint refs;
  cf_executor *ex; /* owner, NULL for cf_future_new futures */
  /* Executor queue link: owned by the executor, under its lock. A timer
   * future (timer.c) keeps its deadline here while it is in the heap. */
  union {
    struct cf_future *qnext;
    uint64_t due_ns;
  };
  cf_fn fn;
  /* fn's argument; a timer future (no fn) keeps its heap index here. */
  union {
    void *arg;
    size_t slot;
  };
  /* Outcome: written once, by the completer holding the claim, before the
   * state says done; readers that saw a done state (acquire) may read them
   * unlocked. */
  void *value;
  int err;
  uint8_t in_queue; /* executor-owned */
  char *msg;
  /* Frees value when the future is freed (process-pool byte results). */
  void (*value_free)(void *value);
  struct cf__callback *callbacks; /* under the stripe lock */
  uint64_t queued_ns, started_ns, finished_ns;
};

/* future_cache.c: memory for futures (malloc/free, faster across threads) */
cf_future *cf__future_mem_alloc(void);
void cf__future_mem_free(cf_future *f);

/* future.c */
cf_future *cf__future_alloc(cf_executor *ex, cf_fn fn, void *arg);
bool cf__future_try_start(cf_future *f);
/* The same, with the start time given (0 = read the clock). */
bool cf__future_try_start_at(cf_future *f, uint64_t now);
/* Runs a started (RUNNING) future's fn on this thread and completes it;
 * returns the time it finished. Only the thread that started f may call
 * it. */
uint64_t cf__future_run_started(cf_future *f);
/* Completes f: CF_FINISHED with err/value/msg (msg is taken over, may be
 * NULL), or CF_CANCELLED. Returns 0, or CF_ESTATE if already done (msg is
 * then freed). Runs callbacks on this thread. */
int cf__future_complete(cf_future *f, int state, int err, void *value,
                        char *msg);
/* Cancel only if still PENDING (CAS), completing it. For executors. */
bool cf__future_cancel_pending(cf_future *f);
/* Adds an internal callback node; returns false (and does not add) if f is
 * already done. The node is owned by the caller. */
bool cf__future_add_node(cf_future *f, struct cf__callback *node);
/* Removes a node added by cf__future_add_node; false if it already fired
 * (or is firing) */
bool cf__future_remove_node(cf_future *f, struct cf__callback *node);
/* Waits for f with an absolute deadline (ns; UINT64_MAX = forever). */
int cf__future_wait_until(cf_future *f, uint64_t deadline);
static inline uint32_t cf__state(const cf_future *f) {
  return atomic_load_explicit((_Atomic uint32_t *)&f->state,
                              memory_order_acquire) &
         CF__STATE_MASK;
}
static inline bool cf__done(const cf_future *f) {
  return cf__state(f) >= CF_FINISHED;
}

/* Thread-local: the future running on this thread, the executor whose
 * worker this thread is. */
extern _Thread_local cf_future *cf__tls_current;
extern _Thread_local cf_executor *cf__tls_executor;
/* Done callbacks running on this thread (run_callbacks in future.c). */
extern _Thread_local unsigned cf__tls_in_callback;

/* clock.c */
/* Converts a timeout in seconds into an absolute deadline in ns
 * (UINT64_MAX = forever). CF_EINVAL for NaN. */
int cf__deadline(double timeout, uint64_t *deadline);
/* Converts an absolute deadline into a timespec for pthread_cond_timedwait
 * on a CLOCK_MONOTONIC condition variable. */
void cf__deadline_timespec(uint64_t deadline, struct timespec *ts);
/* Initialises a condition variable on CLOCK_MONOTONIC. */
int cf__cond_init(pthread_cond_t *cv);
/* pthread_cond_(timed)wait up to deadline; returns 0 or CF_ETIMEDOUT. */
int cf__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                        uint64_t deadline);

/* timer.c */
/* A timer future due at deadline (ns, CLOCK_MONOTONIC; UINT64_MAX =
 * never): *out gets one reference. It completes with success on the timer
 * thread; cancelling it takes it out of the heap. 0, CF_ENOMEM, CF_EAGAIN
 * (the timer thread could not be started). */
int cf__timer_at(uint64_t deadline, cf_future **out);

/* executor.c */
int cf__executor_submit_future(cf_executor *ex, cf_future *f);
/* Owner of continuations run inline: no queue, no submit. */
extern cf_executor cf__inline_executor;

/* wait.c */
/* Waits until the condition holds or the deadline passes. mode is a
 * cf_return_when; cancelled_fails makes a cancelled future count as a
 * failure (gather). Returns 0 or CF_ETIMEDOUT, CF_ENOMEM. */
int cf__wait_many(cf_future *const *fs, size_t n, uint64_t deadline, int mode,
                  bool cancelled_fails);
/* Writes the distinct futures of fs (first occurrences, in order) to out
 * (room for n) and returns how many; -1 on ENOMEM. */
ptrdiff_t cf__distinct(cf_future *const *fs, size_t n, cf_future **out);

/* The value of a successful byte future: a view, then the bytes; one
 * malloc, freed with free() (the future's value_free). */
struct cf__bytes_result {
  cf_buffer view;
  unsigned char bytes[];
};
/* bytes_task.c: byte tasks where they run (a worker, an MPI rank). */
/* A result holding a copy of data[0..len); NULL on ENOMEM. */
struct cf__bytes_result *cf__bytes_result_new(const void *data, size_t len);
/* The one future a worker recycles to run its tasks (NULL on ENOMEM). */
cf_future *cf__bytes_task_future(void);
/* Runs fn(in[0..len), out) on this thread through df; returns its code
 * (a positive one made CF_ETASK) and its message in *msg (malloc'd or
 * NULL). in may be NULL for 0 bytes. */
int cf__bytes_task_run(cf_future *df, cf_bytes_fn fn, const void *in,
                       size_t len, cf_buffer *out, char **msg);
/* Finds the task named name: 0, or CF_ENOENT / CF_EEXIST with *fn a
 * stand-in that fails the task with that code and says why. */
int cf__bytes_task_find(const char *name, cf_bytes_fn *fn);

/* registry.c: the name fn travels under to a process that is not a fork
 * of this one: 0 and *name (static storage), CF_ENOENT (not registered),
 * CF_EEXIST (its name also names another function). */
int cf__task_wire_name(cf_bytes_fn fn, const char **name);

/* map_bytes.c: the library's chunk task, known by name as "cf.map_chunk". */
int cf__map_chunk_run(const void *in, size_t len, cf_buffer *out);

/*
 * The private interface of the library's optional parts that are built as
 * libraries of their own (the MPI pool, cfutures/mpi.h): they implement an
 * executor kind, which takes the internals above, but the shared library
 * exports only cf_ names. They get this table through one exported call,
 * checked by its ABI number (the parts are built from the same tree).
 */
#define CF__PRIVATE_ABI 1u
struct cf__private {
  unsigned abi;
  cf_future *(*future_alloc)(cf_executor *ex, cf_fn fn, void *arg);
  bool (*future_try_start)(cf_future *f);
  int (*future_complete)(cf_future *f, int state, int err, void *value,
                         char *msg);
  bool (*future_cancel_pending)(cf_future *f);
  uint64_t (*future_run_started)(cf_future *f);
  struct cf__bytes_result *(*bytes_result_new)(const void *data, size_t len);
  cf_future *(*bytes_task_future)(void);
  int (*bytes_task_run)(cf_future *df, cf_bytes_fn fn, const void *in,
                        size_t len, cf_buffer *out, char **msg);
  int (*bytes_task_find)(const char *name, cf_bytes_fn *fn);
  int (*task_wire_name)(cf_bytes_fn fn, const char **name);
  int (*cond_init)(pthread_cond_t *cv);
  int (*cond_wait_until)(pthread_cond_t *cv, pthread_mutex_t *mu,
                         uint64_t deadline);
};
/* The table, or NULL if abi is not this library's (executor.c). */
CF_EXTERN const struct cf__private *cf_private_api(unsigned abi);

/* error.c */
char *cf__strdup(const char *s);

#endif /* CF_INTERNAL_H */
