#!/usr/bin/env bash
# The benchmark command of the README: builds gort in Release with its
# benchmark suites and peers (Go 1.19, Boost.Fiber, libuv; their Debian
# packages are installed when missing), runs gort and the peers interleaved
# and writes one folder with the raw results, results.json, report.md and
# the plots (bench/harness/).
#
#   bash .ci/bench.sh [--quick] [--reps N] [--areas a,b,...] [--out DIR] [--build DIR]
#                     [--max-load L [--wait S]]
#   bash .ci/bench.sh --suites [Google Benchmark flags]   just gort's suites, as before
#
# Areas: runtime, chan, sync, process, exec, memory, threads (default: all).
# --quick: short runs, 3 repetitions, smaller sizes (under 3 minutes).
# --max-load L: first wait (up to S seconds, default 600) for the 1-minute
# load average to fall below L; the report names the load either way.
# --build DIR: reuse an existing build; one that is not Release or is built
# with sanitizers is refused. Compare two runs with
#   python3 bench/harness/compare.py OLD/results.json NEW/results.json
# GORT_BENCH_JOBS sets the build's parallelism (default: the CPU count).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/bench
suites=0
args=()
while (($#)); do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --suites) suites=1; shift; break ;;
    *) args+=("$1"); shift ;;
  esac
done

third_party/install-deps.sh --bench
jobs="${GORT_BENCH_JOBS:-$(nproc)}"
if [[ ! -f "$build/CMakeCache.txt" || "$build" == build/bench ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGORT_BUILD_BENCH=ON \
    -DGORT_BUILD_TESTS=OFF -DGORT_BUILD_PEERS=ON >/dev/null
fi
echo "bench: building $build (-j$jobs)" >&2
cmake --build "$build" -j "$jobs"

if ((suites)); then
  for b in runtime_bench chan_bench sync_bench poll_bench process_bench exec_bench scale_bench; do
    echo "=== $b ==="
    "$build/bench/$b" "$@"
  done
  exit 0
fi

# The Go peers: a test binary and the scale program, built once per run.
mkdir -p "$build/bench/peers/go"
gobin=$(cd "$build/bench/peers/go" && pwd)
(cd bench/peers/go &&
  GOCACHE="${GOCACHE:-$gobin/cache}" GOFLAGS=-mod=mod go test -c -o "$gobin/peers.test" . &&
  GOCACHE="${GOCACHE:-$gobin/cache}" GOFLAGS=-mod=mod go build -o "$gobin/scale" ./scale)

# Debian's python3, where python3-matplotlib lives (a pyenv shim may come first in PATH).
py=python3
if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3; fi
exec "$py" bench/harness/run.py --build "$build" "${args[@]}"
