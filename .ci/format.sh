#!/usr/bin/env bash
# Formats every C/C++ source of the project with clang-format (.clang-format).
#   .ci/format.sh           rewrite the files in place
#   .ci/format.sh --check   change nothing; fail and name the files that differ
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find runtime syscall os c embed tests bench fuzz \( -name '*.h' -o -name '*.cc' -o -name '*.c' \) -type f | sort)
if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
  done
  if ((${#bad[@]} > 0)); then
    echo "gort: not formatted as .clang-format says (run bash .ci/format.sh):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "gort: ${#files[@]} files formatted"
else
  clang-format -i "${files[@]}"
fi
