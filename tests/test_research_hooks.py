"""The research codecs whose repositories are not plain CompressAI models (MLIC++, StableCodec,
DiffEIC, RDEIC): their packages' hooks run in cvb's research worker against stand-in checkouts
laid out like the real repositories (tests/research_standins, a tiny zlib codec inside)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT, VENV_BIN
from cvb.errors import UsageError
from cvb.sample_images import sample_photo_paths
from cvb.testing import check_codec

STANDINS = Path(__file__).with_name("research_standins")
PACKAGES = ("mlicpp", "stablecodec", "diffeic", "rdeic")
for _name in PACKAGES:
    sys.path.insert(0, str(ROOT / "contrib" / f"cvb-{_name}"))

from cvb_diffeic.codec import DiffEICCodec  # noqa: E402
from cvb_diffeic.plugin import diffeic_status  # noqa: E402
from cvb_mlicpp.codec import MLICPPCodec  # noqa: E402
from cvb_rdeic.codec import RDEICCodec  # noqa: E402
from cvb_stablecodec.codec import StableCodecCodec  # noqa: E402

STEP = {1: 0.2, 2: 0.1, 3: 0.05, 4: 0.025, 5: 0.0125}  # quantizer step per level: rate rises


def checkout(root: Path, name: str, repo_sub: str = "", shared: str = "") -> Path:
    repo = root / name
    shutil.copytree(STANDINS / name, repo)
    if shared:  # DiffEIC and RDEIC share their ldm/ControlNet-era utilities
        shutil.copytree(STANDINS / shared, repo, dirs_exist_ok=True)
    shutil.copy(STANDINS / "tiny.py", repo / repo_sub)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("feedfacecafe0123\n")
    return repo / repo_sub if repo_sub else repo


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory):
    """Every stand-in checkout with its checkpoints, laid out as each README says."""
    import torch

    root = tmp_path_factory.mktemp("research")
    ckpt = {name: root / f"{name}-ckpt" for name in PACKAGES}
    for folder in ckpt.values():
        folder.mkdir()
    (ckpt["stablecodec"] / "sd-turbo").mkdir()
    (ckpt["stablecodec"] / "sd-turbo" / "model_index.json").write_text("{}")
    torch.save({}, ckpt["stablecodec"] / "elic_official.pth")
    torch.save({"state_dict": {"sd.weight": torch.zeros(1)}}, ckpt["diffeic"] / "v2-1_512-ema-pruned.ckpt")
    for level, step in STEP.items():
        state = {"step": torch.tensor(step)}
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 1},
                   ckpt["mlicpp"] / f"mlicpp-{level}.pth.tar")
        torch.save(state, ckpt["stablecodec"] / StableCodecCodec.checkpoint_name(None, str(level)))
        (ckpt["diffeic"] / DiffEICCodec.checkpoint_name(None, str(level))).parent.mkdir()
        torch.save({"state_dict": state}, ckpt["diffeic"] / DiffEICCodec.checkpoint_name(None, str(level)))
        torch.save(state, ckpt["rdeic"] / f"rdeic-{level}.ckpt")
    repos = {"mlicpp": checkout(root, "mlicpp", "MLIC++"), "stablecodec": checkout(root, "stablecodec"),
             "diffeic": checkout(root, "diffeic", shared="ldm_shared"),
             "rdeic": checkout(root, "rdeic", shared="ldm_shared")}
    env = {}
    for name in PACKAGES:
        prefix = f"CVB_{name.upper()}"
        env.update({f"{prefix}_REPO": str(repos[name]), f"{prefix}_CHECKPOINTS": str(ckpt[name]),
                    f"{prefix}_PYTHON": sys.executable})
    return env


@pytest.fixture
def research_env(checkouts, monkeypatch):
    for key, value in checkouts.items():
        monkeypatch.setenv(key, value)
    return checkouts


@pytest.fixture(scope="module")
def crop():
    return Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((0, 0, 150, 90))


def test_diffeic_passes_the_conformance_kit_with_real_rates(research_env):
    """All rules but the 4000 px one (CI time), rates included: the stand-in's levels differ."""
    assert diffeic_status() is None
    codec = DiffEICCodec(steps=3)
    # a hand-made .git that git cannot read: the commit is read from its files, changes unseen
    assert codec.version == "diffeic/feedfacecafe+unchecked" and codec.params()["steps"] == 3
    report = check_codec(codec, images=[sample_photo_paths()["chelsea"]], levels=["1", "3", "5"],
                         skip={"large": "CI time"}).raise_for_failures()
    assert next(r for r in report.results if r.rule.startswith("bpp rises")).status == "pass"
    codec.close()


@pytest.mark.parametrize("cls", [MLICPPCodec, StableCodecCodec, RDEICCodec], ids=lambda c: c.name)
def test_hooks_code_real_bitstreams(research_env, crop, cls):
    """One worker each (CI time); the DiffEIC check above decodes in a fresh process. The
    stand-ins assert the calls the hooks must make (MLIC++: update_resolutions first; RDEIC:
    the relay start at used_timesteps - 1; StableCodec: [-1, 1] input padded to 256)."""
    codec = cls()
    low, high = codec.encode(crop, "1"), codec.encode(crop, "4")
    assert low[0] == 1 and len(low) < len(high)  # the level byte, then the worker's file
    out = codec.decode(high)
    assert out.size == crop.size and out.mode == "RGB"
    assert codec.encode(crop, "4") == high  # deterministic
    codec.close()


def test_settings_are_checked_before_any_worker_starts(research_env):
    with pytest.raises(UsageError, match="steps must be a whole number"):
        DiffEICCodec(steps=2.5)
    with pytest.raises(UsageError, match="unknown option"):
        RDEICCodec(stepz=3)
    assert RDEICCodec(guidance="1.5").params()["guidance"] == 1.5  # part of params: the cache follows it


def test_installed_packages_list_every_research_family(checkouts, tmp_path):
    site = tmp_path / "site"
    dirs = [str(ROOT / "contrib" / f"cvb-{name}") for name in (*PACKAGES, "tcm")]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), *dirs], check=True, capture_output=True, timeout=300)
    assert (site / "cvb_diffeic" / "hooks.py").is_file()  # the hooks file ships with the package
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS="1", **checkouts)
    env.pop("CVB_LOAD_PLUGINS", None)
    res = subprocess.run([str(VENV_BIN / "cvb"), "list", "codecs", "--json"], capture_output=True, text=True,
                         env=env, timeout=120)
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {rows[n]["kind"] for n in ("stablecodec", "diffeic", "rdeic")} == {"generative"}
    assert rows["mlicpp"]["kind"] == "learned" and all(rows[n]["usable"] for n in PACKAGES)
    assert "tcm" in rows  # with cvb-tcm: every research family of the paper


def test_status_names_what_is_missing(checkouts, monkeypatch):
    from cvb_rdeic.plugin import rdeic_status
    from cvb_stablecodec.plugin import stablecodec_status

    monkeypatch.setenv("CVB_RDEIC_REPO", checkouts["CVB_RDEIC_REPO"])
    monkeypatch.delenv("CVB_RDEIC_CHECKPOINTS", raising=False)
    assert "rdeic-1.ckpt" in rdeic_status() and "CVB_RDEIC_CHECKPOINTS=(unset)" in rdeic_status()
    monkeypatch.setenv("CVB_STABLECODEC_REPO", checkouts["CVB_RDEIC_REPO"])
    assert "not name a StableCodec checkout (src/StableCodec.py)" in stablecodec_status()
