/* SPDX-License-Identifier: MIT */
/* cfutures: parallel batch jobs and pool-size benchmarking on cfutures.
 * The front door: picks the subcommand; each parses its own options. */
#include "executor.h"

#include <cfutures.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const commands[] = {"run", "bench", "help", "version", NULL};
static const char *const top_options[] = {"--help", "--version", NULL};

static void usage(FILE *to) {
  fputs("usage: " EX_PROG " run [OPTIONS] COMMAND [ARGS...] [::: ARGS...]\n"
        "       " EX_PROG " bench [OPTIONS] [WORKLOAD | -- COMMAND [ARGS...]]\n"
        "       " EX_PROG " help [SUBCOMMAND]\n"
        "       " EX_PROG " version\n\n"
        "Subcommands:\n"
        "  run      run a batch of commands in parallel (as GNU parallel, "
        "xargs -P)\n"
        "  bench    run a workload on pools of several sizes; name the best\n"
        "  help     this text, or a subcommand's: " EX_PROG " help run\n"
        "  version  print the version\n",
        to);
}

static int usage_error(const char *what, const char *word,
                       const char *const *candidates) {
  const char *near = ex_suggest(word, candidates);
  fprintf(stderr, EX_PROG ": unknown %s '%s'", what, word);
  if (near != NULL)
    fprintf(stderr, "; did you mean '%s'?", near);
  fputs("\n\n", stderr);
  usage(stderr);
  return EX_STATUS_USAGE;
}

static int version(void) {
  printf(EX_PROG " %s\n", cf_version());
  return 0;
}

static int help(int argc, char **argv) {
  if (argc < 2) {
    usage(stdout);
    return 0;
  }
  if (argc > 2) {
    fputs(EX_PROG " help: one subcommand at most\n\n", stderr);
    usage(stderr);
    return EX_STATUS_USAGE;
  }
  const char *cmd = argv[1];
  char *sub_argv[] = {argv[1], "--help", NULL};
  if (strcmp(cmd, "run") == 0)
    return ex_run_main(2, sub_argv);
  if (strcmp(cmd, "bench") == 0)
    return ex_bench_main(2, sub_argv);
  if (strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "version") == 0) {
    fputs("usage: " EX_PROG " version\n"
          "Prints the program's name and version (also: " EX_PROG
          " --version).\n",
          stdout);
    return 0;
  }
  return usage_error("subcommand", cmd, commands);
}

int main(int argc, char **argv) {
  /* Descriptors 0-2 must exist: a spawned job's stdio is dup2'ed onto them
   * and a file opened later must never take their place. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
      return 1;
  if (argc < 2) {
    usage(stderr);
    return EX_STATUS_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0)
    return ex_run_main(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0)
    return ex_bench_main(argc - 1, argv + 1);
  if (strcmp(cmd, "help") == 0)
    return help(argc - 1, argv + 1);
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
    return help(1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    if (argc > 2) {
      fprintf(stderr, EX_PROG " %s takes no arguments\n\n", cmd);
      usage(stderr);
      return EX_STATUS_USAGE;
    }
    return version();
  }
  if (cmd[0] == '-')
    return usage_error("option", cmd, top_options);
  return usage_error("subcommand", cmd, commands);
}
