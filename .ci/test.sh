#!/usr/bin/env bash
# The test command of the README: installs missing Debian packages, then
# builds and runs the whole test suite in three builds: Release, ASan+UBSan
# and TSan; then fuzzes briefly (.ci/fuzz.sh short: each libFuzzer target
# for about 30 s, in a clang build of its own).
# Usage: .ci/test.sh [release|asan|tsan|fuzz ...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
third_party/install-deps.sh

configs=("$@")
if ((${#configs[@]} == 0)); then configs=(release asan tsan fuzz); fi
jobs=$(nproc)

for cfg in "${configs[@]}"; do
  case "$cfg" in
    fuzz)
      bash .ci/fuzz.sh short
      continue ;;
    release) flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DGORT_SANITIZE=address;undefined") ;;
    tsan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_SANITIZE=thread) ;;
    *) echo "unknown build '$cfg' (release, asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
  echo "=== gort: $cfg build ==="
  cmake -S . -B "build/$cfg" -G Ninja -DGORT_BUILD_BENCH=OFF "${flags[@]}" >/dev/null
  cmake --build "build/$cfg" -j "$jobs"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  (cd "build/$cfg" && ctest -j "$jobs" --output-on-failure --timeout 600)
done
