#!/bin/sh
# SPDX-License-Identifier: MIT
# Every public header compiles on its own, first in a translation unit,
# as strict C11 with warnings as errors, and as C++ where a C++ compiler
# is present: a user may include any one of them alone.
# Usage: check_headers.sh INCLUDE_DIR CC
set -eu
inc=$1 cc=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfutures-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cxx=
command -v c++ >/dev/null 2>&1 && cxx=c++
n=0
for h in $(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort); do
  extra=
  case $h in
    cfutures/uv.h) module=libuv ;;
    cfutures/event.h) module=libevent ;;
    cfutures/mpi.h) module=ompi-c ;;
    *) module= ;;
  esac
  if [ -n "$module" ]; then
    pkg-config --exists "$module" 2>/dev/null || { echo "skip $h (no $module)"; continue; }
    # The loop libraries' own headers need POSIX declarations.
    # (Open MPI's deprecated C++ bindings do not build with -Werror.)
    extra="-D_POSIX_C_SOURCE=200809L -DOMPI_SKIP_MPICXX=1 $(pkg-config --cflags "$module")"
  fi
  printf '#include <%s>\n#include <%s>\nint cf_header_check;\n' "$h" "$h" >"$tmp/t.c"
  # shellcheck disable=SC2086
  "$cc" -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$inc" \
    $extra "$tmp/t.c" || { echo "FAIL: $h as C11"; exit 1; }
  if [ -n "$cxx" ]; then
    cp "$tmp/t.c" "$tmp/t.cc"
    # shellcheck disable=SC2086
    "$cxx" -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" \
      $extra "$tmp/t.cc" || { echo "FAIL: $h as C++11"; exit 1; }
  fi
  n=$((n + 1))
done
echo "$n headers compile alone${cxx:+ (C11 and C++11)}"
