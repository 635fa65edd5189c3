"""cvb.research: a research codec run from a checkout and Python environment cvb never imports,
through contrib/cvb-tcm on a stand-in LIC_TCM checkout (same class name, constructor and
CompressAI interface; small random models saved as checkpoints)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT
from cvb.errors import CodecError, UnavailableError
from cvb.research import ResearchCodec
from cvb.sample_images import sample_photo_paths
from cvb.testing import check_codec

sys.path.insert(0, str(ROOT / "contrib" / "cvb-tcm"))
from cvb_tcm.codec import TCMCodec  # noqa: E402
from cvb_tcm.plugin import tcm_status  # noqa: E402

STAND_IN_TCM = '''
from cvb.compat import ensure_torchvision  # this machine's CPU torch needs cvb's shim for compressai
ensure_torchvision()
from compressai.models import FactorizedPrior


class TCM(FactorizedPrior):
    """Takes TCM's constructor arguments; a small factorized prior inside."""

    def __init__(self, config, head_dim, drop_path_rate, N, M):
        assert len(config) == 6 and len(head_dim) == 6 and M == 320
        super().__init__(N=16, M=24)
'''


@pytest.fixture(scope="module")
def tcm_checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("research")
    repo, ckpt = root / "LIC_TCM", root / "ckpt"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "__init__.py").write_text("")
    (repo / "models" / "tcm.py").write_text(STAND_IN_TCM)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("0123456789abcdef0123\n")
    ckpt.mkdir()
    script = f'''
import sys, torch
sys.path.insert(0, {str(repo)!r})
from models.tcm import TCM
for level in range(1, 5):
    torch.manual_seed(level)
    net = TCM([2] * 6, [8, 16, 32, 32, 16, 8], 0.0, 64, 320)
    net.update(force=True)
    torch.save({{"state_dict": {{"module." + k: v for k, v in net.state_dict().items()}}}},
               {str(ckpt)!r} + f"/tcm-{{level}}.pth.tar")
'''
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
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
