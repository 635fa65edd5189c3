#!/usr/bin/env bash
# The linters, as CI runs them (scripts/test.sh runs this before pytest; any finding fails it):
# ruff over the whole repository, configured in pyproject.toml's [tool.ruff].
# Usage: scripts/lint.sh (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check --quiet .
