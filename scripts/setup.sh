#!/usr/bin/env bash
# Set up everything cvb needs on a fresh Debian/Ubuntu machine: Debian packages (when root),
# a virtual environment in .venv with the pinned CPU torch, and cvb itself (editable).
# Idempotent: a second run only checks. Usage: scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
APT_PACKAGES=(ffmpeg)  # ffmpeg's libx265 backs the built-in `x265` codec
# Debian's own python3 cannot create a venv (no ensurepip) until python3-venv is installed
[ -x .venv/bin/python ] || "$PY" -c "import ensurepip" >/dev/null 2>&1 || APT_PACKAGES+=(python3-venv)
# Java runs pycocoevalcap's PTB tokenizer and METEOR (COCO captions under protocol=lmms-eval)
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(default-jre-headless)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install Debian packages: sudo apt-get install ${missing[*]} (codecs needing them will be listed as unusable)" >&2
  fi
fi

# a venv left half-made (no pip, e.g. by a run before python3-venv was there) is made again
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  "$PY" -m venv --clear .venv
fi
stamp=.venv/.cvb-setup-stamp
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv (CPU torch, about a minute)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, by exact pin, so nothing can pull the CUDA build.
  .venv/bin/python -m pip install -q -c constraints.txt torch
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[test,ray,lmms-eval,lint]"
  # lmms-eval's task code is the tests' oracle for protocol=lmms-eval and what the
  # `lmms-eval:NAME` bridge runs; its own dependencies (CUDA torch builds, video tools, ...) are
  # not needed for that, only the lmms-eval extra's light ones
  .venv/bin/python -m pip install -q --no-deps "lmms-eval==0.7.3"
  echo "$want" > "$stamp"
fi

# The tagger adapter demonstration's test (tests/test_tagger_demo.py) evaluates on Tux Paint's
# photographic stamps, a Debian package under GPL-2: cvb never ships them, so its .deb is fetched
# once into a cache (nothing is installed; `cvb demo-data` unpacks it). CVB_DEMO_DEBS moves it.
demo_debs=${CVB_DEMO_DEBS:-${XDG_CACHE_HOME:-$HOME/.cache}/cvb/demo-debs}
if ! ls "$demo_debs"/tuxpaint-stamps-default_*.deb >/dev/null 2>&1; then
  mkdir -p "$demo_debs"
  if ! (cd "$demo_debs" && apt-get download -qq tuxpaint-stamps-default >/dev/null 2>&1); then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq || true; fi
    (cd "$demo_debs" && apt-get download -qq tuxpaint-stamps-default >/dev/null 2>&1) \
      || echo "setup: could not download tuxpaint-stamps-default into $demo_debs (tests/test_tagger_demo.py needs it)" >&2
  fi
fi
