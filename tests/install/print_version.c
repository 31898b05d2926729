/* SPDX-License-Identifier: MIT */
/* Prints cf_version(); the version test compares it with the project's. */
#include <cfutures.h>
#include <stdio.h>

int main(void) {
  printf("%s\n", cf_version());
  return 0;
}
