/* SPDX-License-Identifier: MIT */
/*
 * DESIGN: one command, spawned and waited for by the thread that asked.
 *
 * posix_spawnp (a vfork-like clone in glibc: no page tables are copied, so
 * a large parent spawns as fast as a small one) starts the child in a
 * process group of its own, so that a timeout or a forwarded Ctrl-C reaches
 * its grandchildren as well. The child's stdout and stderr are memfds, read
 * back once it has exited: no poll loop over pipes, no thread per job, and
 * a grandchild that keeps a descriptor open cannot hold the job up.
 *
 * Only our own pid is ever waited for (never waitpid(-1)): the first wait
 * uses WNOWAIT so that the zombie keeps the pid and the group id reserved
 * while the caller unregisters it and, after a timeout, kills what is left
 * of the group; only then is it reaped. No signal handler is installed
 * here; every descriptor is close-on-exec.
 */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static sigset_t child_mask;
static sigset_t child_default;
static int devnull = -1;

int ex_spawn_init(const sigset_t *mask) {
  child_mask = *mask;
  sigemptyset(&child_default);
  /* The program blocks or ignores these; children start with the defaults. */
  sigaddset(&child_default, SIGINT);
  sigaddset(&child_default, SIGTERM);
  sigaddset(&child_default, SIGHUP);
  sigaddset(&child_default, SIGQUIT);
  sigaddset(&child_default, SIGPIPE);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  return devnull < 0 ? -errno : 0;
}

/* Waits (without reaping) until pid exits or timeout seconds pass (< 0:
 * forever). 1 if it exited, 0 on timeout. */
static int wait_exit(pid_t pid, int pidfd, double timeout) {
  if (timeout < 0 || pidfd < 0) {
    double deadline = ex_mono() + timeout;
    for (;;) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      int flags = WEXITED | WNOWAIT | (timeout >= 0 ? WNOHANG : 0);
      if (waitid(P_PID, (id_t)pid, &si, flags) == 0) {
        if (si.si_pid == pid)
          return 1;
      } else if (errno != EINTR) {
        return 1; /* ECHILD: gone already, nothing left to wait for */
      }
      if (timeout >= 0) {
        if (ex_mono() >= deadline)
          return 0;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
      }
    }
  }
  double deadline = ex_mono() + timeout;
  for (;;) {
    double left = deadline - ex_mono();
    if (left <= 0)
      left = 0;
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    int ms = (int)(left * 1000.0 + 0.999);
    int r = poll(&pfd, 1, ms);
    if (r > 0)
      return 1;
    if (r < 0 && errno != EINTR)
      return 1;
    if (r == 0 && ex_mono() >= deadline)
      return 0;
  }
}

static int read_memfd(int fd, ex_buf *b) {
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0)
    return 0;
  size_t want = (size_t)st.st_size;
  if (ex_buf_append(b, "", 0) != 0 || b->cap < want + 1) {
    char *p = realloc(b->data, want + 1);
    if (p == NULL)
      return -ENOMEM;
    b->data = p;
    b->cap = want + 1;
  }
  size_t got = 0;
  while (got < want) {
    ssize_t r = pread(fd, b->data + got, want - got, (off_t)got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  b->len = got;
  b->data[got] = '\0';
  return 0;
}

int ex_spawn_wait(char *const argv[], int capture, double timeout,
                  const ex_spawn_hooks *hooks, ex_proc *p) {
  memset(p, 0, sizeof *p);
  int outfd = -1, errfd = -1, rc = 0;
  if (capture) {
    outfd = memfd_create("cfutures-stdout", MFD_CLOEXEC);
    errfd = memfd_create("cfutures-stderr", MFD_CLOEXEC);
    if (outfd < 0 || errfd < 0) {
      rc = -errno;
      goto out;
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  posix_spawn_file_actions_adddup2(&fa, devnull, 0);
  posix_spawn_file_actions_adddup2(&fa, capture ? outfd : devnull, 1);
  posix_spawn_file_actions_adddup2(&fa, capture ? errfd : devnull, 2);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setsigmask(&at, &child_mask);
  posix_spawnattr_setsigdefault(&at, &child_default);
  pid_t pid;
  int err = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (err != 0) {
    p->exitval = err == ENOENT ? 127 : 126;
    if (capture) {
      char eb[128];
      ex_buf_printf(&p->err, "cfutures: %s: %s\n", argv[0],
                    strerror_r(err, eb, sizeof eb));
    }
    goto out;
  }
  if (hooks != NULL && hooks->on_spawn != NULL)
    hooks->on_spawn(hooks->ud, pid);
  int pidfd = -1;
  if (timeout >= 0)
    pidfd = pidfd_open(pid, 0); /* our unreaped child: the pid is still ours */
  if (!wait_exit(pid, pidfd, timeout)) {
    p->timed_out = 1;
    kill(-pid, SIGTERM);
    if (!wait_exit(pid, pidfd, 0.2)) {
      kill(-pid, SIGKILL);
      wait_exit(pid, pidfd, -1.0);
    }
  }
  if (p->timed_out)
    kill(-pid, SIGKILL); /* whatever is left of the group: grandchildren */
  if (pidfd >= 0)
    close(pidfd);
  if (hooks != NULL && hooks->on_exit != NULL)
    hooks->on_exit(hooks->ud, pid);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status))
    p->exitval = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    p->signo = WTERMSIG(status);
  if (p->timed_out)
    p->exitval = -1;
  if (capture) {
    if (read_memfd(outfd, &p->out) != 0 || read_memfd(errfd, &p->err) != 0)
      rc = -ENOMEM;
  }
out:
  if (outfd >= 0)
    close(outfd);
  if (errfd >= 0)
    close(errfd);
  return rc;
}

void ex_proc_free(ex_proc *p) {
  ex_buf_free(&p->out);
  ex_buf_free(&p->err);
}
