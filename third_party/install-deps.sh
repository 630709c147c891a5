#!/usr/bin/env bash
# Installs the Debian packages gort builds with, and nothing when they are all
# present. Idempotent: safe to run before every build.
#   third_party/install-deps.sh          build, test and benchmark dependencies
#   third_party/install-deps.sh --go     also golang-go (for the Go peer benchmarks)
#   third_party/install-deps.sh --bench  also everything .ci/bench.sh needs: the
#                                        peers (golang-go, libboost-fiber-dev,
#                                        libuv1-dev) and the plots
#                                        (python3-matplotlib); not the tests
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libboost-context-dev   # Boost.Context: the fiber switch (fcontext)
  libabsl-dev            # Abseil: Status/StatusOr, Duration/Time, StrFormat, flat_hash_map
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  clang                  # the thread-safety build (-Wthread-safety -Werror)
  clang-format           # the format check (.clang-format)
  python3                # the bench harness's test (tests/bench), stdlib only
  liblua5.4-dev          # gort-lua (embed/lua): Lua 5.4 headers and library
)
case "${1:-}" in
  --go) packages+=(golang-go) ;;
  --bench) packages+=(golang-go libboost-fiber-dev libuv1-dev python3-matplotlib) ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "gort: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
