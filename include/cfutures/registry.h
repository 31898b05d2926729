/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/registry.h
 * @brief Tasks known by name (see @ref registry).
 */
/**
 * @defgroup registry Registry
 * @brief Tasks and initializers known by name, for workers that are not
 * forks of the caller (spawned workers, MPI ranks).
 *
 * A function pointer means something only inside the process image that
 * took it: a worker that is a fresh exec of the program (the process pool's
 * CF_START_SPAWN and CF_START_FORKSERVER start methods) or another rank of
 * an MPI job (cfutures/mpi.h) loads the program at another address. Tasks
 * that cross such a boundary are therefore registered under a name, in
 * every process, before they are used; the name is what travels.
 *
 * Register with CF_TASK at file scope (it runs before main, in every
 * process that runs the program, which is what a spawned worker or an MPI
 * rank needs) or with cf_task_register before the pool is created. A
 * registration lasts as long as the process; there is no unregistering.
 * Names are 1 to CF_TASK_NAME_MAX bytes of letters, digits and "_.:/-";
 * names starting "cf." belong to the library.
 *
 * Lookups take no lock and may run on any thread, at any time, also in a
 * forked child whose parent was registering; registrations serialise on a
 * mutex.
 * @{
 */
#ifndef CFUTURES_REGISTRY_H
#define CFUTURES_REGISTRY_H

#include "cfutures/process_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest task name, in bytes (without the terminating NUL). */
#define CF_TASK_NAME_MAX 127

/**
 * Registers fn under name (copied). Registering the same function under
 * the same name again is a no-op; one function may have several names.
 *
 * @param name The name (copied): 1 to CF_TASK_NAME_MAX bytes of letters,
 *             digits and "_.:/-", not starting "cf.".
 * @param fn The task.
 * @return 0, CF_EINVAL (NULL, an invalid or reserved name), CF_EEXIST (name
 *         already names another function or an initializer: the name
 *         becomes ambiguous and cf_task_lookup fails for it, so the clash
 *         cannot go unnoticed), CF_ENOMEM.
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN int cf_task_register(const char *name, cf_bytes_fn fn);

/**
 * Registers a process pool or MPI pool initializer under name, as
 * cf_task_register does for tasks (tasks and initializers share one name
 * space).
 *
 * @param name The name (copied), as for cf_task_register.
 * @param fn The initializer.
 * @return As cf_task_register: 0, CF_EINVAL, CF_EEXIST, CF_ENOMEM.
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN int cf_initializer_register(const char *name, cf_bytes_init_fn fn);

/**
 * Finds the task registered under name.
 *
 * @param name The name.
 * @param[out] fn Receives the task.
 * @return 0 and *fn, CF_EINVAL (NULL argument), CF_ENOENT (no task by that
 *         name; an initializer's name is not a task's), CF_EEXIST (two
 *         functions were registered under it).
 * @threads Never blocks (no lock); any thread, also in a forked child.
 */
CF_EXTERN int cf_task_lookup(const char *name, cf_bytes_fn *fn);

/**
 * As cf_task_lookup, for initializers.
 *
 * @param name The name.
 * @param[out] fn Receives the initializer.
 * @return 0 and *fn, CF_EINVAL, CF_ENOENT (no initializer by that name),
 *         CF_EEXIST.
 * @threads Never blocks (no lock); any thread, also in a forked child.
 */
CF_EXTERN int cf_initializer_lookup(const char *name, cf_bytes_init_fn *fn);

/**
 * The name fn was first registered under.
 *
 * @param fn The task.
 * @return The name (static storage, valid for the life of the process), or
 *         NULL if it was never registered (or fn is NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN const char *cf_task_name(cf_bytes_fn fn);

/**
 * As cf_task_name, for initializers.
 *
 * @param fn The initializer.
 * @return The name it was first registered under, or NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN const char *cf_initializer_name(cf_bytes_init_fn fn);

/**
 * Submits the task registered under name, as cf_submit_bytes does with its
 * function: works on every executor that takes byte tasks (process pools
 * of any start method, MPI pools).
 *
 * @param ex The executor.
 * @param name The task's registered name.
 * @param data The input bytes, copied (NULL allowed when len is 0).
 * @param len How many.
 * @param[out] out If not NULL, receives one reference to the future.
 * @return What cf_submit_bytes returns, and CF_ENOENT or CF_EEXIST as
 *         cf_task_lookup does (CF_EINVAL for a NULL name).
 * @threads Never blocks on the workers; any thread.
 */
CF_EXTERN int cf_submit_named(cf_executor *ex, const char *name,
                              const void *data, size_t len, cf_future **out);

/**
 * CF_TASK(name, fn): registers the cf_bytes_fn fn (an identifier) under the
 * string name before main runs, for example
 * CF_TASK("resize", resize_image); at file scope. A clash is reported when
 * the name is looked up (CF_EEXIST).
 *
 * @param name The name, a string.
 * @param fn The task: the identifier of a cf_bytes_fn.
 */
#define CF_TASK(name, fn)                                                      \
  __attribute__((constructor)) static void cf__task_reg_##fn(void) {           \
    (void)cf_task_register((name), (fn));                                      \
  }

/**
 * CF_INITIALIZER(name, fn): the same for a cf_bytes_init_fn.
 *
 * @param name The name, a string.
 * @param fn The initializer: the identifier of a cf_bytes_init_fn.
 */
#define CF_INITIALIZER(name, fn)                                               \
  __attribute__((constructor)) static void cf__init_reg_##fn(void) {           \
    (void)cf_initializer_register((name), (fn));                               \
  }

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_REGISTRY_H */
