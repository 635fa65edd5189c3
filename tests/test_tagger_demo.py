"""The offline adapter demonstration, shortened, end to end through the real command line.

Real weights (the imagenet-tagger's EfficientNet-Lite0), real photographs (Tux Paint's stamps,
fetched by scripts/setup.sh as a .deb into a cache: GPL-2 data that cvb never ships), held-out
images from stamp folders that training never sees. Fresh `cvb` processes: demo-data ->
adapt -> run -> report --adapted. The claim: at JPEG quality 2 the adapted tagger's top-1
agreement with the base tagger's clean prediction rises, the paired bootstrap interval of the
generalization gap lying above zero. The control: an adapter trained with learning rate 0
recovers exactly nothing and drifts exactly nowhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CVB = [sys.executable, "-m", "cvb"]
DEBS = Path(os.environ.get("CVB_DEMO_DEBS") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "cvb" / "demo-debs")
LEVEL = "2"


def _cvb(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVB_CACHE_DIR": str(cwd / "cache")}
    out = subprocess.run([*CVB, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _adapt(root: Path, out: str, steps: int, lr: str) -> dict:
    return json.loads(_cvb("adapt", "--vlm", "imagenet-tagger", "-c", "jpeg", "-l", LEVEL, "-i", root / "data/train",
                           "--resolution", "native", "--batch", "8", "--steps", steps, "--lr", lr, "--warmup", "0",
                           "--val-fraction", "0.05", "--workers", "0", "--clean-mix", "0.25", "--out", out,
                           "--json", "-q", cwd=root).stdout)["adapter"]


def test_tagger_adapter_recovers_held_out_agreement(tmp_path):
    debs = sorted(DEBS.glob("tuxpaint-stamps-default_*.deb"))
    assert debs, (f"no tuxpaint-stamps-default .deb in {DEBS}: scripts/setup.sh downloads it (apt-get download "
                  f"tuxpaint-stamps-default there, or set CVB_DEMO_DEBS)")
    root = tmp_path
    _cvb("demo-data", "--out", "data", "--debs", DEBS, "--package", "tuxpaint-stamps-default", "--max-eval", "120",
         "--crops", "4", "--eval-size", "160", "--crop-size", "160", cwd=root)
    meta = json.loads((root / "data/manifest.json").read_text())
    assert set(meta["eval_folders"]).isdisjoint(meta["train_folders"])
    stamps = root / "data/train/stamps"
    assert not {str(p.parent.relative_to(stamps)) for p in stamps.rglob("*.png")} & set(meta["eval_folders"])
    assert meta["eval_images"] == 120 and meta["train_images"] > 150

    trained = _adapt(root, "adapter", 40, "3e-4")
    control = _adapt(root, "control", 2, "0")
    assert trained["base"]["family"] == "imagenet-tagger" and trained["condition"]["added_to"] == "patch embedding"

    base, adapted, identity = "imagenet-tagger", f"adapted:{root / 'adapter'}", f"adapted:{root / 'control'}"
    _cvb("run", "--vlm", base, "--vlm", adapted, "--vlm", identity, "-c", "jpeg", "-l", LEVEL,
         "-t", "folder:data/eval", "-o", "folder.questions=data/eval/questions.jsonl", "-m", "none",
         "--store", "r.sqlite", "-q", cwd=root)
    report = {}
    for name, vlm in (("trained", adapted), ("control", identity)):
        out = json.loads(_cvb("report", "--store", "r.sqlite", "--adapted", f"{base}={vlm}", "--json", cwd=root).stdout)
        (section,) = [s for s in out["sections"] if s["vlm"] == base]
        report[name] = section
    gap = report["trained"]["gap"][0]
    assert (gap["codec"], gap["level"]) == ("jpeg", LEVEL) and gap["reason"] is None
    assert gap["clean"] == 100.0  # the answers are the base tagger's own clean predictions
    assert gap["generalization_ci"][0] > 0, gap  # agreement rises beyond its interval
    drift = report["trained"]["clean_drift"]
    assert drift["base"] == 100.0 and drift["adapted"] == 100.0 + drift["drift"]

    still = report["control"]["gap"][0]
    assert still["generalization"] == 0 and still["adapted"] == still["compressed"]
    assert report["control"]["clean_drift"]["drift"] == 0
