#!/usr/bin/env bash
# Check one contrib codec package against its real upstream code or binaries.
#
#   scripts/check-upstream.sh PACKAGE PATH [LEVELS]
#
# PACKAGE  hm, vtm, bpg (PATH: the folder holding the encoder and decoder binaries), or
#          tcm, mlicpp, stablecodec, diffeic, rdeic (PATH: the checkout; for mlicpp its MLIC++
#          folder; the research Python and checkpoints come from CVB_<NAME>_PYTHON and
#          CVB_<NAME>_CHECKPOINTS, see each package's README), or illm (PATH: a Python with
#          neuralcompression installed; weights as pretrained=false unless CVB_UPSTREAM_PRETRAINED=1).
# LEVELS   comma-separated levels (default: the package's own defaults).
#
# It installs contrib/cvb-PACKAGE into a scratch site (no network), then runs
#   1. cvb list codecs            (the package's row: ok, or what is missing)
#   2. cvb check codec PACKAGE    (the conformance kit; the 4000x3000 rule only with
#                                  CVB_UPSTREAM_LARGE=1; with random weights the rate and
#                                  fidelity rules are skipped: noise neither rises nor resembles)
#   3. cvb compress               (bpp, PSNR, encode/decode time per image, on two sample photos)
#   4. cvb run                    (a small matrix: the reference VLM on the sample task, 2 samples)
# and keeps every output under $CVB_UPSTREAM_OUT (default: a new folder under /tmp), whose
# summary.txt holds the numbers an "Upstream check" section of the package's README records.
# Exit status: 0 all four passed, 1 one failed (see the logs), 2 bad usage.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
PACKAGE="$1"; TARGET="$2"; LEVELS="${3:-}"
CVB="${CVB:-$ROOT/.venv/bin/cvb}"
PY="$(dirname "$CVB")/python"
[ -d "$ROOT/contrib/cvb-$PACKAGE" ] || { echo "unknown package $PACKAGE: known: $(ls "$ROOT/contrib" | sed 's/^cvb-//' | tr '\n' ' ')" >&2; exit 2; }
[ -e "$TARGET" ] || { echo "$TARGET does not exist" >&2; exit 2; }
TARGET="$(cd "$(dirname "$TARGET")" && pwd)/$(basename "$TARGET")"
OUT="${CVB_UPSTREAM_OUT:-$(mktemp -d "/tmp/cvb-upstream-$PACKAGE-XXXX")}"
mkdir -p "$OUT/site"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
unset CVB_LOAD_PLUGINS

"$PY" -m pip install -q --no-deps --no-build-isolation --no-index --target "$OUT/site" \
  "$ROOT/contrib/cvb-$PACKAGE" > "$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 1; }
export PYTHONPATH="$OUT/site"

first() {  # ENV NAMES...: export ENV=PATH of the first NAME that is an executable in TARGET
  local env="$1"; shift
  for name in "$@"; do
    if [ -x "$TARGET/$name" ]; then export "$env=$TARGET/$name"; return; fi
  done
  echo "none of $* in $TARGET" >&2; exit 2
}
SKIP=(--skip large)
[ "${CVB_UPSTREAM_LARGE:-0}" = 1 ] && SKIP=()
OPTS=()  # KEY=VALUE options of the codec
case "$PACKAGE" in
  hm)  first CVB_HM_ENCODER TAppEncoder TAppEncoderStatic; first CVB_HM_DECODER TAppDecoder TAppDecoderStatic ;;
  vtm) first CVB_VTM_ENCODER EncoderApp EncoderAppStatic; first CVB_VTM_DECODER DecoderApp DecoderAppStatic ;;
  bpg) first CVB_BPGENC bpgenc; first CVB_BPGDEC bpgdec ;;
  illm)
    export PYTHONPATH="$OUT/site:$("$TARGET" -c 'import neuralcompression, os; print(os.path.dirname(os.path.dirname(neuralcompression.__file__)))')"
    if [ "${CVB_UPSTREAM_PRETRAINED:-0}" != 1 ]; then OPTS=(pretrained=false); SKIP+=(--skip rate --skip fidelity); fi ;;
  *)
    NAME="$(echo "$PACKAGE" | tr a-z A-Z)"
    export "CVB_${NAME}_REPO=$TARGET"
    # random weights (scripts/upstream_weights.py) say nothing about rate or fidelity
    [ "${CVB_UPSTREAM_PRETRAINED:-0}" = 1 ] || SKIP+=(--skip rate --skip fidelity) ;;
esac
[ -n "$LEVELS" ] && LEVEL_ARGS=(-l "$LEVELS") || LEVEL_ARGS=()
CHECK_OPTS=(); NAMED_OPTS=()  # `cvb check` takes -o KEY=VALUE, compress and run -o CODEC.KEY=VALUE
for o in "${OPTS[@]}"; do CHECK_OPTS+=(-o "$o"); NAMED_OPTS+=(-o "$PACKAGE.$o"); done
# the photos: CVB_UPSTREAM_IMAGES (comma-separated files) or two bundled sample photos
IFS=, read -r -a IMAGE_LIST <<< "${CVB_UPSTREAM_IMAGES:-$("$PY" -c 'from cvb.sample_images import sample_photo_paths as p; d = p(); print(d["chelsea"], d["coffee"], sep=",")')}"
IMAGES=(); for i in "${IMAGE_LIST[@]}"; do IMAGES+=(-i "$i"); done

status=0
step() {  # NAME COMMAND...: run, log, note the result
  local name="$1"; shift
  local start=$SECONDS
  "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - start)) s  ($*)" | tee -a "$OUT/summary.txt"
  [ $rc -eq 0 ] || status=1
  return $rc
}
{ echo "package: cvb-$PACKAGE   target: $TARGET"; date -u +"when: %Y-%m-%d %H:%M UTC"
  git -C "$TARGET" rev-parse HEAD 2>/dev/null | sed 's/^/upstream commit: /'; } | tee "$OUT/summary.txt"
step list "$CVB" list codecs --json
"$PY" - "$OUT/list.out" "$PACKAGE" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["codecs"]}
row = rows.get(sys.argv[2])
print(f"  status: {row['status'] if row else 'NOT REGISTERED'}")
EOF
step check "$CVB" check codec "$PACKAGE" "${LEVEL_ARGS[@]}" "${CHECK_OPTS[@]}" "${IMAGES[@]}" "${SKIP[@]}" --json
"$PY" - "$OUT/check.out" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit("  (no JSON report: see check.err)")
for r in report.get("results", []):
    print(f"  {r['status']:5} {r['rule']}: {r.get('detail') or ''}"[:220])
EOF
step compress "$CVB" compress -c "$PACKAGE" "${LEVEL_ARGS[@]}" "${NAMED_OPTS[@]}" "${IMAGES[@]}" --out "$OUT/rd" --json -q
"$PY" - "$OUT/rd" <<'EOF' | tee -a "$OUT/summary.txt"
import json, pathlib, sys
files = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
if not files:
    sys.exit("  (no results: see compress.err)")
for row in json.loads(files[0].read_text())["per_image"]:
    what = row["error"] or (f"{row['num_bytes']} bytes, {row['bpp']:.4f} bpp, PSNR {row['metrics'].get('psnr', float('nan')):.2f} dB, "
                            f"encode {row['encode_s']:.2f} s, decode {row['decode_s']:.2f} s")
    print(f"  level {row['level']:>3}  {pathlib.Path(row['image']).name} {row['width']}x{row['height']}: {what}")
EOF
step run "$CVB" run -c "$PACKAGE" "${LEVEL_ARGS[@]}" "${NAMED_OPTS[@]}" --vlm reference -t sample --limit 2 \
  --store "$OUT/run.sqlite" --cache-dir "$OUT/cache"
tail -5 "$OUT/run.out" | sed 's/^/  /' | tee -a "$OUT/summary.txt"
echo "logs: $OUT" | tee -a "$OUT/summary.txt"
exit $status
