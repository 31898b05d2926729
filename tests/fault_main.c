/* SPDX-License-Identifier: MIT */
/* cf_fault_tests: the suites that need the wrapped calls of
 * fault_inject.c, run by name as cf_tests runs its own. */
#include "harness.h"

Suite *cf_faults_suite(void);
Suite *cf_faults_fork_suite(void);

static const cf_test_suite suites[] = {{"faults", cf_faults_suite},
                                       {"faults_fork", cf_faults_fork_suite}};

int main(int argc, char **argv) {
  return cf_test_main(suites, sizeof suites / sizeof suites[0], argc, argv);
}
