/* SPDX-License-Identifier: MIT */
/* Error codes: every entry of CF_ERRNO_MAP has its message and name, and
 * unknown codes are answered without crashing. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
  int code;
  const char *name;
  const char *msg;
} table[] = {
#define X(name, value, msg) {CF_##name, #name, msg},
    CF_ERRNO_MAP(X)
#undef X
};
static const size_t ntable = sizeof table / sizeof table[0];

START_TEST(test_strerror_every_code) {
  for (size_t i = 0; i < ntable; i++) {
    const char *m = cf_strerror(table[i].code);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m, table[i].msg);
  }
}
END_TEST

START_TEST(test_err_name_every_code) {
  for (size_t i = 0; i < ntable; i++) {
    const char *n = cf_err_name(table[i].code);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n, table[i].name);
  }
}
END_TEST

START_TEST(test_codes_distinct_and_negative) {
  for (size_t i = 0; i < ntable; i++) {
    ck_assert_int_lt(table[i].code, 0);
    for (size_t j = i + 1; j < ntable; j++)
      ck_assert_int_ne(table[i].code, table[j].code);
  }
}
END_TEST

/* Codes with a POSIX twin are minus that errno, so -errno passes through. */
START_TEST(test_errno_twins) {
  ck_assert_int_eq(CF_EINVAL, -EINVAL);
  ck_assert_int_eq(CF_ENOMEM, -ENOMEM);
  ck_assert_int_eq(CF_EAGAIN, -EAGAIN);
  ck_assert_int_eq(CF_ETIMEDOUT, -ETIMEDOUT);
  ck_assert_int_eq(CF_ECANCELED, -ECANCELED);
  ck_assert_int_eq(CF_ESHUTDOWN, -ESHUTDOWN);
  ck_assert_int_eq(CF_EDEADLK, -EDEADLK);
  ck_assert_int_eq(CF_EBUSY, -EBUSY);
  ck_assert_int_eq(CF_EMFILE, -EMFILE);
  ck_assert_int_eq(CF_EPROTO, -EPROTO);
  ck_assert_int_eq(CF_EPIPE, -EPIPE);
  ck_assert_int_eq(CF_ENOSYS, -ENOSYS);
  ck_assert_int_eq(CF_ENOENT, -ENOENT);
  ck_assert_int_eq(CF_EEXIST, -EEXIST);
  ck_assert_int_eq(CF_ECANCELLED, CF_ECANCELED);
  ck_assert_int_eq(CF_EINVALSTATE, CF_ESTATE);
}
END_TEST

START_TEST(test_success) {
  ck_assert_str_eq(cf_strerror(0), "success");
  ck_assert_ptr_nonnull(cf_err_name(0));
}
END_TEST

START_TEST(test_unknown_codes) {
  const int unknown[] = {1,     42,    -1,    -4,        -9999,    -4000,
                         -4006, -4094, -4096, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *m = cf_strerror(unknown[i]);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m, "unknown error");
    const char *n = cf_err_name(unknown[i]);
    ck_assert_ptr_nonnull(n);
    /* No known name may be reused for an unknown code. */
    for (size_t j = 0; j < ntable; j++)
      ck_assert_str_ne(n, table[j].name);
  }
}
END_TEST

START_TEST(test_version) {
  const char *v = cf_version();
  ck_assert_ptr_nonnull(v);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", CF_VERSION_MAJOR, CF_VERSION_MINOR,
           CF_VERSION_PATCH);
  ck_assert_str_eq(v, want);
}
END_TEST

START_TEST(test_clock) {
  uint64_t a = cf_now_ns();
  cf_test_sleep_ms(2);
  uint64_t b = cf_now_ns();
  ck_assert_uint_gt(a, 0);
  ck_assert_uint_ge(b - a, 2000000);
  ck_assert_int_ge(cf_cpu_count(), 1);
}
END_TEST

Suite *cf_error_suite(void) {
  Suite *s = suite_create("error");
  TCase *tc = tcase_create("codes");
  cf_test_tcase_timeout(tc, 5);
  tcase_add_test(tc, test_strerror_every_code);
  tcase_add_test(tc, test_err_name_every_code);
  tcase_add_test(tc, test_codes_distinct_and_negative);
  tcase_add_test(tc, test_errno_twins);
  tcase_add_test(tc, test_success);
  tcase_add_test(tc, test_unknown_codes);
  tcase_add_test(tc, test_version);
  tcase_add_test(tc, test_clock);
  suite_add_tcase(s, tc);
  return s;
}
