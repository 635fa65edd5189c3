#!/usr/bin/env bash
# The linters, as CI runs them (scripts/test.sh runs this before pytest; any finding fails it):
# ruff over the whole repository ([tool.ruff] in pyproject.toml), then mypy over the core and the
# built-in plugins ([tool.mypy]: which files, how strict where). Seconds each; mypy's cache
# (.mypy_cache) makes a second run faster still.
# Usage: scripts/lint.sh (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check --quiet .
.venv/bin/mypy
