#!/usr/bin/env bash
# The Lua VM's overhead, measured: each gort-lua benchmark (lua_bench.lua)
# beside the same operation in C++ gort (the Google Benchmarks of bench/),
# in one run, as ns/op and their ratio.
#   embed/lua/bench/compare.sh [BUILD_DIR]     (default: build/release)
# Needs a build with GORT_BUILD_BENCH=ON and gort-lua. Procs as the C++
# benchmarks use: 1 for goroutines and channels, 2 for processes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
lua="$build/embed/lua/gort-lua"

# cpp BINARY NAME: the real time of the benchmark NAME in ns/op, from the
# console table (process_bench prints through its own runner; all print it).
cpp() {
  "$build/bench/$1" --benchmark_filter="^${2%/real_time}(/real_time)?\$" --benchmark_color=false 2>/dev/null |
    sed 's/\x1b\[[0-9;]*m//g' | awk -v name="$2" '$1 == name && $3 == "ns" { print $2; exit }'
}
# luab PROCS WHICH NAME: the ns/op lua_bench.lua printed for NAME.
luab() {
  GORT_MAXPROCS=$1 "$lua" "$here/lua_bench.lua" full "$2" | awk -v name="$3" '$1 == name { print $2 }'
}

row() {  # label, lua ns, c++ ns
  awk -v l="$1" -v a="$2" -v b="$3" \
    'BEGIN { printf "%-28s %12.1f %12.1f %8.2fx\n", l, a, b, (b > 0 ? a / b : 0) }'
}

printf "%-28s %12s %12s %9s\n" "operation" "Lua ns/op" "C++ ns/op" "Lua/C++"
row "goroutine spawn (1 P)" "$(luab 1 goroutines BM_Lua_CreateGoroutines)" \
  "$(cpp runtime_bench BM_CreateGoroutines/1/real_time)"
row "channel round trip (1 P)" "$(luab 1 chan BM_Lua_ChanSync)" \
  "$(cpp chan_bench BM_ChanSync/real_time)"
row "spawn+wait /bin/true (2 P)" "$(luab 2 process BM_Lua_StartProcessWait)" \
  "$(cpp process_bench BM_StartProcessWait/1/1/real_time)"
