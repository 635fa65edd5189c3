"""A third-party plugin installed through real entry-point metadata shows up everywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from cvb.sample_images import sample_photo_paths

from conftest import ROOT, VENV_BIN
from hang_guard import HANG_S

EXAMPLE = ROOT / "tests" / "plugins" / "cvb-example"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """pip-install the example package into a private directory (no network, no deps)."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name  # pip builds in the source tree:
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # not ours
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=HANG_S,
    )
    return target


def cvb(site, *args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("CVB_LOAD_PLUGINS", None)
    env.update(env_extra or {})
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=env, timeout=HANG_S)


def test_installed_plugin_in_plugins_and_list(example_site):
    res = cvb(example_site, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    plugins = {p["name"]: p for p in json.loads(res.stdout)["plugins"]}
    ex = plugins["example"]
    assert ex["distribution"] == "cvb-example" and ex["version"] == "0.3.1"
    assert ex["status"] == "ok" and ex["provides"] == {"codec": ["palette", "mjpeg", "tiny-factorized"]}

    res = cvb(example_site, "list", "codecs", "--json")
    rows = {r["name"]: r for r in json.loads(res.stdout)["codecs"]}
    assert rows["palette"]["plugin"] == "example" and rows["palette"]["usable"]


def test_load_filter_restricts_to_one_distribution(example_site):
    res = cvb(example_site, "plugins", "--json", env_extra={"CVB_LOAD_PLUGINS": "cvb-example"})
    names = [p["name"] for p in json.loads(res.stdout)["plugins"]]
    assert names == ["example"]


def test_installed_codec_really_compresses(example_site):
    res = cvb(example_site, "compress", "-c", "palette", "--metric", "none", "--json", "-q",
              env_extra={"CVB_LOAD_PLUGINS": "cvb-example"})
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)["summary"]
    bpps = [s["bpp"] for s in summary]
    assert [s["level"] for s in summary] == ["2", "4", "6", "8"]
    assert bpps == sorted(bpps) and bpps[0] < bpps[-1]


@pytest.mark.parametrize("name,skips", [
    ("palette", []),                                   # in-process (BaseCodec)
    ("mjpeg", ["--skip", "large"]),                    # external binary (ExternalCodec)
    # learned (LearnedCodec), random weights; on one small crop (CI time: 19 s on the sample photos)
    ("tiny-factorized", ["-l", "1", "--skip", "rate", "--skip", "fidelity", "--skip", "large", "-i", "CROP"]),
])
@pytest.mark.slow
def test_contributing_examples_pass_the_conformance_check(example_site, name, skips, tmp_path):
    """The three worked examples of CONTRIBUTING.md, installed, pass `cvb check` as users run it."""
    from PIL import Image

    crop = tmp_path / "crop.png"
    Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((100, 50, 196, 114)).save(crop)
    skips = [str(crop) if arg == "CROP" else arg for arg in skips]
    res = cvb(example_site, "check", "codec", name, "--json", *skips,
              env_extra={"CVB_LOAD_PLUGINS": "cvb-example", "OMP_NUM_THREADS": "1"})
    report = json.loads(res.stdout)
    assert res.returncode == 0 and report["ok"], res.stdout + res.stderr
    fresh = next(r for r in report["results"] if r["rule"] == "bitstream decodes in a fresh process")
    assert fresh["status"] == "pass"


def test_contributing_examples_match_the_package():
    """CONTRIBUTING.md shows the example's real code, not a paraphrase of it."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for module in ("codec.py", "external.py", "learned.py"):
        body = (EXAMPLE / "cvb_example" / module).read_text()
        code = body.split('"""', 2)[2].strip()  # past the module docstring
        assert code in text, f"CONTRIBUTING.md's copy of cvb_example/{module} is out of date"


def fake_distribution(site, dist: str, module: str, source: str) -> None:
    """An installed distribution as pip leaves it: a module plus its .dist-info entry points."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cvb]\n{module} = {module}\n")


def test_broken_misspelt_and_conflicting_installed_plugins(tmp_path):
    """Real entry points: one plugin fails to import, one misspells its hook, one claims `jpeg`
    (a built-in's name). Each is reported; everything else keeps working."""
    head = "from cvb import hookimpl\nfrom cvb.specs import CodecSpec\n@hookimpl\n"
    fake_distribution(tmp_path, "cvb-broken", "cvb_broken", "raise RuntimeError('kaput at import')\n")
    fake_distribution(tmp_path, "cvb-typo", "cvb_typo", head + "def register_codec(register):\n    pass\n")
    fake_distribution(tmp_path, "cvb-rival", "cvb_rival", head + (
        "def register_codecs(register):\n"
        "    register(CodecSpec(name='jpeg', factory='cvb.testing:FakeCodec', levels=('1',)))\n"))

    res = cvb(tmp_path, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    plugins = {p["name"]: p for p in data["plugins"]}
    assert "kaput at import" in plugins["cvb_broken"]["error"]
    assert plugins["cvb_broken"]["distribution"] == "cvb-broken"
    assert "register_codec" in plugins["cvb_typo"]["error"]
    assert plugins["pillow"]["status"] == "ok" and "webp" in plugins["pillow"]["provides"]["codec"]
    assert {"category": "codec", "name": "jpeg", "plugins": ["cvb_rival", "pillow"]} in data["conflicts"]

    rows = [r for r in json.loads(cvb(tmp_path, "list", "codecs", "--json").stdout)["codecs"] if r["name"] == "jpeg"]
    assert len(rows) == 1 and not rows[0]["usable"]

    res = cvb(tmp_path, "compress", "-c", "jpeg", "-q")
    assert res.returncode == 1 and "cvb_rival (cvb-rival) and pillow (cvb)" in res.stderr
    res = cvb(tmp_path, "compress", "-c", "webp", "-l", "50", "-m", "none", "--json", "-q",
              "-i", str(sample_photo_paths()["chelsea"]))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["summary"][0]["bpp"] > 0
