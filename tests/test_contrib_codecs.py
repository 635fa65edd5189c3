"""contrib/cvb-vtm and contrib/cvb-bpg without VTM or libbpg: stand-in binaries that take the
real tools' command lines (coding with ffmpeg's HEVC or Pillow's JPEG instead), the
conformance kit on each, and `cvb list codecs` with every contrib package installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image

import video_stand_ins
from conftest import ROOT, VENV_BIN
from hang_guard import HANG_S
from video_stand_ins import executable
from cvb.sample_images import sample_photo_paths
from cvb.testing import check_codec

CONTRIB = ROOT / "contrib"
for package in ("cvb-vtm", "cvb-bpg"):
    sys.path.insert(0, str(CONTRIB / package))

from cvb_bpg.codec import BPGCodec
from cvb_vtm.codec import VTMCodec

#: bpgenc's command line in, "BPG\xfb" + a JPEG whose quality falls with the QP out; like
#: libbpg 0.9.8's bpgenc (x265), it segfaults on an image 24 px wide or narrower
FAKE_BPGENC = r'''
import io, os, signal, sys
from PIL import Image
args = sys.argv[1:]
if "-h" in args:
    print("BPG Image Encoder version 0.9.8")
    sys.exit(1)
opts = dict(zip(args[:-1:2], args[1:-1:2]))
assert opts["-f"] in ("420", "422", "444") and 1 <= int(opts["-m"]) <= 9 and opts["-e"] in ("x265", "jctvc")
buf = io.BytesIO()
image = Image.open(args[-1])
if image.width <= 24:
    os.kill(os.getpid(), signal.SIGSEGV)
image.convert("RGB").save(buf, "JPEG", quality=max(1, 100 - 2 * int(opts["-q"])))
open(opts["-o"], "wb").write(b"BPG\xfb" + buf.getvalue())
'''

FAKE_BPGDEC = r'''
import io, sys
from PIL import Image
args = sys.argv[1:]
data = open(args[-1], "rb").read()
assert data[:4] == b"BPG\xfb", "not a BPG file"
Image.open(io.BytesIO(data[4:])).save(args[args.index("-o") + 1])
'''


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    env = {
        "CVB_VTM_ENCODER": video_stand_ins.encoder(
            tmp_path / "EncoderApp", "VVCSoftware: VTM Encoder Version 23.0 [Linux][GCC 12.2.0][64 bit] [SIMD=AVX2]",
            video_stand_ins.VTM_CHECKS),
        "CVB_VTM_DECODER": video_stand_ins.decoder(tmp_path / "DecoderApp"),
        "CVB_BPGENC": executable(tmp_path / "bpgenc", FAKE_BPGENC),
        "CVB_BPGDEC": executable(tmp_path / "bpgdec", FAKE_BPGDEC),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return {k: str(v) for k, v in env.items()}


SKIP_LARGE = {"large": "CI time: the stand-ins code 12 MP in 3-5 s; `cvb check codec NAME` runs it"}


def test_vtm_passes_the_conformance_kit_on_stand_ins(stand_ins):
    codec = VTMCodec()
    assert codec.version == "vtm-23.0" and codec.default_levels == ("53", "49", "45", "40")
    report = check_codec(codec, images=[sample_photo_paths()["chelsea"]], skip=SKIP_LARGE).raise_for_failures()
    assert next(r for r in report.results if r.rule.startswith("size 17x9")).status == "pass"
    argv = codec.encode_argv(45, (64, 48), "in.yuv", "out.bin")
    assert argv[0] == stand_ins["CVB_VTM_ENCODER"] and "--Profile=main" not in " ".join(argv)
    bits = codec.encode(Image.new("RGB", (64, 48)), "45")
    assert bits[:4] == b"CVBS"  # VTM streams always carry the 8-byte size header


def test_vtm_needs_its_shipped_intra_config(stand_ins):
    """The stand-in applies VTM 23's own GOP check: without the shipped encoder_intra_vtm.cfg
    (VTM's cfg/encoder_intra_vtm.cfg) every encode fails, as with the real EncoderApp."""
    from cvb.errors import ExternalToolError

    image = Image.new("RGB", (64, 48), (10, 120, 200))
    bare = VTMCodec()
    bare.default_config, bare._default_text = None, None
    with pytest.raises(ExternalToolError, match="Invalid GOP structure given"):
        bare.encode(image, "40")
    codec = VTMCodec()
    assert "DecodingRefreshType           : 1" in codec.default_config.read_text()
    assert codec.decode(codec.encode(image, "40")).size == image.size


def test_bpg_passes_the_conformance_kit_on_stand_ins(stand_ins):
    codec = BPGCodec(chroma="444", effort=3)
    assert codec.version == "bpg-0.9.8" and codec.params() == {"chroma": "444", "effort": 3, "encoder": "x265"}
    check_codec(codec, images=[sample_photo_paths()["chelsea"]], skip=SKIP_LARGE).raise_for_failures()
    assert codec.encode(Image.new("RGB", (40, 3)), "40")[:4] == b"BPG\xfb"  # the bare .bpg file


def test_bpg_pads_the_images_bpgenc_crashes_on(stand_ins, monkeypatch):
    """bpgenc 0.9.8 segfaults on images 24 px wide or narrower (so does the stand-in): they are
    padded to 32 px and carry their true size, so every size codes and nothing crashes."""
    import cvb_bpg.codec
    from cvb.errors import ExternalToolError

    codec = BPGCodec()
    for size in ((1, 1), (17, 9), (24, 24)):
        bits = codec.encode(Image.new("RGB", size, (200, 30, 90)), "40")
        assert bits[:4] == b"CVBS" and bits[8:12] == b"BPG\xfb"
        assert codec.decode(bits).size == size
    monkeypatch.setattr(cvb_bpg.codec, "MIN_WIDTH", 1)  # control: unpadded, bpgenc crashes
    with pytest.raises(ExternalToolError, match="exited with status -11"):
        codec.encode(Image.new("RGB", (17, 9)), "40")


@pytest.fixture(scope="module")
def contrib_site(tmp_path_factory):
    """The three contrib codec packages pip-installed together (no network, no deps)."""
    target = tmp_path_factory.mktemp("site")
    sources = []
    for package in ("cvb-hm", "cvb-vtm", "cvb-bpg"):
        source = tmp_path_factory.mktemp("src") / package
        shutil.copytree(CONTRIB / package, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        sources.append(str(source))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), *sources], check=True, capture_output=True, timeout=HANG_S)
    return target


def cvb(site, *args, env=None):
    full = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS="1", **(env or {}))
    full.pop("CVB_LOAD_PLUGINS", None)
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=full, timeout=HANG_S)


def test_installed_contrib_codecs_are_listed_with_what_they_need(contrib_site):
    res = cvb(contrib_site, "list", "codecs", "--json")  # no HM, VTM or libbpg on this machine
    rows = {r["name"]: r for r in json.loads(res.stdout)["codecs"]}
    for name, plugin in (("hm", "hm"), ("vtm", "vtm"), ("bpg", "bpg")):
        assert rows[name]["plugin"] == plugin and rows[name]["kind"] == "traditional"
    assert "EncoderApp not found on PATH" in rows["vtm"]["status"] and "CVB_VTM_ENCODER" in rows["vtm"]["status"]
    assert "bpgenc not found on PATH" in rows["bpg"]["status"] and "bellard.org" in rows["bpg"]["status"]


def test_cvb_check_on_installed_vtm_with_stand_ins(contrib_site, stand_ins):
    res = cvb(contrib_site, "check", "codec", "vtm", "-l", "49,40", "-i", str(sample_photo_paths()["chelsea"]),
              "--skip", "large", "--json", env=stand_ins)
    report = json.loads(res.stdout)
    assert res.returncode == 0 and report["ok"], res.stdout + res.stderr
