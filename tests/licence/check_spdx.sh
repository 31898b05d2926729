#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when a source, header, script or CMake file under ROOT lacks the
# SPDX licence line in its first three lines:
#   check_spdx.sh ROOT        check the tree (git's tracked files, or every
#                             file when ROOT is not a git checkout)
#   check_spdx.sh --self-test the check itself: a file without the line
#                             must fail it, one with the line must pass
set -u

check_tree() {
  root=$1
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    list() { git -C "$root" ls-files; }
  else
    list() { (cd "$root" && find . -type f ! -path './.git/*' | sed 's|^\./||'); }
  fi
  bad=0
  n=0
  for f in $(list); do
    case $f in
      tests/fuzz/corpus/* | build*/* | debian/*) continue ;;
      *.c | *.h | *.sh | *.py | *.cmake | *.in | *.inc | *.supp | *.sed | \
        CMakeLists.txt | */CMakeLists.txt | scripts/* | .ci/* | *.bash) ;;
      *) continue ;;
    esac
    [ -f "$root/$f" ] || continue
    n=$((n + 1))
    if ! head -n 3 "$root/$f" | grep -q 'SPDX-License-Identifier: MIT'; then
      echo "no SPDX-License-Identifier line: $f" >&2
      bad=$((bad + 1))
    fi
  done
  if [ "$n" -eq 0 ]; then
    echo "no source file found under $root" >&2
    return 1
  fi
  [ "$bad" -eq 0 ] || return 1
  echo "$n files carry the SPDX line"
}

if [ "${1:-}" = --self-test ]; then
  t=$(mktemp -d "${TMPDIR:-/tmp}/spdx.XXXXXX")
  trap 'rm -rf "$t"' EXIT
  printf '/* SPDX-License-Identifier: MIT */\nint x;\n' >"$t/good.c"
  check_tree "$t" >/dev/null || { echo "FAIL: a tagged tree was refused" >&2; exit 1; }
  printf 'int y;\n' >"$t/bad.h"
  if check_tree "$t" 2>/dev/null; then
    echo "FAIL: a header without the line passed" >&2
    exit 1
  fi
  echo "self-test passed"
  exit 0
fi
check_tree "${1:?usage: check_spdx.sh ROOT | --self-test}"
