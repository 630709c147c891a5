#!/usr/bin/env bash
# The fuzz command (docs/fuzzing.md): installs clang and libFuzzer if they are
# missing (Debian packages, for this command only), builds the two libFuzzer
# targets in build/fuzz (clang, ASan+UBSan, coverage on the runtime and the
# process layer), then fuzzes each in turn.
#   .ci/fuzz.sh [short] [SECONDS]   SECONDS (default 30) per target: what CI runs
#   .ci/fuzz.sh long [SECONDS]      SECONDS (default 600) per target
# Inputs found interesting accumulate in build/fuzz/corpus/TARGET (the seeds
# in fuzz/corpus/TARGET are read, never written). Exits non-zero if a target
# crashed, failed a check, leaked or hung, and prints the input that did it.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
case "$mode" in
  short) seconds=${2:-30} ;;
  long)  seconds=${2:-600} ;;
  *) echo "usage: .ci/fuzz.sh [short|long] [SECONDS]" >&2; exit 2 ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "fuzz.sh: SECONDS must be a positive number, got '$seconds'" >&2
  exit 2
fi

third_party/install-deps.sh
# clang itself, and libclang-rt-dev for libFuzzer (libclang_rt.fuzzer).
missing=()
for p in clang libclang-rt-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "gort: installing missing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

targets=(fuzz_procattr fuzz_chan)
jobs=$(nproc)
echo "=== gort: fuzz build ==="
cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DGORT_SANITIZE=address;undefined" \
  -DGORT_BUILD_FUZZ=ON -DGORT_BUILD_TESTS=OFF -DGORT_BUILD_BENCH=OFF >/dev/null
# Only the targets (and what they link): not the os layer, demo or tests.
cmake --build build/fuzz -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for t in "${targets[@]}"; do
  echo "=== gort: $mode fuzzing: $t, ${seconds}s ==="
  corpus=build/fuzz/corpus/$t
  artifacts=build/fuzz/artifacts/$t
  log=build/fuzz/$t.log
  mkdir -p "$corpus" "$artifacts"
  rc=0
  build/fuzz/fuzz/$t -max_total_time="$seconds" -timeout=60 -max_len=1024 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  if ((rc == 0)); then
    # The last status line (runs, coverage, exec/s) and the final stats.
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    continue
  fi
  failed=1
  echo "--- $t FAILED (exit $rc); the end of $log: ---"
  tail -n 60 "$log"
  input=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -n 1)
  if [[ -n "$input" ]]; then
    echo "--- the input is $input"
    echo "    reproduce: build/fuzz/fuzz/$t $input"
    echo "    minimize:  build/fuzz/fuzz/$t -minimize_crash=1 -runs=10000 $input"
    echo "    then make it a regression test: docs/fuzzing.md"
  fi
done
exit "$failed"
