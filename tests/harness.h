/* Shared test helpers: timeouts scaled by TIMEOUT_MULTIPLIER, a census of
 * the process's descriptors and threads, small task functions. */
#ifndef CF_TEST_HARNESS_H
#define CF_TEST_HARNESS_H

#include <check.h>
#include <cfutures.h>
#include <stddef.h>

void cf_test_harness_init(void);
/* base seconds x TIMEOUT_MULTIPLIER (default 1). */
double cf_test_scale(double seconds);
/* Sets a TCase's timeout to base seconds, scaled. */
void cf_test_tcase_timeout(TCase *tc, double seconds);
/* Open descriptors and live threads of this process (from /proc). */
int cf_test_count_fds(void);
int cf_test_count_threads(void);
/* Sleeps for ms milliseconds. */
void cf_test_sleep_ms(double ms);

#endif
