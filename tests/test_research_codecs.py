"""cvb.codecs.research: a research codec run from a checkout and Python environment cvb never imports,
through contrib/cvb-tcm on a stand-in LIC_TCM checkout (tests/research_standins/tcm: the real
module path, class, constructor and CompressAI interface, a tiny zlib codec inside). The real
LIC_TCM ran through the same package with random weights: contrib/cvb-tcm/README.md."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT
from cvb.errors import CodecError, UnavailableError
from cvb.codecs.research import ResearchCodec
from cvb.sample_images import sample_photo_paths
from cvb.testing import check_codec

sys.path.insert(0, str(ROOT / "contrib" / "cvb-tcm"))
from cvb_tcm.codec import TCMCodec
from cvb_tcm.plugin import tcm_status

STANDINS = Path(__file__).with_name("research_standins")


@pytest.fixture(scope="module")
def tcm_checkout(tmp_path_factory):
    """The stand-in LIC_TCM (tests/research_standins/tcm: models/tcm.py's TCM, its constructor,
    update/compress/decompress, and its failure on a padded side of 128 px), with checkpoints
    as LIC_TCM's train.py saves them: ``{"state_dict": ...}`` with DataParallel's ``module.``."""
    import torch

    root = tmp_path_factory.mktemp("research")
    repo, ckpt = root / "LIC_TCM", root / "ckpt"
    shutil.copytree(STANDINS / "tcm", repo)
    shutil.copy(STANDINS / "tiny.py", repo)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("0123456789abcdef0123\n")
    ckpt.mkdir()
    for level in range(1, 5):
        torch.save({"state_dict": {"module.step": torch.tensor(0.2 / level)}, "epoch": 1},
                   ckpt / f"tcm-{level}.pth.tar")
    return {"CVB_TCM_REPO": str(repo), "CVB_TCM_CHECKPOINTS": str(ckpt), "CVB_TCM_PYTHON": sys.executable}


@pytest.fixture
def tcm_env(tcm_checkout, monkeypatch):
    for key, value in tcm_checkout.items():
        monkeypatch.setenv(key, value)
    return tcm_checkout


def test_status_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("CVB_TCM_REPO", raising=False)
    assert "CVB_TCM_REPO" in tcm_status() and "LIC_TCM" in tcm_status()
    with pytest.raises(UnavailableError, match="give option repo=PATH or set CVB_TCM_REPO"):
        TCMCodec()


def test_tcm_passes_the_conformance_kit_through_the_worker(tcm_env):
    assert tcm_status() is None
    codec = TCMCodec()
    assert codec.version == "tcm/0123456789ab+unchecked"  # a hand-made .git: read, changes unseen
    crop = Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((0, 0, 160, 96))
    report = check_codec(codec, images=[crop], levels=["2"], skip={
        "rate": "the stand-in's checkpoints are random weights",
        "fidelity": "the stand-in's checkpoints are random weights",
        "large": "CI time"}).raise_for_failures()
    assert next(r for r in report.results if r.rule.startswith("bitstream decodes")).status == "pass"
    bits = codec.encode(crop, "2")
    assert bits[0] == 2 and bits[1:5] == b"CVBR"  # level byte, then the worker's file
    codec.close()


def test_tcm_pads_each_side_to_at_least_256(tcm_env):
    """LIC_TCM's window attention fails on a padded side of 128 px (as the stand-in does): the
    package's hooks pad each side to a multiple of 128 and at least 256, so 1x1 and 17x9 code."""
    codec = TCMCodec()
    for size in ((1, 1), (17, 9), (130, 40)):
        out = codec.decode(codec.encode(Image.new("RGB", size, (200, 30, 90)), "3"))
        assert out.size == size
    plain = TCMCodec()
    plain.hooks = ""  # control: the driver's plain padding to 128 hits the failure
    with pytest.raises(CodecError, match="can't divide axis of length 9"):
        plain.encode(Image.new("RGB", (17, 9)), "3")
    codec.close()
    plain.close()


def test_worker_errors_and_estimate_only_codecs_are_refused(tcm_env, tmp_path):
    class EstimateOnly(ResearchCodec):
        name, default_levels, level_min, level_max = "estimator", ("1",), 1, 1
        estimates_only = "its test script reports bpp from likelihoods and writes no bitstream"

    with pytest.raises(UnavailableError, match="refused: its test script reports bpp from likelihoods"):
        EstimateOnly()
    broken = TCMCodec(checkpoints=str(tmp_path))
    with pytest.raises(UnavailableError, match="no checkpoint"):
        broken.encode(Image.new("RGB", (8, 8)), "1")
    bad = TCMCodec()
    bad.module = "models.nonexistent"
    with pytest.raises(CodecError, match="No module named 'models.nonexistent'"):
        bad.encode(Image.new("RGB", (8, 8)), "1")
    bad.close()

# installed with the other research packages and listed by `cvb list codecs`: tests/test_research_hooks.py
