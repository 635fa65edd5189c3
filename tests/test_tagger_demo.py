"""The offline adapter demonstration's loop, end to end through the real command line.

Real weights (the imagenet-tagger's EfficientNet-Lite0), real photographs (Tux Paint's stamps,
fetched by scripts/setup.sh as a .deb into a cache: GPL-2 data that cvb never ships), held-out
images from stamp folders that training never sees. Fresh `cvb` processes: demo-data -> adapt
-> run -> report --adapted. What is asserted here is the loop and its control: the split is by
folder, the held-out task's answers are the base tagger's clean predictions (so it scores 100 on
clean images), and an adapter trained at learning rate 0 recovers exactly nothing and drifts
exactly nowhere, through training, saving, loading, answering and the report. Then the
recovery itself (marked slow: a real training run, minutes of CPU): the shortened recipe of
docs/adapter.md raises held-out top-1 agreement at JPEG quality 2 beyond the 95 % interval that
`cvb report --adapted` prints for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hang_guard import HANG_S

CVB = [sys.executable, "-m", "cvb"]
DEBS = Path(os.environ.get("CVB_DEMO_DEBS") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "cvb" / "demo-debs")
LEVEL = "2"
#: the shortened recovery recipe (docs/adapter.md): condition, stem and first four blocks, one level
RECIPE = ["--train", "first:4", "--lr", "1e-3", "--steps", "60", "--batch", "16"]


def _cvb(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVB_CACHE_DIR": str(cwd / "cache")}
    out = subprocess.run([*CVB, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=HANG_S * 2)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_tagger_adapter_loop_with_an_identity_control(tmp_path):
    debs = sorted(DEBS.glob("tuxpaint-stamps-default_*.deb"))
    assert debs, (f"no tuxpaint-stamps-default .deb in {DEBS}: scripts/setup.sh downloads it (apt-get download "
                  f"tuxpaint-stamps-default there, or set CVB_DEMO_DEBS)")
    root = tmp_path
    _cvb("demo-data", "--out", "data", "--debs", DEBS, "--package", "tuxpaint-stamps-default", "--max-eval", "20",
         "--max-train", "24", "--crops", "2", "--eval-size", "128", "--crop-size", "128", cwd=root)
    meta = json.loads((root / "data/manifest.json").read_text())
    assert set(meta["eval_folders"]).isdisjoint(meta["train_folders"])
    stamps = root / "data/train/stamps"
    assert not {str(p.parent.relative_to(stamps)) for p in stamps.rglob("*.png")} & set(meta["eval_folders"])
    assert meta["eval_images"] == 20 and meta["train_images"] == 24
    assert (root / "data/licenses/tuxpaint-stamps-default.copyright").is_file()

    manifest = json.loads(_cvb("adapt", "--vlm", "imagenet-tagger", "-c", "jpeg", "-l", LEVEL,
                               "-i", root / "data/train",
                               "--batch", "4", "--steps", "1", "--lr", "0", "--val-fraction", "0.1", "--workers", "0",
                               "--out", "control", "--json", "-q", cwd=root).stdout)["adapter"]
    assert manifest["base"]["family"] == "imagenet-tagger" and manifest["condition"]["added_to"] == "patch embedding"

    base, identity = "imagenet-tagger", f"adapted:{root / 'control'}"
    _cvb("run", "--vlm", base, "--vlm", identity, "-c", "jpeg", "-l", LEVEL, "-t", "folder:data/eval",
         "-o", "folder.questions=data/eval/questions.jsonl", "-m", "none", "--store", "r.sqlite", "-q", cwd=root)
    out = json.loads(_cvb("report", "--store", "r.sqlite", "--adapted", f"{base}={identity}", "--json",
                          cwd=root).stdout)
    (section,) = [s for s in out["sections"] if s["vlm"] == base]
    (gap,) = section["gap"]
    assert (gap["codec"], gap["level"], gap["reason"]) == ("jpeg", LEVEL, None)
    assert gap["clean"] == 100.0  # the answers are the base tagger's own clean predictions
    assert gap["compressed"] < 100.0  # quality 2 changes some top-1 classes
    assert gap["generalization"] == 0 and gap["adapted"] == gap["compressed"]
    assert gap["condition"] == f"jpeg/{LEVEL}"
    drift = section["clean_drift"]
    assert (drift["base"], drift["adapted"], drift["drift"]) == (100.0, 100.0, 0.0)


@pytest.mark.slow
@pytest.mark.first
def test_tagger_adapter_recovers_held_out_agreement_beyond_its_interval(tmp_path):
    """docs/adapter.md's quick recipe end to end: all 285 held-out stamps (the interval needs
    them), the 218 training images, 60 steps of 16 on JPEG quality 2."""
    debs = sorted(DEBS.glob("tuxpaint-stamps-default_*.deb"))
    assert debs, f"no tuxpaint-stamps-default .deb in {DEBS}: scripts/setup.sh downloads it"
    root = tmp_path
    _cvb("demo-data", "--out", "data", "--debs", DEBS, "--package", "tuxpaint-stamps-default", cwd=root)
    meta = json.loads((root / "data/manifest.json").read_text())
    assert meta["eval_images"] > 200 and meta["train_images"] > 150  # 285 and 218 with the 2022.06.04 stamps

    trained = json.loads(_cvb("adapt", "--vlm", "imagenet-tagger", "-c", "jpeg", "-l", LEVEL, "-i", root / "data/train",
                              *RECIPE, "--val-fraction", "0.05", "--workers", "0", "--out", "trained", "--json", "-q",
                              cwd=root).stdout)["adapter"]
    assert trained["train"]["what"] == "first:4"
    assert trained["losses"]["val_after"][f"jpeg/{LEVEL}"] < trained["losses"]["val_before"][f"jpeg/{LEVEL}"]

    base, adapted = "imagenet-tagger", f"adapted:{root / 'trained'}"
    _cvb("run", "--vlm", base, "--vlm", adapted, "-c", "jpeg", "-l", LEVEL, "-t", "folder:data/eval",
         "-o", "folder.questions=data/eval/questions.jsonl", "-m", "none", "--store", "r.sqlite", "-q", cwd=root)
    out = json.loads(_cvb("report", "--store", "r.sqlite", "--adapted", f"{base}={adapted}", "--json",
                          cwd=root).stdout)
    (section,) = [s for s in out["sections"] if s["vlm"] == base]
    (gap,) = section["gap"]
    assert gap["reason"] is None and gap["clean"] == 100.0 and gap["compressed"] < 100.0
    assert gap["adapted"] > gap["compressed"]  # held-out agreement at quality 2 rises...
    low, high = gap["generalization_ci"]  # ...beyond the interval the report prints for the rise
    assert 0 < low <= gap["generalization"] <= high, gap
    assert gap["condition"] == f"jpeg/{LEVEL}"
    assert section["clean_drift"]["drift_ci"] is not None  # reported with its interval, whatever it is
