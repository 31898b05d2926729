#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the build tree into a temporary prefix, then builds the consumer
# program against it with pkg-config, with find_package (shared and static)
# and runs each.
# Usage: test_install.sh BUILD_DIR CONSUMER_SRC CMAKE CC VERSION
set -eu
build=$1 src=$2 cmake=$3 cc=$4 version=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfutures-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; exit 1; }

pc=$(find "$prefix" -name cfutures.pc)
[ -n "$pc" ] || { echo "cfutures.pc not installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
test -f "$prefix/include/cfutures.h"
test -f "$libdir/libcfutures.a"
# The SONAME carries the major version, or "0.minor" before 1.0.
major=${version%%.*} minor=${version#*.}
minor=${minor%%.*}
abi=$major
[ "$major" = 0 ] && abi=0.$minor
soname=$(readelf -d "$libdir/libcfutures.so" | sed -n 's/.*SONAME.*\[\(.*\)\].*/\1/p')
[ "$soname" = "libcfutures.so.$abi" ] ||
  { echo "unexpected SONAME '$soname' (want libcfutures.so.$abi)"; exit 1; }
test -f "$libdir/$soname"
test -f "$libdir/cmake/cfutures/cfuturesConfig.cmake"
if [ -f "$build/executor/cfutures" ]; then
  test -x "$prefix/bin/cfutures"
  [ "$("$prefix/bin/cfutures" --version)" = "cfutures $version" ]
  test ! -e "$prefix/bin/executor"
  for page in cfutures cfutures-run cfutures-bench; do
    test -f "$prefix/share/man/man1/$page.1"
  done
  # Shell completion, under the prefix.
  [ -n "$(find "$prefix" -path '*/bash-completion/completions/cfutures')" ]
  test -f "$prefix/share/zsh/vendor-completions/_cfutures"
fi
test -f "$prefix/share/man/man3/cfutures.3"

echo "== pkg-config"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
[ "$(pkg-config --modversion cfutures)" = "$version" ]
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_pc" "$src/consumer.c" \
  $(pkg-config --cflags --libs cfutures)
LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc"
if pkg-config --exists cfutures-uv; then
  # shellcheck disable=SC2046
  "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_uv_pc" \
    "$src/consumer_uv.c" $(pkg-config --cflags --libs cfutures-uv)
  LD_LIBRARY_PATH=$libdir "$tmp/consumer_uv_pc"
fi
if pkg-config --exists cfutures-event; then
  # shellcheck disable=SC2046
  "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_event_pc" \
    "$src/consumer_event.c" $(pkg-config --cflags --libs cfutures-event)
  LD_LIBRARY_PATH=$libdir "$tmp/consumer_event_pc"
fi
# The MPI pool: built against the .pc, run on two ranks.
mpirun="mpirun --allow-run-as-root --oversubscribe --timeout 60 -n 2"
if pkg-config --exists cfutures-mpi && command -v mpirun >/dev/null; then
  # shellcheck disable=SC2046
  "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_mpi_pc" \
    "$src/consumer_mpi.c" $(pkg-config --cflags --libs cfutures-mpi)
  LD_LIBRARY_PATH=$libdir $mpirun -x LD_LIBRARY_PATH "$tmp/consumer_mpi_pc"
fi

for kind in shared static; do
  echo "== find_package, $kind"
  static=OFF
  [ "$kind" = static ] && static=ON
  "$cmake" -S "$src" -B "$tmp/build-$kind" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCONSUMER_STATIC=$static \
    >"$tmp/cmake-$kind.log" || { cat "$tmp/cmake-$kind.log"; exit 1; }
  "$cmake" --build "$tmp/build-$kind" >"$tmp/build-$kind.log" ||
    { cat "$tmp/build-$kind.log"; exit 1; }
  "$tmp/build-$kind/consumer"
  if [ -f "$libdir/libcfutures_uv.so" ] && [ "$kind" = shared ]; then
    "$tmp/build-$kind/consumer_uv"
  fi
  if [ -f "$libdir/libcfutures_event.so" ] && [ "$kind" = shared ]; then
    "$tmp/build-$kind/consumer_event"
  fi
  if [ -x "$tmp/build-$kind/consumer_mpi" ]; then
    $mpirun "$tmp/build-$kind/consumer_mpi"
  fi
done
echo "install test passed"
