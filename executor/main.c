/* SPDX-License-Identifier: MIT */
/* executor: parallel batch jobs and pool-size benchmarking on cfutures. */
#include "executor.h"

#include <cfutures.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *to) {
  fputs("usage: executor run [OPTIONS] COMMAND [ARGS...] [::: ARGS...]\n"
        "       executor bench [OPTIONS] [cpu|sleep|noop|mixed | -- CMD {}]\n"
        "       executor --version\n"
        "`executor run --help` and `executor bench --help` tell more.\n",
        to);
}

int main(int argc, char **argv) {
  /* Descriptors 0-2 must exist: a spawned job's stdio is dup2'ed onto them
   * and a file opened later must never take their place. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
      return 1;
  if (argc < 2) {
    char *def[] = {"bench", NULL};
    return ex_bench_main(1, def);
  }
  if (strcmp(argv[1], "run") == 0)
    return ex_run_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "bench") == 0)
    return ex_bench_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "--version") == 0) {
    printf("executor (cfutures) %s\n", cf_version());
    return 0;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "executor: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return EX_STATUS_USAGE;
}
