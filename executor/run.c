/* SPDX-License-Identifier: MIT */
/*
 * DESIGN: `cfutures run`, parallel batch jobs.
 *
 * All input is read first (lines, NUL-separated records or ::: lists,
 * several sources giving their product), so that the total is known for
 * --progress, percentages in --halt and --resume. Each job then becomes one
 * task on a cfutures thread pool of -j workers; the task substitutes the
 * replacement strings, spawns the command (spawn.c: posix_spawnp, own
 * process group, output captured in memfds), retries it and returns. The
 * main thread submits through a queue bounded to -j entries, so it stops
 * feeding the pool as soon as a halt or a signal says so.
 *
 * Completion runs in the future's done callback, on the worker that ran
 * the job: counting, the joblog line, the halt rule, and the job's output,
 * printed whole (or parked until every earlier job has printed, with
 * --keep-order). The main thread waits until every submitted job has been
 * through its callback.
 *
 * Signals: the program blocks SIGINT, SIGTERM and SIGHUP in every thread
 * and one thread takes them with sigwait: the first is forwarded to the
 * process group of every running job and stops new ones; a second one
 * sends SIGKILL. Children start with the original mask and default
 * dispositions.
 *
 * LOCKING: g.mu guards the counters, the joblog, the output and the
 * keep-order cursor (everything the done callbacks touch). g.run_mu guards
 * the table of running process groups (slots). Lock order: g.mu, then
 * g.run_mu (a "now" halt kills the running jobs from a done callback).
 * Workers spawn and wait with no lock held; g.stop and g.kill_sig are
 * atomics read without a lock, and re-read under g.run_mu when a child is
 * registered, so a job spawned just after a signal is killed at once.
 */
#include "executor.h"

#include <cfutures.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { HALT_NEVER = 0, HALT_SOON = 1, HALT_NOW = 2 };

typedef struct job {
  size_t seq;        /* 1-based position in the input */
  const char **args; /* one argument per input source */
  int skipped;       /* never started: a halt or a signal came first */
  int finished;      /* through its done callback (under g.mu) */
  int printed;
  double start_wall;
  double runtime;
  ex_proc proc;
  char *cmdline; /* as logged in the joblog */
} job;

typedef struct source {
  const char **items;
  size_t n;
  char *storage; /* the file's bytes, when read from one */
} source;

static struct {
  /* Options. */
  long nworkers;
  double timeout;
  long retries;
  int keep_order;
  const char *joblog;
  int halt_when;    /* HALT_* */
  int halt_on_fail; /* 1: fail=..., 0: success=... */
  long halt_count;
  double halt_pct; /* > 0: a percentage of all jobs */
  int progress;
  int dry_run;
  int resume; /* 1 --resume, 2 --resume-failed */
  int shell;
  char **cmd;
  int ncmd;

  source *src;
  size_t nsrc;
  job *jobs;
  size_t njobs;
  size_t ntorun; /* jobs not skipped by --resume */

  pthread_mutex_t mu;
  pthread_cond_t cond;
  size_t nfinished; /* done callbacks run */
  size_t ndone;     /* jobs that ran */
  size_t nfailed;
  size_t nsucceeded;
  size_t next_print; /* keep-order cursor into jobs[] */
  FILE *log;
  int halted;
  int halt_status;
  int out_closed; /* stdout's reader went away (EPIPE) */
  double t_start;
  double last_progress;

  pthread_mutex_t run_mu;
  pid_t *slot_pid; /* 0: free; -1: taken, no child yet */

  atomic_int stop;     /* start no more jobs */
  atomic_int kill_sig; /* what a job spawned after a stop receives */
  atomic_int signo;    /* the first signal received */
  atomic_int nsignals;
  sigset_t sigs;
  const char **argfiles;
  const char **argblock; /* every job's args, in one allocation */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cond = PTHREAD_COND_INITIALIZER,
       .run_mu = PTHREAD_MUTEX_INITIALIZER};

static void usage_short(void) {
  fputs("usage: cfutures run [-j N] [-k] [--timeout S] [--retries K] "
        "[--joblog FILE]\n"
        "                    [--halt now|soon,fail|success=N[%]] "
        "[--progress] [--dry-run]\n"
        "                    [--resume] [--shell] [-0] [-a FILE] COMMAND "
        "[ARGS...] [::: ARGS...]\n"
        "see cfutures run --help\n",
        stderr);
}

static int usage_error(const char *fmt, const char *what) {
  fputs("cfutures run: ", stderr);
  fprintf(stderr, fmt, what);
  fputc('\n', stderr);
  usage_short();
  return EX_STATUS_USAGE;
}

static void help(void) {
  fputs(
      "usage: cfutures run [OPTIONS] COMMAND [ARGS...] [::: A B ... [::: "
      "...]]\n"
      "Runs COMMAND once per input argument, N at a time.\n\n"
      "Input (one argument per line, from stdin unless ::: or -a is given):\n"
      "  ::: A B ...      inline arguments; several lists give their product\n"
      "  :::: FILE        arguments from FILE (one source per file)\n"
      "  -a, --arg-file FILE  arguments from FILE\n"
      "  -0, --null       records end with NUL instead of newline\n\n"
      "Replacement strings in COMMAND (the argument is appended when none "
      "is used):\n"
      "  {} argument   {.} without extension   {/} basename   {//} dirname\n"
      "  {/.} basename without extension   {#} job number   {%} slot\n"
      "  {N} {N.} {N/} {N//} {N/.}  the same for the N-th input source\n\n"
      "Options:\n"
      "  -j, --jobs N     run N jobs at once (default: the number of CPUs)\n"
      "  -k, --keep-order print output in input order\n"
      "  --timeout S      kill a job's process group after S seconds\n"
      "  --retries K      run a failing job up to K more times\n"
      "  --joblog FILE    log every job (GNU parallel's columns)\n"
      "  --resume         skip jobs already in the joblog\n"
      "  --resume-failed  skip jobs the joblog shows succeeded\n"
      "  --halt WHEN,fail=N | WHEN,success=N  (WHEN: now or soon; N may be "
      "X%)\n"
      "  --progress       a progress line on stderr (when it is a terminal)\n"
      "  --dry-run        print the commands, run nothing\n"
      "  --shell          run COMMAND with /bin/sh -c (arguments are "
      "quoted)\n\n"
      "Commands run with posix_spawnp: an argument is never seen by a shell\n"
      "unless --shell is given. Jobs inherit the environment of cfutures;\n"
      "nothing in the input can set their environment. A job's stdin is\n"
      "/dev/null; its stdout and stderr are printed whole when it ends.\n\n"
      "Exit status: 0 all jobs succeeded; 1-100 that many failed; 101 more\n"
      "failed; with --halt, the status of the job that triggered it; 255 a\n"
      "usage error; 128+N after signal N (SIGINT, SIGTERM, SIGHUP); 141\n"
      "when stdout is closed by its reader (running jobs are stopped).\n",
      stdout);
}

/* ---- Input ---------------------------------------------------------------*/

static int read_fd_all(int fd, char **out, size_t *len) {
  ex_buf b = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      ex_buf_free(&b);
      return -e;
    }
    if (r == 0)
      break;
    if (ex_buf_append(&b, chunk, (size_t)r) != 0) {
      ex_buf_free(&b);
      return -ENOMEM;
    }
  }
  if (ex_buf_append(&b, "", 0) != 0)
    return -ENOMEM;
  *out = b.data;
  *len = b.len;
  return 0;
}

/* A file's records; they point into its bytes, which the source keeps. */
static int source_from_fd(int fd, char sep, source *s) {
  char *data;
  size_t len;
  int rc = read_fd_all(fd, &data, &len);
  if (rc != 0)
    return rc;
  rc = ex_split_records(data, len, sep, &s->items, &s->n);
  if (rc != 0) {
    free(data);
    return rc;
  }
  s->storage = data;
  return 0;
}

static int source_from_file(const char *path, char sep, source *s) {
  int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc = source_from_fd(fd, sep, s);
  if (fd != 0)
    close(fd);
  return rc;
}

static int add_source(void) {
  source *p = realloc(g.src, (g.nsrc + 1) * sizeof *p);
  if (p == NULL)
    return -ENOMEM;
  g.src = p;
  memset(&g.src[g.nsrc], 0, sizeof *g.src);
  g.nsrc++;
  return 0;
}

/* The product of the sources, the last varying fastest (as GNU parallel). */
static int build_jobs(void) {
  size_t n = 1;
  for (size_t i = 0; i < g.nsrc; i++) {
    if (g.src[i].n != 0 && n > SIZE_MAX / 2 / g.src[i].n / (g.nsrc + 1))
      return -ENOMEM;
    n *= g.src[i].n;
  }
  g.njobs = n;
  g.jobs = calloc(n ? n : 1, sizeof *g.jobs);
  const char **args = g.argblock =
      malloc((n ? n : 1) * (g.nsrc ? g.nsrc : 1) * sizeof *args);
  if (g.jobs == NULL || args == NULL)
    return -ENOMEM;
  for (size_t k = 0; k < n; k++) {
    job *j = &g.jobs[k];
    j->seq = k + 1;
    j->args = args + k * g.nsrc;
    size_t rest = k;
    for (size_t i = g.nsrc; i-- > 0;) {
      j->args[i] = g.src[i].items[rest % g.src[i].n];
      rest /= g.src[i].n;
    }
  }
  return 0;
}

static void argv_free(char **argv) {
  if (argv == NULL)
    return;
  for (char **a = argv; *a; a++)
    free(*a);
  free(argv);
}

/* The argv of job j: argv-exact (each word substituted, the arguments
 * appended as words of their own if no replacement string was used), or
 * /bin/sh -c with the words joined and the arguments shell-quoted. */
static char **build_argv(const job *j, int slot) {
  int used = 0;
  ex_subst sc = {j->args, g.nsrc, j->seq, slot + 1, 0};
  ex_subst sq = {j->args, g.nsrc, j->seq, slot + 1, 1};
  if (g.shell) {
    ex_buf b = {0};
    for (int i = 0; i < g.ncmd; i++) {
      if (i > 0)
        ex_buf_puts(&b, " ");
      ex_subst_word(g.cmd[i], &sq, &b, &used);
    }
    if (!used)
      for (size_t i = 0; i < g.nsrc; i++) {
        ex_buf_puts(&b, " ");
        ex_buf_quote(&b, j->args[i]);
      }
    char **argv = calloc(4, sizeof *argv);
    if (argv == NULL || ex_buf_append(&b, "", 0) != 0) {
      free(argv);
      ex_buf_free(&b);
      return NULL;
    }
    argv[0] = strdup("/bin/sh");
    argv[1] = strdup("-c");
    argv[2] = b.data;
    if (argv[0] == NULL || argv[1] == NULL) {
      argv_free(argv);
      return NULL;
    }
    return argv;
  }
  size_t n = (size_t)g.ncmd + g.nsrc + 1;
  char **argv = calloc(n, sizeof *argv);
  if (argv == NULL)
    return NULL;
  size_t k = 0;
  for (int i = 0; i < g.ncmd; i++) {
    ex_buf b = {0};
    if (ex_subst_word(g.cmd[i], &sc, &b, &used) != 0) {
      ex_buf_free(&b);
      argv_free(argv);
      return NULL;
    }
    argv[k++] = b.data;
  }
  if (!used)
    for (size_t i = 0; i < g.nsrc; i++)
      if ((argv[k++] = strdup(j->args[i])) == NULL) {
        argv_free(argv);
        return NULL;
      }
  return argv;
}

static char *render_cmdline(char **argv) {
  if (g.shell)
    return strdup(argv[2]);
  ex_buf b = {0};
  for (char **a = argv; *a; a++) {
    if (a != argv)
      ex_buf_puts(&b, " ");
    ex_buf_quote(&b, *a);
  }
  if (ex_buf_append(&b, "", 0) != 0) {
    ex_buf_free(&b);
    return NULL;
  }
  return b.data;
}

/* ---- Running jobs --------------------------------------------------------*/

static int slot_take(void) {
  pthread_mutex_lock(&g.run_mu);
  int s = 0;
  while (s < g.nworkers && g.slot_pid[s] != 0)
    s++;
  /* At most nworkers tasks run at once, so a free slot always exists;
   * -1 (no slot: the job cannot be signalled) only guards the invariant. */
  if (s == g.nworkers)
    s = -1;
  else
    g.slot_pid[s] = -1;
  pthread_mutex_unlock(&g.run_mu);
  return s;
}

static void slot_put(int s) {
  if (s < 0)
    return;
  pthread_mutex_lock(&g.run_mu);
  g.slot_pid[s] = 0;
  pthread_mutex_unlock(&g.run_mu);
}

static void on_spawn(void *ud, pid_t pid) {
  int s = (int)(intptr_t)ud;
  if (s < 0)
    return;
  pthread_mutex_lock(&g.run_mu);
  g.slot_pid[s] = pid;
  /* Whoever sets stop (seq_cst) takes run_mu afterwards to kill the
   * registered jobs: either it sees this pid, or this load sees stop. */
  if (atomic_load(&g.stop) == 2)
    kill(-pid, atomic_load(&g.kill_sig));
  pthread_mutex_unlock(&g.run_mu);
}

static void on_exit_hook(void *ud, pid_t pid) {
  int s = (int)(intptr_t)ud;
  if (s < 0)
    return;
  pthread_mutex_lock(&g.run_mu);
  g.slot_pid[s] = -1;
  pthread_mutex_unlock(&g.run_mu);
}

/* Sends sig to the process group of every running job. */
static size_t kill_running(int sig) {
  size_t n = 0;
  pthread_mutex_lock(&g.run_mu);
  for (long s = 0; s < g.nworkers; s++)
    if (g.slot_pid[s] > 0) {
      kill(-g.slot_pid[s], sig);
      n++;
    }
  pthread_mutex_unlock(&g.run_mu);
  return n;
}

static int job_failed(const job *j) {
  return j->proc.exitval != 0 || j->proc.signo != 0;
}

static int job_task(void *arg, void **result) {
  job *j = arg;
  *result = j;
  if (atomic_load_explicit(&g.stop, memory_order_relaxed)) {
    j->skipped = 1;
    return 0;
  }
  int slot = slot_take();
  char **argv = build_argv(j, slot);
  if (argv == NULL) {
    j->proc.exitval = 255;
    ex_buf_puts(&j->proc.err, "cfutures: out of memory\n");
    slot_put(slot);
    return 0;
  }
  ex_spawn_hooks hooks = {on_spawn, on_exit_hook, (void *)(intptr_t)slot};
  for (long attempt = 0;; attempt++) {
    j->start_wall = ex_wall();
    double t0 = ex_mono();
    int rc = ex_spawn_wait(argv, 1, g.timeout, &hooks, &j->proc);
    j->runtime = ex_mono() - t0;
    if (rc != 0) {
      j->proc.exitval = 255;
      char eb[128];
      ex_buf_printf(&j->proc.err, "cfutures: cannot run %s: %s\n", argv[0],
                    strerror_r(-rc, eb, sizeof eb));
    }
    if (!job_failed(j) || attempt >= g.retries || atomic_load(&g.stop))
      break;
    ex_proc_free(&j->proc);
  }
  slot_put(slot);
  if (g.log != NULL)
    j->cmdline = render_cmdline(argv);
  argv_free(argv);
  return 0;
}

/* ---- Completion (under g.mu) ---------------------------------------------*/

static void progress_clear_locked(void) {
  if (g.progress && g.last_progress > 0)
    ex_write_all(2, "\r\033[K", 4);
}

static void progress_draw_locked(int force) {
  if (!g.progress)
    return;
  double now = ex_mono();
  if (!force && now - g.last_progress < 0.1)
    return;
  g.last_progress = now;
  double el = now - g.t_start;
  double rate = el > 0 ? (double)g.ndone / el : 0;
  size_t left = g.ntorun > g.ndone ? g.ntorun - g.ndone : 0;
  double pct = g.ntorun ? 100.0 * (double)g.ndone / (double)g.ntorun : 100;
  char bar[21];
  int fill = (int)(pct / 5);
  for (int i = 0; i < 20; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[20] = '\0';
  ex_buf b = {0};
  ex_buf_printf(&b, "\r\033[K%zu/%zu [%s] %3.0f%% %.1f jobs/s", g.ndone,
                g.ntorun, bar, pct, rate);
  if (rate > 0 && left > 0)
    ex_buf_printf(&b, " ETA %.0fs", (double)left / rate);
  if (g.nfailed > 0)
    ex_buf_printf(&b, " (%zu failed)", g.nfailed);
  if (b.data != NULL)
    ex_write_all(2, b.data, b.len);
  ex_buf_free(&b);
}

static void print_job_locked(job *j) {
  if (j->printed)
    return;
  j->printed = 1;
  if (j->skipped)
    return;
  if (j->proc.out.len > 0 || j->proc.err.len > 0)
    progress_clear_locked();
  if (j->proc.out.len > 0 && !g.out_closed &&
      ex_write_all(1, j->proc.out.data, j->proc.out.len) == -EPIPE) {
    /* Like `| head`: nobody reads any more, so stop as after SIGPIPE. */
    g.out_closed = 1;
    atomic_store(&g.kill_sig, SIGTERM);
    atomic_store(&g.stop, 2);
    kill_running(SIGTERM);
  }
  if (j->proc.err.len > 0)
    ex_write_all(2, j->proc.err.data, j->proc.err.len);
  ex_proc_free(&j->proc);
}

static void flush_in_order_locked(void) {
  while (g.next_print < g.njobs) {
    job *j = &g.jobs[g.next_print];
    if (!j->finished)
      break;
    print_job_locked(j);
    g.next_print++;
  }
}

static void joblog_write_locked(const job *j) {
  if (g.log == NULL)
    return;
  fprintf(g.log, "%zu\t:\t%.3f\t%.3f\t0\t%zu\t%d\t%d\t%s\n", j->seq,
          j->start_wall, j->runtime, j->proc.out.len, j->proc.exitval,
          j->proc.signo, j->cmdline ? j->cmdline : "");
  fflush(g.log);
}

static void halt_check_locked(const job *j) {
  if (g.halt_when == HALT_NEVER || g.halted)
    return;
  int failed = job_failed(j);
  if (failed != g.halt_on_fail)
    return;
  size_t count = failed ? g.nfailed : g.nsucceeded;
  double need = g.halt_pct > 0 ? ceil(g.halt_pct * (double)g.ntorun / 100.0)
                               : (double)g.halt_count;
  if ((double)count < need)
    return;
  g.halted = 1;
  if (failed)
    g.halt_status = j->proc.exitval > 0 ? j->proc.exitval
                    : j->proc.signo > 0 ? 128 + j->proc.signo
                                        : 1;
  else
    g.halt_status = 0;
  atomic_store(&g.kill_sig, SIGTERM);
  atomic_store(&g.stop, g.halt_when == HALT_NOW ? 2 : 1);
  size_t killed = g.halt_when == HALT_NOW ? kill_running(SIGTERM) : 0;
  progress_clear_locked();
  fprintf(stderr,
          "cfutures: halting after job %zu %s: %zu succeeded, %zu failed; "
          "%s\n",
          j->seq, failed ? "failed" : "succeeded", g.nsucceeded, g.nfailed,
          g.halt_when == HALT_NOW
              ? (killed ? "killing the running jobs" : "no job is running")
              : "waiting for the running jobs");
}

static void job_done(cf_future *f, void *ud) {
  job *j = ud;
  /* An acquire load of the done state: when cf_future_on_done finds the
   * future done and runs this at once, on the main thread, nothing else
   * orders the worker's writes to *j before the reads below. */
  (void)cf_future_done(f);
  pthread_mutex_lock(&g.mu);
  j->finished = 1;
  if (!j->skipped) {
    g.ndone++;
    if (job_failed(j))
      g.nfailed++;
    else
      g.nsucceeded++;
    joblog_write_locked(j);
    free(j->cmdline);
    j->cmdline = NULL;
    halt_check_locked(j);
  }
  if (g.keep_order)
    flush_in_order_locked();
  else
    print_job_locked(j);
  progress_draw_locked(0);
  g.nfinished++;
  pthread_cond_signal(&g.cond);
  pthread_mutex_unlock(&g.mu);
}

static void *signal_main(void *arg) {
  (void)arg;
  for (;;) {
    int sig;
    if (sigwait(&g.sigs, &sig) != 0)
      continue;
    int n = atomic_fetch_add(&g.nsignals, 1);
    int ksig = n == 0 ? sig : SIGKILL;
    if (n == 0)
      atomic_store(&g.signo, sig);
    atomic_store(&g.kill_sig, ksig);
    atomic_store(&g.stop, 2);
    kill_running(ksig);
  }
  return NULL;
}

/* ---- Options -------------------------------------------------------------*/

static int parse_halt(const char *s) {
  if (strcmp(s, "never") == 0 || strcmp(s, "0") == 0) {
    g.halt_when = HALT_NEVER;
    return 0;
  }
  if (strcmp(s, "1") == 0 || strcmp(s, "2") == 0) {
    g.halt_when = s[0] == '1' ? HALT_SOON : HALT_NOW;
    g.halt_on_fail = 1;
    g.halt_count = 1;
    return 0;
  }
  const char *comma = strchr(s, ',');
  if (comma == NULL)
    return -1;
  size_t wl = (size_t)(comma - s);
  if (wl == 3 && strncmp(s, "now", 3) == 0)
    g.halt_when = HALT_NOW;
  else if (wl == 4 && strncmp(s, "soon", 4) == 0)
    g.halt_when = HALT_SOON;
  else
    return -1;
  const char *what = comma + 1, *num;
  if (strncmp(what, "fail=", 5) == 0) {
    g.halt_on_fail = 1;
    num = what + 5;
  } else if (strncmp(what, "success=", 8) == 0) {
    g.halt_on_fail = 0;
    num = what + 8;
  } else {
    return -1;
  }
  size_t nl = strlen(num);
  if (nl > 1 && num[nl - 1] == '%') {
    char tmp[32];
    if (nl >= sizeof tmp)
      return -1;
    memcpy(tmp, num, nl - 1);
    tmp[nl - 1] = '\0';
    if (ex_parse_seconds(tmp, &g.halt_pct) != 0 || g.halt_pct <= 0 ||
        g.halt_pct > 100)
      return -1;
    return 0;
  }
  return ex_parse_long(num, 1, LONG_MAX, &g.halt_count);
}

/* Matches option name (long "--x" or short "-x"), with its value either
 * attached ("--x=V", "-xV") or in the next word. */
static int opt_value(int argc, char **argv, int *i, const char *lng,
                     const char *shrt, const char **val) {
  const char *a = argv[*i];
  size_t ll = strlen(lng);
  if (strncmp(a, lng, ll) == 0 && (a[ll] == '=' || a[ll] == '\0')) {
    if (a[ll] == '=') {
      *val = a + ll + 1;
      return 1;
    }
  } else if (shrt != NULL && strncmp(a, shrt, 2) == 0) {
    if (a[2] != '\0') {
      *val = a + 2;
      return 1;
    }
  } else {
    return 0;
  }
  if (*i + 1 >= argc) {
    *val = NULL;
    return 1;
  }
  *val = argv[++*i];
  return 1;
}

static int load_resume(void) {
  int fd = open(g.joblog, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  char *data;
  size_t len;
  int rc = read_fd_all(fd, &data, &len);
  close(fd);
  if (rc != 0)
    return rc;
  for (char *line = data; line < data + len;) {
    char *nl = memchr(line, '\n', (size_t)(data + len - line));
    if (nl != NULL)
      *nl = '\0';
    char *end;
    unsigned long long seq = strtoull(line, &end, 10);
    if (end != line && strncmp(end, "\t:\t", 3) == 0 && seq >= 1 &&
        seq <= g.njobs) {
      /* Fields: seq host start runtime send receive exitval signal cmd. */
      char *f = end + 1;
      int exitval = 0, sig = 0;
      for (int k = 1; k < 6 && f != NULL; k++) {
        f = strchr(f, '\t');
        f = f ? f + 1 : NULL;
      }
      if (f != NULL)
        sscanf(f, "%d\t%d", &exitval, &sig);
      if (g.resume == 1 || (exitval == 0 && sig == 0))
        g.jobs[seq - 1].skipped = 1;
    }
    if (nl == NULL)
      break;
    line = nl + 1;
  }
  free(data);
  return 0;
}

static void run_cleanup(void) {
  for (size_t k = 0; k < g.nsrc; k++)
    if (g.src[k].storage != NULL) {
      free(g.src[k].storage);
      free(g.src[k].items);
    }
  free(g.src);
  if (g.jobs != NULL) {
    for (size_t k = 0; k < g.njobs; k++)
      ex_proc_free(&g.jobs[k].proc);
  }
  free(g.argblock);
  free(g.jobs);
  free(g.slot_pid);
  free(g.argfiles);
}

static int run_main(int argc, char **argv) {
  g.nworkers = cf_cpu_count();
  g.timeout = -1;
  char sep = '\n';
  const char **argfiles = g.argfiles =
      calloc((size_t)argc + 1, sizeof *argfiles);
  size_t nargfiles = 0;
  if (argfiles == NULL)
    return 1;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i], *v;
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] == '\0')
      break;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      help();
      return 0;
    } else if (opt_value(argc, argv, &i, "--jobs", "-j", &v)) {
      if (v == NULL || ex_parse_long(v, 1, 65536, &g.nworkers) != 0)
        return usage_error("-j wants a whole number of jobs >= 1, not '%s'",
                           v ? v : "");
    } else if (opt_value(argc, argv, &i, "--timeout", NULL, &v)) {
      if (v == NULL || ex_parse_seconds(v, &g.timeout) != 0 || g.timeout <= 0)
        return usage_error("--timeout wants seconds > 0, not '%s'", v ? v : "");
    } else if (opt_value(argc, argv, &i, "--retries", NULL, &v)) {
      if (v == NULL || ex_parse_long(v, 0, 1000000, &g.retries) != 0)
        return usage_error("--retries wants a count >= 0, not '%s'",
                           v ? v : "");
    } else if (opt_value(argc, argv, &i, "--joblog", NULL, &v)) {
      if (v == NULL || *v == '\0')
        return usage_error("--joblog wants a file name%s", "");
      g.joblog = v;
    } else if (opt_value(argc, argv, &i, "--halt", NULL, &v)) {
      if (v == NULL || parse_halt(v) != 0)
        return usage_error("--halt wants now|soon,fail|success=N[%%], not "
                           "'%s'",
                           v ? v : "");
    } else if (opt_value(argc, argv, &i, "--arg-file", "-a", &v)) {
      if (v == NULL)
        return usage_error("-a wants a file name%s", "");
      argfiles[nargfiles++] = v;
    } else if (strcmp(a, "-k") == 0 || strcmp(a, "--keep-order") == 0) {
      g.keep_order = 1;
    } else if (strcmp(a, "-0") == 0 || strcmp(a, "--null") == 0) {
      sep = '\0';
    } else if (strcmp(a, "--progress") == 0) {
      g.progress = 1;
    } else if (strcmp(a, "--dry-run") == 0) {
      g.dry_run = 1;
    } else if (strcmp(a, "--resume") == 0) {
      g.resume = 1;
    } else if (strcmp(a, "--resume-failed") == 0) {
      g.resume = 2;
    } else if (strcmp(a, "--shell") == 0) {
      g.shell = 1;
    } else {
      return usage_error("unknown option '%s'", a);
    }
  }
  g.cmd = argv + i;
  while (i < argc && strcmp(argv[i], ":::") != 0 &&
         strcmp(argv[i], "::::") != 0)
    i++;
  g.ncmd = (int)(argv + i - g.cmd);
  if (g.ncmd == 0)
    return usage_error("no command given%s", "");
  if (g.resume && g.joblog == NULL)
    return usage_error("--resume needs --joblog FILE%s", "");
  int explicit_input = nargfiles > 0;
  while (i < argc) {
    int files = strcmp(argv[i], "::::") == 0;
    i++;
    if (files) {
      for (; i < argc && strcmp(argv[i], ":::") != 0 &&
             strcmp(argv[i], "::::") != 0;
           i++)
        argfiles[nargfiles++] = argv[i];
      continue;
    }
    if (add_source() != 0)
      return 1;
    source *s = &g.src[g.nsrc - 1];
    s->items = (const char **)(argv + i);
    while (i < argc && strcmp(argv[i], ":::") != 0 &&
           strcmp(argv[i], "::::") != 0)
      i++;
    s->n = (size_t)((const char **)(argv + i) - s->items);
    explicit_input = 1;
  }
  for (size_t k = 0; k < nargfiles; k++) {
    if (add_source() != 0)
      return 1;
    int rc = source_from_file(argfiles[k], sep, &g.src[g.nsrc - 1]);
    if (rc != 0) {
      fprintf(stderr, "cfutures run: %s: %s\n", argfiles[k], strerror(-rc));
      return EX_STATUS_USAGE;
    }
  }
  if (!explicit_input) {
    if (add_source() != 0)
      return 1;
    int rc = source_from_fd(0, sep, &g.src[0]);
    if (rc != 0) {
      fprintf(stderr, "cfutures run: stdin: %s\n", strerror(-rc));
      return 1;
    }
  }
  if (build_jobs() != 0) {
    fputs("cfutures run: out of memory\n", stderr);
    return 1;
  }
  if (g.resume) {
    int rc = load_resume();
    if (rc != 0) {
      fprintf(stderr, "cfutures run: %s: %s\n", g.joblog, strerror(-rc));
      return 1;
    }
  }
  for (size_t k = 0; k < g.njobs; k++) {
    g.ntorun += !g.jobs[k].skipped;
    /* Skipped by --resume: nothing to wait for, nothing to print. */
    g.jobs[k].finished = g.jobs[k].skipped;
  }

  if (g.dry_run) {
    for (size_t k = 0; k < g.njobs; k++) {
      if (g.jobs[k].skipped)
        continue;
      char **av = build_argv(&g.jobs[k], 0);
      char *line = av ? render_cmdline(av) : NULL;
      if (line == NULL) {
        fputs("cfutures run: out of memory\n", stderr);
        return 1;
      }
      puts(line);
      free(line);
      argv_free(av);
    }
    return fflush(stdout) == 0 ? 0 : 1;
  }

  /* Signals: blocked everywhere (the pool's threads inherit the mask),
   * taken by one thread; children get the original mask back. */
  sigset_t orig;
  sigemptyset(&g.sigs);
  sigaddset(&g.sigs, SIGINT);
  sigaddset(&g.sigs, SIGTERM);
  sigaddset(&g.sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &g.sigs, &orig);
  /* A closed stdout shows up as EPIPE (see print_job_locked); children
   * get the default disposition back (spawn.c). */
  signal(SIGPIPE, SIG_IGN);
  sigdelset(&orig, SIGINT);
  sigdelset(&orig, SIGTERM);
  sigdelset(&orig, SIGHUP);
  int rc = ex_spawn_init(&orig);
  if (rc != 0) {
    fprintf(stderr, "cfutures run: /dev/null: %s\n", strerror(-rc));
    return 1;
  }
  pthread_t sigthread;
  if (pthread_create(&sigthread, NULL, signal_main, NULL) != 0) {
    fputs("cfutures run: cannot start the signal thread\n", stderr);
    return 1;
  }
  pthread_detach(sigthread);
  g.progress = g.progress && isatty(2);
  g.slot_pid = calloc((size_t)g.nworkers, sizeof *g.slot_pid);
  if (g.slot_pid == NULL)
    return 1;
  if (g.joblog != NULL) {
    g.log = fopen(g.joblog, g.resume ? "ae" : "we");
    if (g.log == NULL) {
      fprintf(stderr, "cfutures run: %s: %s\n", g.joblog, strerror(errno));
      return 1;
    }
    if (ftell(g.log) == 0)
      fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal"
            "\tCommand\n",
            g.log);
    fflush(g.log);
  }

  cf_thread_pool_options po;
  cf_thread_pool_options_init(&po);
  po.max_workers = (int)g.nworkers;
  po.max_queued = (size_t)g.nworkers;
  po.thread_name_prefix = "job";
  cf_executor *pool;
  rc = cf_thread_pool_new(&po, &pool);
  if (rc != 0) {
    fprintf(stderr, "cfutures run: thread pool: %s\n", cf_strerror(rc));
    return 1;
  }
  rc = ex_pool_prestart(pool, (int)g.nworkers);
  if (rc != 0) {
    fprintf(stderr, "cfutures run: thread pool: %s\n", cf_strerror(rc));
    cf_executor_free(pool);
    return 1;
  }
  g.t_start = ex_mono();
  pthread_mutex_lock(&g.mu);
  progress_draw_locked(1);
  pthread_mutex_unlock(&g.mu);
  size_t nsubmitted = 0;
  for (size_t k = 0; k < g.njobs; k++) {
    job *j = &g.jobs[k];
    if (j->skipped)
      continue;
    if (atomic_load(&g.stop)) {
      pthread_mutex_lock(&g.mu);
      j->skipped = j->finished = 1;
      pthread_mutex_unlock(&g.mu);
      continue;
    }
    cf_future *f;
    rc = cf_submit(pool, job_task, j, &f);
    if (rc != 0) {
      fprintf(stderr, "cfutures run: cannot submit job %zu: %s\n", j->seq,
              cf_strerror(rc));
      pthread_mutex_lock(&g.mu);
      j->skipped = j->finished = 1;
      pthread_mutex_unlock(&g.mu);
      atomic_store(&g.stop, 1);
      continue;
    }
    nsubmitted++;
    if (cf_future_on_done(f, job_done, j) != 0) {
      cf_future_error(f, -1); /* waits, and orders the task's writes */
      job_done(f, j);
    }
    cf_future_release(f);
  }
  pthread_mutex_lock(&g.mu);
  while (g.nfinished < nsubmitted)
    pthread_cond_wait(&g.cond, &g.mu);
  pthread_mutex_unlock(&g.mu);
  cf_executor_free(pool);

  pthread_mutex_lock(&g.mu);
  if (g.keep_order)
    flush_in_order_locked();
  if (g.progress) {
    progress_draw_locked(1);
    ex_write_all(2, "\n", 1);
  }
  int signo = atomic_load(&g.signo);
  size_t notrun = g.ntorun - g.ndone;
  if (signo != 0)
    fprintf(stderr,
            "cfutures: stopped by %s: %zu jobs ran (%zu succeeded, %zu "
            "failed), %zu not run\n",
            strsignal(signo), g.ndone, g.nsucceeded, g.nfailed, notrun);
  else if (g.halted)
    fprintf(stderr,
            "cfutures: halted: %zu jobs ran (%zu succeeded, %zu failed), %zu "
            "not run\n",
            g.ndone, g.nsucceeded, g.nfailed, notrun);
  if (g.log != NULL)
    fclose(g.log);
  int status = signo != 0        ? 128 + signo
               : g.out_closed    ? 128 + SIGPIPE
               : g.halted        ? g.halt_status
               : g.nfailed > 100 ? 101
                                 : (int)g.nfailed;
  pthread_mutex_unlock(&g.mu);
  return status;
}

int ex_run_main(int argc, char **argv) {
  int status = run_main(argc, argv);
  run_cleanup();
  return status;
}
