#!/bin/sh
# Fails when a C file under src/ or tests/ is not formatted as the repo's
# .clang-format says (`make fmt` fixes it). Run by `make test`.
# Every .c/.h file is checked, tracked or not, so a new file counts too;
# node_modules and build trees hold no C sources of ours.
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null 2>&1 || { echo "check_format: clang-format is not installed (scripts/deps.sh)" >&2; exit 1; }
files=$(find src tests -path '*/node_modules' -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print | sort)
[ -n "$files" ] || { echo "check_format: no C files found" >&2; exit 1; }
# shellcheck disable=SC2086
if ! clang-format --style=file --dry-run -Werror $files; then
  echo "check_format: the files above are not clang-format clean; run 'make fmt'" >&2
  exit 1
fi
echo "check_format: $(echo "$files" | wc -l) C files are clang-format clean"
