#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails if the shared library exports a symbol that is not part of the API
# (cf_*), apart from the linker's own markers. (libcfutures also exports
# cf_private_api, the one entry point of the table its optional libraries
# build on; it is declared in no public header.)
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
[ -n "$syms" ] || { echo "no symbols exported from $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" |
      grep -v -E '^(cf_[A-Za-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$bad" ]; then
  echo "symbols exported from $lib outside the API:"
  printf '%s\n' "$bad" | sed 's/^/  /'
  exit 1
fi
internal=$(printf '%s\n' "$syms" | grep -E '^cf__' || true)
if [ -n "$internal" ]; then
  echo "internal (cf__) symbols exported from $lib:"
  printf '%s\n' "$internal" | sed 's/^/  /'
  exit 1
fi
echo "$(printf '%s\n' "$syms" | grep -c '^cf_') cf_ symbols exported, nothing else"
