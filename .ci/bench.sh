#!/usr/bin/env bash
# Builds gort (Release) and runs every benchmark suite, gort beside its
# OS-thread and raw-syscall baselines in the same binary.
set -euo pipefail
cd "$(dirname "$0")/.."
third_party/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGORT_BUILD_BENCH=ON >/dev/null
cmake --build build/release -j "$(nproc)"
for b in runtime_bench chan_bench sync_bench poll_bench process_bench exec_bench; do
  echo "=== $b ==="
  build/release/bench/$b "$@"
done
