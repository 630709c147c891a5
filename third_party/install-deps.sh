#!/usr/bin/env bash
# Installs the Debian packages gort builds with, and nothing when they are all
# present. Idempotent: safe to run before every build.
#   third_party/install-deps.sh          build, test and benchmark dependencies
#   third_party/install-deps.sh --go     also golang-go (for the peer benchmarks)
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libboost-context-dev   # Boost.Context: the fiber switch (fcontext)
  libabsl-dev            # Abseil: Status/StatusOr, Duration/Time, StrFormat, flat_hash_map
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  clang                  # the thread-safety build (-Wthread-safety -Werror)
  clang-format           # the format check (.clang-format)
  liblua5.4-dev          # gort-lua (embed/lua): Lua 5.4 headers and library
)
if [[ "${1:-}" == "--go" ]]; then packages+=(golang-go); fi

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
