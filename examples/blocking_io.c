/* SPDX-License-Identifier: MIT */
/*
 * Blocking I/O on a thread pool: read several files at once.
 *
 * Python:
 *     with ThreadPoolExecutor(8) as pool:
 *         fs = [pool.submit(read_size, p) for p in paths]
 *         for p, f in zip(paths, fs): print(p, f.result())
 *
 * Threads suit blocking calls (files, DNS, database clients): while one
 * waits in the kernel the others go on, so more workers than CPUs pays off.
 */
#define _GNU_SOURCE /* O_CLOEXEC, the GNU strerror_r */
#include <cfutures.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 16

/* A failed system call becomes CF_ETASK with the system's message. */
static int fail(void) {
  char buf[128];
  cf_task_set_message(strerror_r(errno, buf, sizeof buf));
  return CF_ETASK;
}

/* Counts a file's bytes with plain blocking reads. */
static int file_size(void *arg, void **result) {
  int fd = open(arg, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail();
  char buf[4096];
  intptr_t total = 0;
  ssize_t got;
  while ((got = read(fd, buf, sizeof buf)) != 0) {
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int err = fail();
      close(fd);
      return err;
    }
    total += got;
  }
  close(fd);
  *result = (void *)total;
  return 0;
}

int main(int argc, char **argv) {
  static const char *defaults[] = {"/proc/self/status", "/etc/hostname",
                                   "/etc/os-release", "/no/such/file"};
  const char **paths = defaults;
  size_t n = sizeof defaults / sizeof defaults[0];
  if (argc > 1) { /* or the files named on the command line */
    paths = (const char **)(argv + 1);
    n = (size_t)argc - 1 < MAX_FILES ? (size_t)argc - 1 : MAX_FILES;
  }

  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 8;
  cf_executor *pool = NULL;
  cf_future *fs[MAX_FILES];
  size_t submitted = 0;
  int err = cf_thread_pool_new(&opts, &pool);
  /* A failed submit leaves fs[submitted] unset: stop before counting it. */
  for (; err == 0 && submitted < n; submitted++)
    if ((err = cf_submit(pool, file_size, (void *)paths[submitted],
                         &fs[submitted])) != 0)
      break;
  if (err != 0) {
    fprintf(stderr, "set-up: %s\n", cf_strerror(err));
    for (size_t i = 0; i < submitted; i++)
      cf_future_release(fs[i]);
    cf_executor_free(pool);
    return 1;
  }

  /* All reads run at once; collect them in order. */
  for (size_t i = 0; i < n; i++) {
    void *size = NULL;
    err = cf_future_result(fs[i], 10.0, &size);
    if (err == 0)
      printf("%-20s %8ld bytes\n", paths[i], (long)(intptr_t)size);
    else
      printf("%-20s %s: %s\n", paths[i], cf_err_name(err),
             cf_future_error_message(fs[i]) ? cf_future_error_message(fs[i])
                                            : cf_strerror(err));
    cf_future_release(fs[i]);
  }
  cf_executor_free(pool);
  return 0;
}
