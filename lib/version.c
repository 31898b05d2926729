/* SPDX-License-Identifier: MIT */
/* The version the library was built as, from the macros in cfutures.h
 * (a test keeps those in step with the project version in CMakeLists.txt). */
#include "cfutures.h"

#define CF__STR(x) #x
#define CF__XSTR(x) CF__STR(x)

const char *cf_version(void) {
  return CF__XSTR(CF_VERSION_MAJOR) "." CF__XSTR(CF_VERSION_MINOR) "." CF__XSTR(
      CF_VERSION_PATCH);
}
