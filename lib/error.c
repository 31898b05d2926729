/* SPDX-License-Identifier: MIT */
/* Error codes: names and messages, generated from CF_ERRNO_MAP. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

const char *cf_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define CF__ERR_MSG(name, value, msg)                                          \
  case CF_##name:                                                              \
    return msg;
    CF_ERRNO_MAP(CF__ERR_MSG)
#undef CF__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *cf_err_name(int err) {
  switch (err) {
  case 0:
    return "OK";
#define CF__ERR_NAME(name, value, msg)                                         \
  case CF_##name:                                                              \
    return #name;
    CF_ERRNO_MAP(CF__ERR_NAME)
#undef CF__ERR_NAME
  default:
    return "UNKNOWN";
  }
}

char *cf__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p != NULL)
    memcpy(p, s, n);
  return p;
}
