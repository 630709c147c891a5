#!/usr/bin/env bash
# The test command of the README: installs missing Debian packages, then
#   format  checks that every C/C++ file is formatted as .clang-format says;
#   clang   builds everything with clang, -Wthread-safety and -Werror (the
#           lock annotations checked), and runs the suite on that build;
#   release, asan, tsan  build and run the whole suite in Release, ASan+UBSan
#           and TSan;
#   fuzz    fuzzes briefly (.ci/fuzz.sh short: each libFuzzer target for
#           about 30 s, in a clang build of its own).
# Usage: .ci/test.sh [format|clang|release|asan|tsan|fuzz ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
third_party/install-deps.sh

configs=("$@")
if ((${#configs[@]} == 0)); then configs=(format clang release asan tsan fuzz); fi
jobs=$(nproc)

for cfg in "${configs[@]}"; do
  case "$cfg" in
    fuzz)
      bash .ci/fuzz.sh short
      continue ;;
    format)
      echo "=== gort: format check ==="
      bash .ci/format.sh --check
      continue ;;
    clang)   flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
                    "-DCMAKE_CXX_FLAGS=-Wthread-safety -Werror") ;;
    release) flags=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DGORT_SANITIZE=address;undefined") ;;
    tsan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_SANITIZE=thread) ;;
    *) echo "unknown build '$cfg' (format, clang, release, asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
  echo "=== gort: $cfg build ==="
  cmake -S . -B "build/$cfg" -G Ninja -DGORT_BUILD_BENCH=OFF "${flags[@]}" >/dev/null
  cmake --build "build/$cfg" -j "$jobs"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  (cd "build/$cfg" && ctest -j "$jobs" --output-on-failure --timeout 600)
done
