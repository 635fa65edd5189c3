"""`cvb compress`: the rate-distortion bench on the fake codec (the real codecs have their own tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvb.cli import cli
from cvb.specs import MetricSpec
from cvb.testing import FakeCodec, fake_codec_spec

from conftest import make_plugin
from hang_guard import HANG_S


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
    summary = json.loads(res.stdout)["summary"]
    assert [s["level"] for s in summary] == ["2", "4", "8"]
    bpp = [s["bpp"] for s in summary]
    mse = [s["metrics"]["mse"] for s in summary]
    assert bpp[0] < bpp[1] < bpp[2]
    assert mse[0] > mse[1] > mse[2] == 0.0  # level 8 is lossless
    assert all(s["n"] == 3 for s in summary)


def test_bpp_is_from_the_bitstream(reg, images):
    res = run("-c", "fake", "-l", "3", "-i", str(images / "img0.png"), "-m", "none", "--json", "-q")
    bpp = json.loads(res.stdout)["summary"][0]["bpp"]
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
    res = run("-c", "fake", "-l", "2,6", "-i", str(images), "-m", "mse", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    data = json.loads((out / "fake.json").read_text())
    assert data["name"] == "fake"
    r = data["results"]
    assert len(r["bpp"]) == len(r["mse"]) == len(r["encoding_time"]) == len(r["decoding_time"]) == 2
    assert len(data["per_image"]) == 6


def test_two_workers_match_one(reg, images):
    one = json.loads(run("-c", "fake", "-l", "2,5", "-i", str(images), "-m", "mse", "--json", "-q").stdout)
    two = json.loads(run("-c", "fake", "-l", "2,5", "-i", str(images), "-m", "mse", "--json", "-q", "-j", "2").stdout)
    key = lambda s: (s["level"], round(s["bpp"], 9), round(s["metrics"]["mse"], 9))
    assert [key(s) for s in one["summary"]] == [key(s) for s in two["summary"]]


def test_table_output(reg, images):
    res = run("-c", "fake", "-l", "2", "-i", str(images), "-m", "mse", "-q", "--per-image")
    assert res.exit_code == 0
    assert "rate-distortion" in res.output and "img1.png" in res.output


def test_empty_level_list_is_a_usage_error(reg, images):
    res = CliRunner().invoke(cli, ["compress", "-c", "fake", "-l", "fake=", "-i", str(images)])
    assert res.exit_code == 2 and "gives no level" in res.output


class CoarseFake(FakeCodec):
    """The fake codec with one option, so option plumbing is observable in the bits."""

    def __init__(self, coarse: object = False):
        from cvb.options import as_bool

        self.coarse = as_bool("fake", "coarse", coarse)

    def encode(self, image, level):
        return super().encode(image, str(int(self.parse_level(level)) - 1) if self.coarse else level)


@pytest.fixture
def reg_with_option(registry_of):
    from cvb.specs import CodecSpec

    return registry_of(make_plugin("fakes", register_codecs=lambda register: register(
        CodecSpec(name="fake", factory=CoarseFake, levels=("2", "4"), options={"coarse": "one level down"}))))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_codec_options_reach_every_worker(reg_with_option, images, jobs):
    def bpp(*extra):
        res = run("-c", "fake", "-l", "4", "-i", str(images), "-m", "none", "--json", "-q", "-j", jobs, *extra)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["summary"][0]["bpp"]

    assert bpp("-O", "fake.coarse=true") < bpp() == bpp("-O", "codec.coarse=false")
    res = CliRunner().invoke(cli, ["compress", "-c", "fake", "-i", str(images), "-O", "fake.nope=1"])
    assert res.exit_code == 2 and "coarse" in res.output  # names the options it does accept
    res = CliRunner().invoke(cli, ["compress", "-c", "fake", "-i", str(images), "-O", "webp.method=1"])
    assert res.exit_code == 2 and "names no codec" in res.output


def test_json_reads_with_compressais_plot_script(registry_of, images, tmp_path):
    """What --out writes is what `python -m compressai.utils.plot -f rd/*.json` reads."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from compressai.utils.plot.__main__ import parse_json_file

    class PSNR:
        name, higher_is_better = "psnr", True

        def measure(self, reference, distorted):
            mse = MSE().measure(reference, distorted)
            return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)

    registry_of(make_plugin("fakes", register_codecs=lambda register: register(fake_codec_spec()),
                            register_metrics=lambda register: register(MetricSpec(name="psnr", factory=PSNR))))
    out = tmp_path / "rd"
    res = run("-c", "fake", "-l", "2,4,6", "-i", str(images), "-m", "psnr", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    curve = parse_json_file(out / "fake.json", "psnr")
    assert curve["name"] == "fake" and len(curve["xs"]) == len(curve["ys"]) == 3
    assert curve["xs"] == sorted(curve["xs"]) and curve["ys"] == sorted(curve["ys"])


def test_same_file_name_in_two_folders_stays_two_images(reg, images, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / "set" / sub).mkdir(parents=True)
        (tmp_path / "set" / sub / "img.png").write_bytes((images / f"img{'ab'.index(sub)}.png").read_bytes())
    out = tmp_path / "rd"
    res = run("-c", "fake", "-l", "3", "-i", str(tmp_path / "set"), "-m", "none", "--out", str(out), "-q")
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "fake.json").read_text())["per_image"]
    assert sorted(r["image"] for r in rows) == ["a/img.png", "b/img.png"]
    assert rows[0]["bpp"] != rows[1]["bpp"]  # really the two different images


def test_avif_sizes_are_the_same_on_one_cpu_and_in_two_workers(tmp_path):
    """The real `cvb` in fresh processes: AVIF's files (their bpp) and metrics are the same
    whether the process may use one CPU (`taskset -c N`: Pillow's thread default would follow)
    or all of them, and with -j 2 (each worker's thread budget is CPUs // 2)."""
    import os
    import subprocess
    import sys

    from cvb.sample_images import sample_photo_paths

    photos = sample_photo_paths()
    args = [sys.executable, "-m", "cvb", "compress", "-c", "avif", "-l", "10,70", "-m", "psnr", "--json", "-q",
            "-i", str(photos["coffee"]), "-i", str(photos["astronaut"])]
    one_cpu = min(os.sched_getaffinity(0))

    def summary(extra=(), cpus=None) -> list:
        out = subprocess.run([*args, *extra], capture_output=True, text=True, timeout=HANG_S,
                             preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        assert out.returncode == 0, out.stderr
        return [(s["level"], s["bpp"], s["metrics"]["psnr"]) for s in json.loads(out.stdout)["summary"]]

    everywhere = summary()
    assert summary(cpus={one_cpu}) == everywhere
    assert summary(["-j", "2"]) == everywhere


def test_more_workers_than_cpus_is_said(tmp_path):
    """The real `cvb compress -j 2` in a process allowed one CPU: a note says -j cannot help."""
    import os
    import subprocess
    import sys

    from cvb.sample_images import sample_photo_paths

    image = str(sample_photo_paths()["coffee"])
    one_cpu = {min(os.sched_getaffinity(0))}
    out = subprocess.run([sys.executable, "-m", "cvb", "compress", "-c", "jpeg", "-l", "30", "-m", "none", "-q",
                          "-i", image, "-j", "2"], capture_output=True, text=True, timeout=HANG_S,
                         preexec_fn=lambda: os.sched_setaffinity(0, one_cpu))
    assert out.returncode == 0, out.stderr
    assert "note: -j 2 on 1 CPU(s): at most 1 workers can run at once" in out.stderr
