"""The separately installable HM plugin (contrib/cvb-hm), without HM.

HM is not available here, so its binaries are stood in for by small scripts that take HM's
command line and do the work with ffmpeg's HEVC encoder and decoder: the argv cvb builds,
the YUV files, the SPS parsing and the colour conversion are all exercised on real HEVC.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from PIL import Image

import video_stand_ins
from conftest import ROOT
from cvb.codecs.base import compress
from cvb.errors import ExternalToolError, UnavailableError, UsageError
from cvb.plugins import PluginInfo, Registry
from cvb.sample_images import sample_photo_paths

CONTRIB = ROOT / "contrib" / "cvb-hm"
sys.path.insert(0, str(CONTRIB))

from cvb_hm import plugin as hm_plugin
from cvb_hm.codec import HMCodec
from cvb_hm.hevc_sps import parse_sps
from cvb.codecs.yuv import frame_bytes, rgb_to_yuv, yuv_to_rgb

def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255.0**2 / np.mean((x - y) ** 2)))


@pytest.fixture
def fake_hm(tmp_path, monkeypatch):
    """Fake TAppEncoder/TAppDecoder via the env vars; returns the encoder's argv log."""
    log = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_CODEC_LOG", str(log))
    banner = "HM software: Encoder Version [16.20-fake] (including RExt)[Linux][64 bit]"
    encoder = video_stand_ins.encoder(tmp_path / "TAppEncoder", banner, video_stand_ins.HM_CHECKS)
    monkeypatch.setenv("CVB_HM_ENCODER", str(encoder))
    monkeypatch.setenv("CVB_HM_DECODER", str(video_stand_ins.decoder(tmp_path / "TAppDecoder")))
    return log


@pytest.fixture
def no_hm(tmp_path, monkeypatch):
    monkeypatch.delenv("CVB_HM_ENCODER", raising=False)
    monkeypatch.delenv("CVB_HM_DECODER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    with Image.open(sample_photo_paths()["chelsea"]) as im:
        return im.convert("RGB").crop((150, 80, 278, 176))


def hevc(image: Image.Image, pix_fmt: str) -> bytes:
    """A real HEVC stream of ``image`` from ffmpeg's libx265."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{image.width}x{image.height}", "-i", "-", "-pix_fmt", pix_fmt, "-c:v", "libx265",
         "-x265-params", "qp=30:info=0:log-level=error", "-f", "hevc", "-"],
        input=image.tobytes(), capture_output=True, check=True)
    return out.stdout


def test_package_declares_its_entry_point():
    meta = tomllib.loads((CONTRIB / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["cvb"] == {"hm": "cvb_hm.plugin"}
    assert "cvb" in meta["project"]["dependencies"]
    assert (CONTRIB / "README.md").read_text().count("CVB_HM_ENCODER") >= 1


def test_registers_hm_with_missing_binary_status(no_hm):
    reg = Registry()
    reg.add_plugin(hm_plugin, PluginInfo("hm", "cvb-hm", "0.1.0", "cvb_hm.plugin"))
    spec = reg.spec("codec", "hm")
    assert spec.levels == ("51", "47", "44", "40")
    reason = spec.status()
    assert "TAppEncoder" in reason and "TAppDecoder" in reason
    assert "CVB_HM_ENCODER" in reason and "PATH" in reason
    with pytest.raises(UnavailableError, match="not usable here"):
        reg.create("codec", "hm")
    codec = reg.create("codec", "hm", check=False)
    assert codec.version == "hm-missing"
    with pytest.raises(UnavailableError, match="CVB_HM_ENCODER"):
        codec.encode(Image.new("RGB", (16, 16)), "40")


def test_status_ok_with_env_binaries(fake_hm):
    reg = Registry()
    reg.add_plugin(hm_plugin, PluginInfo("hm", "cvb-hm", "0.1.0", "cvb_hm.plugin"))
    assert reg.spec("codec", "hm").status() is None


def test_encoder_argv_is_intra_one_frame_at_the_level_qp(fake_hm, tmp_path):
    cfg = tmp_path / "encoder_intra_main.cfg"
    cfg.write_text("QP : 32\n")
    codec = HMCodec(chroma="444", config=str(cfg))
    argv = codec.encode_argv(47, (64, 48), tmp_path / "in.yuv", tmp_path / "out.bin",
                             (tmp_path / "d.cfg", tmp_path / "c.cfg"))
    assert argv[0].endswith("TAppEncoder")
    assert argv[1:5] == ["-c", str(tmp_path / "d.cfg"), "-c", str(tmp_path / "c.cfg")]
    pairs = dict(zip(argv[5::2], argv[6::2]))
    assert pairs["-q"] == "47" and pairs["-wdt"] == "64" and pairs["-hgt"] == "48" and pairs["-f"] == "1"
    for flag in ("--InputChromaFormat=444", "--ChromaFormatIDC=444", "--IntraPeriod=1",
                 "--ConformanceWindowMode=1", "--InternalBitDepth=8", "--SEIDecodedPictureHash=0",
                 "--Profile=main-RExt"):
        assert flag in argv
    assert codec.decode_argv(tmp_path / "a.bin", tmp_path / "r.yuv")[1:] == [
        "-b", str(tmp_path / "a.bin"), "-o", str(tmp_path / "r.yuv"), "-d", "8"]
    assert codec.version == "hm-16.20-fake"
    assert len(codec.params()["config_sha256"]) == 16 and len(codec.params()["default_config_sha256"]) == 16
    before = codec.params()
    cfg.write_text("QP : 22\n")  # the instance keeps its snapshot; a new one sees the change
    assert codec.params() == before
    assert HMCodec(chroma="444", config=str(cfg)).params() != before


def test_levels_and_options():
    codec = HMCodec()
    assert codec.higher_level_higher_rate is False and codec.parse_level(" 40 ") == "40"
    with pytest.raises(UsageError, match="0..51"):
        codec.parse_level("53")  # HEVC's QP stops at 51
    with pytest.raises(UsageError, match="choose one of"):
        HMCodec(chroma="422")
    with pytest.raises(UnavailableError, match="not found"):
        HMCodec(config="/nonexistent/intra.cfg")


@pytest.mark.parametrize("chroma,size", [("444", (451, 300)), ("420", (452, 300)), ("420", (64, 64))])
def test_sps_gives_the_decoded_size(photo, chroma, size):
    image = Image.new("RGB", size, (90, 140, 200))
    image.paste(photo, (0, 0))
    sps = parse_sps(hevc(image, {"444": "yuv444p", "420": "yuv420p"}[chroma]))
    assert (sps.width, sps.height) == size
    assert sps.coded_width % 8 == 0 and sps.coded_height % 8 == 0
    assert sps.chroma_format_idc == {"444": 3, "420": 1}[chroma] and sps.bit_depth_luma == 8


def test_sps_missing_is_an_error():
    with pytest.raises(ValueError, match="no sequence parameter set"):
        parse_sps(b"\x00\x00\x01\x40\x01\x0c")  # a VPS header only


@pytest.mark.parametrize("chroma,floor", [("444", 45.0), ("420", 30.0)])
def test_yuv_round_trip(photo, chroma, floor):
    data = rgb_to_yuv(photo, chroma)
    assert len(data) == frame_bytes(*photo.size, chroma)
    back = yuv_to_rgb(data, *photo.size, chroma)
    assert back.size == photo.size and psnr(photo, back) > floor


def test_full_round_trip_through_hm_command_lines(fake_hm, photo, tmp_path):
    cfg = tmp_path / "intra.cfg"
    cfg.write_text("# user config\n")
    codec = HMCodec(config=str(cfg))
    low, high = compress(codec, photo, "47"), compress(codec, photo, "30")
    assert low.bits[:4] == b"\x00\x00\x00\x01"  # exactly the .bin the encoder wrote
    assert low.image.size == photo.size and low.bpp < high.bpp
    assert psnr(photo, low.image) < psnr(photo, high.image) and psnr(photo, high.image) > 30
    logged = [ast.literal_eval(line) for line in fake_hm.read_text().splitlines()]
    encodes = [argv for argv in logged if "-q" in argv]
    assert [argv[argv.index("-q") + 1] for argv in encodes] == ["47", "30"]
    # HM's own all-intra .cfg first (without it HM 16.7 refuses every picture), the user's second
    assert all(argv[0] == "-c" and argv[1].endswith("default.cfg") and argv[2] == "-c"
               and argv[3].endswith("encoder.cfg") for argv in encodes)


def test_the_shipped_intra_config_is_what_makes_hm_encode(fake_hm, photo):
    """The stand-in applies HM 16.7's own check (QuadtreeTULog2MaxSize defaults to 6, "must be 5
    or smaller"): without the shipped encoder_intra_main.cfg every encode fails, as with real HM."""
    bare = HMCodec()
    bare.default_config, bare._default_text = None, None
    with pytest.raises(ExternalToolError, match="QuadtreeTULog2MaxSize must be 5 or smaller"):
        bare.encode(photo, "40")
    codec = HMCodec()
    assert codec.default_config.name == "encoder_intra_main.cfg"
    assert "QuadtreeTULog2MaxSize         : 5" in codec.default_config.read_text()
    assert compress(codec, photo, "40").image.size == photo.size


def test_odd_size_420_is_padded_and_restored(fake_hm, photo):
    odd = photo.crop((0, 0, 101, 77))
    result = compress(HMCodec(), odd, "35")
    assert result.bits[:4] == b"CVBS" and result.image.size == (101, 77)
    assert psnr(odd, result.image) > 28
