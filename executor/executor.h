/* SPDX-License-Identifier: MIT */
/* The cfutures program's private interfaces: the two subcommands, process
 * spawning shared by both, and small string functions. Nothing here is part
 * of the library; the program uses only the public API of cfutures.h. */
#ifndef EXECUTOR_EXECUTOR_H
#define EXECUTOR_EXECUTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The program's name, as installed and as it names itself in messages. */
#define EX_PROG "cfutures"

/* Exit status for a malformed command line: GNU parallel's 255, which no
 * count of failed jobs (1..101) can be mistaken for. */
#define EX_STATUS_USAGE 255

/* The subcommands: argv[0] is the subcommand's name. */
int ex_run_main(int argc, char **argv);
int ex_bench_main(int argc, char **argv);

/* The candidate (a NULL-terminated list) nearest to word within a small
 * edit distance, for "did you mean"; NULL when none is close. */
const char *ex_suggest(const char *word, const char *const *candidates);

/* A growable byte buffer, always NUL-terminated once non-empty. */
typedef struct ex_buf {
  char *data;
  size_t len;
  size_t cap;
} ex_buf;

int ex_buf_append(ex_buf *b, const void *p, size_t n);
int ex_buf_puts(ex_buf *b, const char *s);
int ex_buf_printf(ex_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s quoted for a POSIX shell: bare when only safe characters,
 * '...' otherwise, $'...' when it holds control characters (so one word
 * always stays on one line). */
int ex_buf_quote(ex_buf *b, const char *s);
void ex_buf_free(ex_buf *b);

/* What replacement strings stand for in one job. */
typedef struct ex_subst {
  const char *const *args; /* one argument per input source */
  size_t nargs;
  size_t seq; /* {#} */
  int slot;   /* {%} */
  int quote;  /* quote each value for /bin/sh (--shell) */
} ex_subst;

/* Appends word to b with its replacement strings substituted; sets *used
 * when it held one (leaves it alone otherwise). Text that only looks like
 * one ("{x}", "{9}" with fewer sources) is copied as it is. 0 or -ENOMEM. */
int ex_subst_word(const char *word, const ex_subst *c, ex_buf *b, int *used);

/* Splits data[0..len) (NUL-terminated at len) into records ending with
 * sep, the last of which may lack it; the records point into data, whose
 * separators become NULs. *items is malloc'ed. 0 or -ENOMEM. */
int ex_split_records(char *data, size_t len, char sep, const char ***items,
                     size_t *n);

/* Strict number parsing: the whole string, in range. 0 or -1. */
int ex_parse_long(const char *s, long min, long max, long *out);
int ex_parse_seconds(const char *s, double *out);

/* Seconds on CLOCK_MONOTONIC / CLOCK_REALTIME. */
double ex_mono(void);
double ex_wall(void);

/* Starts n workers of a thread pool now (each blocked until all are up),
 * so the first jobs never wait for a worker to start, nor queue behind a
 * long job on the only worker started so far. 0 or a cf_submit error. */
struct cf_executor;
int ex_pool_prestart(struct cf_executor *ex, int n);

/* Writes all of p to fd, retrying on EINTR and short writes. */
int ex_write_all(int fd, const void *p, size_t n);

/* ---- Spawning one command and waiting for it ---------------------------- */

/* Called by ex_spawn_wait: on_spawn right after the child exists (the
 * caller records its process group so that signals can reach it), on_exit
 * once it has exited but before it is reaped (so its pid, and with it the
 * process group id, cannot be reused while the caller still holds it). */
typedef struct ex_spawn_hooks {
  void (*on_spawn)(void *ud, pid_t pid);
  void (*on_exit)(void *ud, pid_t pid);
  void *ud;
} ex_spawn_hooks;

typedef struct ex_proc {
  int exitval;   /* exit status; -1 on timeout; 127/126 when exec failed */
  int signo;     /* the signal that ended it, or 0 */
  int timed_out; /* the timeout passed and the group was killed */
  ex_buf out;    /* captured stdout (when capture was asked) */
  ex_buf err;    /* captured stderr, or the reason exec failed */
} ex_proc;

/* Once, before any thread exists: the signal mask children start with and
 * descriptors shared by every spawn. 0 or -errno. */
int ex_spawn_init(const sigset_t *child_mask);

/* Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null, in a
 * process group of its own, and waits for it. capture: stdout and stderr
 * are collected into p->out / p->err; otherwise both go to /dev/null.
 * timeout < 0: none; otherwise the group gets SIGTERM, then SIGKILL 200 ms
 * later, and once the child has exited every process left in its group is
 * killed too. Returns 0 with *p filled (a command that cannot be executed
 * is a job failing with 127 or 126, not an error), or -errno when capture
 * could not be set up. Blocks; any thread. */
int ex_spawn_wait(char *const argv[], int capture, double timeout,
                  const ex_spawn_hooks *hooks, ex_proc *p);
void ex_proc_free(ex_proc *p);

#endif
