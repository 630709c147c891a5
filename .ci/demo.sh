#!/usr/bin/env bash
# README command 1: installs missing Debian packages, builds gort (Release)
# and runs the main job: the fork-exec/wait race demonstration (the pre-fix
# algorithm, then Go's fix, under the same load). Arguments go to the demo:
#   bash .ci/demo.sh -n 2000 -procs 4 -mode both --json
set -euo pipefail
cd "$(dirname "$0")/.."
third_party/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target forkwait_race
exec build/release/os/forkwait_race "$@"
