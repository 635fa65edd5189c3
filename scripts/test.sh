#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint (scripts/lint.sh) and run the whole test suite. Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/lint.sh
# two pytest workers on two cores: one torch/BLAS thread each, or they oversubscribe badly
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
# the suite starts hundreds of fresh Python processes (cvb commands, workers, benchmarks): with
# bytecode written once (__pycache__, git-ignored) each loads cvb's modules instead of compiling
# them again, 0.15 s instead of 0.30 s of CPU per start (docs/scale.md, "The test suite")
unset PYTHONDONTWRITEBYTECODE
exec .venv/bin/python -m pytest -n 2 "$@"
