#!/usr/bin/env bash
# README command 1: installs missing Debian packages, builds gort (Release)
# and runs the main job. Until the race demonstration lands, the main job is
# the benchmark suites (gort beside its OS-thread baselines).
set -euo pipefail
cd "$(dirname "$0")/.."
third_party/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGORT_BUILD_BENCH=ON >/dev/null
cmake --build build/release -j "$(nproc)"
for b in runtime_bench chan_bench sync_bench; do
  echo "=== $b ==="
  build/release/bench/$b "$@"
done
