# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2034 # the variables are used by the scripts that source this
# Sourced by scripts/demo, scripts/check, scripts/deb and .ci/run: the
# Debian packages the build uses, and a function that installs the ones
# that are missing.

# Needed to build the library, the cfutures program and the tests.
CF_PACKAGES_BUILD="build-essential cmake pkg-config check"
# Optional: each enables one part and is skipped when absent -- the libuv
# and libevent bridge adapters (and their tests and examples), the MPI pool
# (Open MPI; its tests run under mpirun), the API reference, the
# cfutures program tests' checks of JSON and SVG output, the manual
# pages' lint (mandoc; man-db's check too where it is installed), and the
# zsh completion's (the bash completion needs bash alone).
CF_PACKAGES_OPTIONAL="libuv1-dev libevent-dev openmpi-bin libopenmpi-dev
  doxygen python3 libxml2-utils mandoc zsh"
# Optional, for the benchmarks' peers only.
CF_PACKAGES_BENCH="libglib2.0-dev parallel python3-mpi4py libtbb-dev"
# Optional, for reliability: clang and its libFuzzer runtime
# (tests/fuzz/run.sh), gdb (the test watchdog's stack dumps; without it
# they come from /proc) and valgrind (the process pool under memcheck:
# ctest -L valgrind).
CF_PACKAGES_RELIABILITY="clang libclang-rt-14-dev libfuzzer-14-dev gdb valgrind"

# For the Debian packages (scripts/deb): the packaging tools, and the MPI
# development files the way Debian packages build against them.
CF_PACKAGES_PACKAGING="debhelper dpkg-dev lintian mpi-default-dev mpi-default-bin"

# install_missing PKG...: apt-get installs those not installed yet, as root
# or through sudo. Does nothing when all are there; on a system without
# apt-get it says what to install and goes on.
install_missing() {
  missing=
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null |
        grep -qx installed; then
      missing="$missing $pkg"
    fi
  done
  [ -n "$missing" ] || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Please install:$missing (no apt-get here; going on without them)" >&2
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    sudo=
  elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
  else
    echo "Missing:$missing -- run as root or install sudo" >&2
    return 1
  fi
  echo "Installing:$missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $missing
}

# Parallel build jobs: one per CPU unless JOBS says otherwise.
CF_JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
