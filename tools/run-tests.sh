#!/usr/bin/env bash
# Runs every test suite and fails if any fails; each runner prints its own summary line.
#   1. ctest (unit tests + fuzz corpus replays) on the release build
#   2. the libFuzzer targets for a short time each (clang-14 build)
#   3. pytest integration tests against the real binary
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
rc=0

echo "== ctest (unit + fuzz corpora) =="
ctest --test-dir build/release --output-on-failure -j "$JOBS" || rc=1

echo "== fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-20}s per target) =="
if make --no-print-directory fuzz >/tmp/otlake-fuzz-build.log 2>&1; then
  ctest --test-dir build/fuzz --output-on-failure -L fuzz-smoke || rc=1
else
  tail -50 /tmp/otlake-fuzz-build.log
  echo "fuzz build failed"
  rc=1
fi

echo "== pytest (integration) =="
.venv/bin/python -m pytest -q -rfE --durations=15 test/integration ${PYTEST_ARGS:-} || rc=1

exit $rc
