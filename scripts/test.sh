#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint (scripts/lint.sh) and run the whole test suite. Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/lint.sh
# two pytest workers on two cores: one torch/BLAS thread each, or they oversubscribe badly
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -n 2 "$@"
