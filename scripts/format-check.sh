#!/usr/bin/env bash
# Checks, without changing anything, that the project's own C, C++ and
# Objective-C sources are laid out as the checked-in .clang-format says
# (clang-format --dry-run -Werror over the files `scripts/format.sh --list`
# prints: tracked sources minus fuzz corpora and third-party code).
# scripts/test.sh runs it. On failure it names the files; the fix is
# scripts/format.sh. Exit status: 0 laid out, 1 not, 77 no clang-format.
exec bash "$(dirname "$0")/format.sh" --check
