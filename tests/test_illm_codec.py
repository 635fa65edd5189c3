"""contrib/cvb-illm on a stand-in `neuralcompression` (not installable beside cvb's pins, see the
package README): same zoo functions, output type and compress/decompress signatures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, VENV_BIN
from cvb.errors import UnavailableError
from cvb.sample_images import sample_photo_paths
from cvb.testing import check_codec

sys.path.insert(0, str(ROOT / "contrib" / "cvb-illm"))
from cvb_illm.codec import IllmCodec
from cvb_illm.plugin import illm_status
from hang_guard import HANG_S

STAND_IN_INIT = '''
from typing import List, NamedTuple, Tuple


class HyperpriorCompressedOutput(NamedTuple):
    latent_strings: List[bytes]
    hyper_latent_strings: List[bytes]
    image_size: Tuple[int, int]
    padded_size: Tuple[int, int]
'''

STAND_IN_ZOO = '''
import torch
import torch.nn.functional as F
from cvb.compat import ensure_torchvision
ensure_torchvision()
from compressai.models import ScaleHyperprior

from neuralcompression import HyperpriorCompressedOutput


class HiFiCStandIn(ScaleHyperprior):
    """neuralcompression's HiFiCAutoencoder interface on a small CompressAI hyperprior."""

    def __init__(self):
        super().__init__(N=16, M=24)

    def compress(self, image, force_cpu=True):
        h, w = image.shape[-2:]
        image = F.pad(image, (0, (-w) % 64, 0, (-h) % 64))
        out = super().compress(image)
        return HyperpriorCompressedOutput(out["strings"][0], out["strings"][1], (h, w), tuple(image.shape[-2:]))

    def decompress(self, data, force_cpu=True):
        shape = (data.padded_size[0] // 64, data.padded_size[1] // 64)
        x = super().decompress([data.latent_strings, data.hyper_latent_strings], shape)["x_hat"]
        return x[:, :, : data.image_size[0], : data.image_size[1]].clamp(0, 1)


def _build(pretrained):
    if pretrained:
        raise RuntimeError("the stand-in has no weights")
    return HiFiCStandIn()


for _q in range(1, 7):
    globals()[f"msillm_quality_{_q}"] = lambda pretrained=False, **kwargs: _build(pretrained)
'''


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    root = tmp_path_factory.mktemp("nc")
    pkg = root / "neuralcompression"
    (pkg / "zoo").mkdir(parents=True)
    (pkg / "__init__.py").write_text(STAND_IN_INIT)
    (pkg / "zoo" / "__init__.py").write_text(STAND_IN_ZOO)
    info = root / "neuralcompression-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: neuralcompression\nVersion: 0.3.1\n")
    return root


@pytest.fixture
def with_stand_in(stand_in, monkeypatch):
    monkeypatch.syspath_prepend(str(stand_in))
    for name in [m for m in sys.modules if m.startswith("neuralcompression")]:
        monkeypatch.delitem(sys.modules, name)
    return stand_in


def test_status_names_the_package_and_the_weights(with_stand_in, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reason = illm_status()
    assert "msillm_target_0.035bpp.ckpt" in reason and str(tmp_path) in reason and "pretrained=false" in reason
    with pytest.raises(UnavailableError, match="msillm_target_0.07bpp.ckpt"):
        IllmCodec().prepare(["2"])


def test_illm_passes_the_conformance_kit_on_the_stand_in(with_stand_in):
    codec = IllmCodec(pretrained=False)
    assert codec.version == "neuralcompression-0.3.1/random-seed0" and codec.kind.value == "generative"
    crop = Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((0, 0, 150, 100))
    check_codec(codec, images=[crop], levels=["1"], skip={
        "rate": "random weights (pretrained=false) do not order rates",
        "fidelity": "random weights (pretrained=false) decode noise", "large": "CI time"}).raise_for_failures()


def test_listed_as_generative_when_installed(stand_in, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(ROOT / "contrib" / "cvb-illm")],
                   check=True, capture_output=True, timeout=HANG_S)
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{stand_in}", OMP_NUM_THREADS="1")
    env.pop("CVB_LOAD_PLUGINS", None)
    rows = json.loads(subprocess.run([str(VENV_BIN / "cvb"), "list", "codecs", "--json"], capture_output=True,
                                     text=True, env=env, timeout=HANG_S).stdout)["codecs"]
    row = next(r for r in rows if r["name"] == "illm")
    assert row["kind"] == "generative" and "weights not in the torch hub cache" in row["status"]
