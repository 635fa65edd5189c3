"""`cvb compress`: the rate-distortion bench on the fake codec (the real codecs have their own tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvb.cli import cli
from cvb.specs import MetricSpec
from cvb.testing import fake_codec_spec

from conftest import make_plugin


class MSE:
    name, higher_is_better = "mse", False

    def measure(self, reference, distorted):
        a = np.asarray(reference, dtype=np.float64)
        b = np.asarray(distorted, dtype=np.float64)
        return float(((a - b) ** 2).mean())


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        # smooth gradients plus noise: compressible, and lossy levels really differ
        y, x = np.mgrid[0:48, 0:64]
        arr = np.stack([x * 4, y * 5, (x + y) * 2], -1) + rng.integers(0, 20, (48, 64, 3))
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(d / f"img{i}.png")
    return d


@pytest.fixture
def reg(registry_of):
    plug = make_plugin("fakes",
                       register_codecs=lambda register: register(fake_codec_spec()),
                       register_metrics=lambda register: register(
                           MetricSpec(name="mse", factory=MSE, higher_is_better=False)))
    return registry_of(plug)


def run(*args):
    return CliRunner().invoke(cli, ["compress", *args], catch_exceptions=False)


def test_rates_and_fidelity_rise_with_level(reg, images):
    res = run("-c", "fake", "-l", "2,4,8", "-i", str(images), "-m", "mse", "--json", "-q")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)["summary"]
    assert [s["level"] for s in summary] == ["2", "4", "8"]
    bpp = [s["bpp"] for s in summary]
    mse = [s["metrics"]["mse"] for s in summary]
    assert bpp[0] < bpp[1] < bpp[2]
    assert mse[0] > mse[1] > mse[2] == 0.0  # level 8 is lossless
    assert all(s["n"] == 3 for s in summary)


def test_bpp_is_from_the_bitstream(reg, images):
    from cvb.testing import FakeCodec

    res = run("-c", "fake", "-l", "3", "-i", str(images / "img0.png"), "-m", "none", "--json", "-q")
    bpp = json.loads(res.output)["summary"][0]["bpp"]
    img = Image.open(images / "img0.png").convert("RGB")
    assert bpp == len(FakeCodec().encode(img, "3")) * 8 / (64 * 48)


def test_corrupt_image_recorded_rest_goes_on(reg, images):
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    res = run("-c", "fake", "-l", "2", "-i", str(images), "-m", "mse", "--json", "-q")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["summary"][0]["n"] == 3 and out["summary"][0]["failed"] == 1
    assert out["failures"][0]["image"] == "broken.png"
    assert "cannot read image" in out["failures"][0]["error"]


def test_unknown_codec_and_level_exit_2(reg, images):
    res = CliRunner().invoke(cli, ["compress", "-c", "nope", "-i", str(images)])
    assert res.exit_code == 2 and "known codecs: fake" in res.output
    res = CliRunner().invoke(cli, ["compress", "-c", "fake", "-l", "99", "-i", str(images)])
    assert res.exit_code == 2 and "1..8" in res.output


def test_compressai_json_shape(reg, images, tmp_path):
    out = tmp_path / "rd"
    res = run("-c", "fake", "-l", "2,6", "-i", str(images), "-m", "mse", "-o", str(out), "-q")
    assert res.exit_code == 0, res.output
    data = json.loads((out / "fake.json").read_text())
    assert data["name"] == "fake"
    r = data["results"]
    assert len(r["bpp"]) == len(r["mse"]) == len(r["encoding_time"]) == len(r["decoding_time"]) == 2
    assert len(data["per_image"]) == 6


def test_two_workers_match_one(reg, images):
    one = json.loads(run("-c", "fake", "-l", "2,5", "-i", str(images), "-m", "mse", "--json", "-q").output)
    two = json.loads(run("-c", "fake", "-l", "2,5", "-i", str(images), "-m", "mse", "--json", "-q", "-j", "2").output)
    key = lambda s: (s["level"], round(s["bpp"], 9), round(s["metrics"]["mse"], 9))  # noqa: E731
    assert [key(s) for s in one["summary"]] == [key(s) for s in two["summary"]]


def test_table_output(reg, images):
    res = run("-c", "fake", "-l", "2", "-i", str(images), "-m", "mse", "-q", "--per-image")
    assert res.exit_code == 0
    assert "rate-distortion" in res.output and "img1.png" in res.output
