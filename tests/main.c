/* SPDX-License-Identifier: MIT */
/* cf_tests: runs one suite by name (as CTest does: one process per suite)
 * or every suite with no argument. Check forks each test into its own
 * process, so one crash or hang fails one test, and its timeout acts as a
 * watchdog. */
#include "harness.h"

#define CF_SUITE(name, label) Suite *cf_##name##_suite(void);
#include "suites.h"
#undef CF_SUITE

static const cf_test_suite suites[] = {
#define CF_SUITE(name, label) {#name, cf_##name##_suite},
#include "suites.h"
#undef CF_SUITE
};

int main(int argc, char **argv) {
  return cf_test_main(suites, sizeof suites / sizeof suites[0], argc, argv);
}
