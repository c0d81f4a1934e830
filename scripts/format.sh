#!/usr/bin/env bash
# Lays out the project's own C, C++ and Objective-C sources with clang-format
# and the checked-in .clang-format (Google style, 100 columns).
#
#   scripts/format.sh            rewrite every file that is not laid out (clang-format -i)
#   scripts/format.sh --check    change nothing; exit 1 and name the files that are not
#                                (clang-format --dry-run -Werror; scripts/format-check.sh)
#   scripts/format.sh --list     print the files it covers
#
# The files: what git tracks with a .c/.cc/.cpp/.h/.hpp/.m/.mm name, minus fuzz
# corpora (inputs, not code) and third-party code (third_party/, vendor/,
# external/ directories, if any ever appear). CLANG_FORMAT picks the binary
# (default: clang-format, else clang-format-14).
# Exit status: 0 done / laid out, 1 files not laid out (--check), 77 no clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=apply
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --list) MODE=list ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "format.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

# NUL-separated, so that no file name can split.
list_files() {
  git ls-files -z -- '*.c' '*.cc' '*.cpp' '*.h' '*.hpp' '*.m' '*.mm' \
    ':(exclude)tests/fuzz/corpus/**' ':(exclude)**/third_party/**' \
    ':(exclude)**/vendor/**' ':(exclude)**/external/**' |
    while IFS= read -r -d '' f; do [[ -f "$f" ]] && printf '%s\0' "$f"; done
}

if [[ $MODE == list ]]; then
  list_files | tr '\0' '\n'
  exit 0
fi

CF=${CLANG_FORMAT:-}
if [[ -z "$CF" ]]; then
  for c in clang-format clang-format-14; do
    if command -v "$c" >/dev/null 2>&1; then CF=$(command -v "$c"); break; fi
  done
fi
if [[ -z "$CF" ]]; then
  echo "format.sh: clang-format not found (scripts/install-deps.sh installs it)" >&2
  exit 77
fi

if [[ $MODE == apply ]]; then
  list_files | xargs -0 -r -n 50 "$CF" -i --style=file
  echo "format.sh: done ($("$CF" --version | head -1)); review with git diff"
  exit 0
fi

# --check: clang-format reports each misplaced line as
# "FILE:LINE:COL: error: code should be clang-formatted"; keep the files.
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
total=$(list_files | tr -cd '\0' | wc -c)
list_files | xargs -0 -r -n 50 "$CF" --dry-run -Werror --style=file >"$LOG" 2>&1 || true
mapfile -t bad < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$LOG" | sort -u)
if ((${#bad[@]} == 0)); then
  if grep -q 'error' "$LOG"; then  # clang-format itself failed (bad .clang-format, unreadable file)
    cat "$LOG" >&2
    exit 1
  fi
  echo "format-check: all $total sources are laid out as .clang-format says"
  exit 0
fi
echo "format-check: ${#bad[@]} of $total files are not laid out as .clang-format says:"
printf '  %s\n' "${bad[@]}"
echo "fix: scripts/format.sh   (rewrites them with clang-format -i; then review git diff)"
exit 1
