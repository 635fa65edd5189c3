#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job on the offline default:
# the bundled `sample` task, the offline reference models, several codecs, then the report.
# Results: cvb-out/results.sqlite, cvb-out/report/ (report.html, plots, tables).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p cvb-out
.venv/bin/cvb run --codec jpeg,webp,avif,heif --vlm reference --task sample \
  --store cvb-out/results.sqlite "$@" || status=$?
.venv/bin/cvb report --store cvb-out/results.sqlite --anchor jpeg --out cvb-out/report
echo "report: $(pwd)/cvb-out/report/report.html"
exit "${status:-0}"
