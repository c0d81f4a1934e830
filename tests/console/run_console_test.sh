#!/bin/sh
# run_console_test.sh PYTHON SCRIPT ARGS...: runs the console's browser test
# with the project's virtual environment, or reports SKIPPED (exit 77) when
# scripts/install-deps.sh has not created it. The script itself skips when
# there is no chromium or chromedriver.
python=$1
shift
if [ ! -x "$python" ]; then
  echo "SKIPPED: no virtual environment at $python (run scripts/install-deps.sh)"
  exit 77
fi
exec "$python" "$@"
