#!/bin/sh
# run_conformance.sh PYTHON SCRIPT ARGS...: runs the OpenAPI conformance test
# with the project's virtual environment, or skips it (77) when
# scripts/install-deps.sh has not created that environment.
python=$1
shift
if [ ! -x "$python" ]; then
  echo "SKIP: no virtual environment at $python (run scripts/install-deps.sh)"
  exit 77
fi
if ! "$python" -c 'import openapi_core' 2>/dev/null; then
  echo "SKIP: openapi-core is not installed in $python's environment (run scripts/install-deps.sh)"
  exit 77
fi
exec "$python" "$@"
