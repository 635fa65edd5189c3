"""scripts/check-upstream.sh end to end, on stand-in bpgenc/bpgdec (CI has no libbpg): one
command installs the package into a scratch site and runs `cvb list codecs`, `cvb check codec`,
`cvb compress` and a two-sample `cvb run`, and writes the summary a README's "Upstream check"
records. The real binaries and checkouts ran through the same script (each contrib README)."""

from __future__ import annotations

import os
import subprocess

from PIL import Image

from conftest import ROOT, VENV_BIN
from cvb.sample_images import sample_photo_paths
from test_contrib_codecs import FAKE_BPGDEC, FAKE_BPGENC
from video_stand_ins import executable
from hang_guard import HANG_S

SCRIPT = ROOT / "scripts" / "check-upstream.sh"


def run(*args, env=None, timeout=HANG_S):
    full = dict(os.environ, CVB=str(VENV_BIN / "cvb"), OMP_NUM_THREADS="1", **(env or {}))
    for key in ("CVB_LOAD_PLUGINS", "CVB_BPGENC", "CVB_BPGDEC", "PYTHONPATH"):
        full.pop(key, None)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=full, timeout=timeout)


def test_check_upstream_runs_the_four_steps_and_records_the_numbers(tmp_path):
    """~30 s on 2 cores: four cvb processes (the point of the script) on a 160x96 photo."""
    binaries = tmp_path / "libbpg"
    binaries.mkdir()
    executable(binaries / "bpgenc", FAKE_BPGENC)
    executable(binaries / "bpgdec", FAKE_BPGDEC)
    photo = tmp_path / "crop.png"
    Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((100, 60, 260, 156)).save(photo)
    out = tmp_path / "out"
    res = run("bpg", str(binaries), "47,40", env={"CVB_UPSTREAM_OUT": str(out), "CVB_UPSTREAM_IMAGES": str(photo)})
    assert res.returncode == 0, res.stdout + res.stderr
    summary = (out / "summary.txt").read_text()
    for step in ("list", "check", "compress", "run"):
        assert f"{step}: exit 0" in summary, summary
    assert "status: ok" in summary and "pass  size 1x1" in summary  # the stand-in crashes there unpadded
    rows = [line for line in summary.splitlines() if line.strip().startswith("level")]
    assert len(rows) == 2 and all("crop.png 160x96:" in r and " bytes, " in r for r in rows)
    assert (out / "run.sqlite").is_file() and (out / "site" / "cvb_bpg" / "codec.py").is_file()


def test_check_upstream_says_what_it_takes():
    res = run("jpegxr", str(ROOT))
    assert res.returncode == 2 and "unknown package jpegxr: known:" in res.stderr and "hm" in res.stderr
    res = run("hm")
    assert res.returncode == 2 and "PACKAGE" in res.stdout
    res = run("hm", str(ROOT))  # a folder without HM's binaries
    assert res.returncode == 2 and "none of TAppEncoder TAppEncoderStatic in" in res.stderr
