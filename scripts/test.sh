#!/usr/bin/env bash
# Set up .venv (idempotent) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
# Tests that need the full benchmark files read them from AUGMATH_DATA_DIR and fail when it is missing.
if [[ -z "${AUGMATH_DATA_DIR:-}" && -d "$ROOT/../shared/data" ]]; then
  export AUGMATH_DATA_DIR="$(cd "$ROOT/../shared/data" && pwd)"
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Two workers (pytest-xdist), one test file per worker at a time (module fixtures stay in one process): the
# suite is mostly subprocesses and single-threaded start-up, so 2 workers on 2 cores took 10 min 12 s where one
# took 17 min 50 s. AUGMATH_TEST_WORKERS=0 runs it in this process.
exec "$ROOT/.venv/bin/python" -m pytest -n "${AUGMATH_TEST_WORKERS:-2}" --dist loadfile "$@"
