#!/bin/sh
# SPDX-License-Identifier: MIT
# The manual pages are clean: `mandoc -T lint -W warning` reports nothing,
# and neither does man-db's `man --warnings` (the check Debian's lintian
# runs), where it is installed. Exit 77 (skipped) without mandoc.
#   check_man.sh PAGE...
set -u
[ $# -gt 0 ] || { echo "usage: check_man.sh PAGE..." >&2; exit 2; }
if ! command -v mandoc >/dev/null 2>&1; then
  echo "skipped: mandoc is not installed (Debian package mandoc)"
  exit 77
fi
bad=0
for page in "$@"; do
  # mandoc's STYLE notes (a cross reference to a page not installed here)
  # are below -W warning and do not count.
  out=$(mandoc -T lint -W warning "$page" 2>&1) || bad=1
  if [ -n "$out" ]; then
    echo "$out"
    bad=1
  fi
  if command -v man >/dev/null 2>&1 && man --help 2>&1 | grep -q -- --warnings; then
    out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
      man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
    if [ -n "$out" ]; then
      echo "man --warnings: $page:"
      echo "$out"
      bad=1
    fi
  fi
done
[ "$bad" = 0 ] || exit 1
echo "$# pages lint clean"
