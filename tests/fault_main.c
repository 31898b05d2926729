/* cf_fault_tests: the suites that need the wrapped calls of
 * fault_inject.c, run by name as cf_tests runs its own. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *cf_faults_suite(void);
Suite *cf_faults_fork_suite(void);

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    Suite *(*make)(void);
  } suites[] = {{"faults", cf_faults_suite},
                {"faults_fork", cf_faults_fork_suite}};
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
