/* Runs one suite by name (as CTest does: one process per suite) or every
 * suite with no argument. Check forks each test into its own process, so
 * one crash or hang fails one test, and its timeout acts as a watchdog. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF_SUITE(name, label) Suite *cf_##name##_suite(void);
#include "suites.h"
#undef CF_SUITE

static const struct {
  const char *name;
  Suite *(*make)(void);
} suites[] = {
#define CF_SUITE(name, label) {#name, cf_##name##_suite},
#include "suites.h"
#undef CF_SUITE
};

int main(int argc, char **argv) {
  SRunner *sr = NULL;
  for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
    if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
      continue;
    if (sr == NULL)
      sr = srunner_create(suites[i].make());
    else
      srunner_add_suite(sr, suites[i].make());
  }
  if (sr == NULL) {
    fprintf(stderr, "no suite named %s\n", argc > 1 ? argv[1] : "");
    return 2;
  }
  cf_test_harness_init();
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
