"""Codecs on external binaries (ffmpeg): real streams, failures that carry the tool's stderr."""

from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest
from PIL import Image

from cvb.codecs.base import compress, sort_levels
from cvb.errors import ExternalToolError, UnavailableError, UsageError
from cvb.plugins import PluginInfo, Registry
from cvb.sample_images import sample_photo_paths


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255.0**2 / np.mean((x - y) ** 2)))


@pytest.fixture(scope="module")
def registry() -> Registry:
    import cvb_external.plugin

    reg = Registry()
    reg.add_plugin(cvb_external.plugin, PluginInfo("external", "cvb", "0", "cvb_external.plugin"))
    return reg


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """An even-sized 160x112 crop of a real photo."""
    with Image.open(sample_photo_paths()["motorcycle"]) as im:
        return im.convert("RGB").crop((300, 200, 460, 312))


def script(tmp_path, body: str):
    """An executable Python script standing in for a broken or hanging ffmpeg."""
    path = tmp_path / "fake-ffmpeg"
    path.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_registered_with_status(registry):
    assert set(registry.names("codec")) == {"x265", "ffmpeg-av1"}
    for spec in registry.specs("codec"):
        assert spec.status() is None, spec.status()  # scripts/setup.sh installs ffmpeg


def test_x265_bitstream_is_a_bare_annexb_stream(registry, photo):
    codec = registry.create("codec", "x265")
    bits = codec.encode(photo, "37")
    assert bits[:4] == b"\x00\x00\x00\x01"  # start code of the VPS: nothing wrapped around it
    assert b"x265" not in bits  # the encoder-banner SEI (about 1-2 kB) is switched off
    assert codec.version.startswith("ffmpeg-") and codec.params()["chroma"] == "420"


def test_x265_rate_falls_and_quality_falls_as_qp_rises(registry, photo):
    codec = registry.create("codec", "x265")
    qps = ["26", "33", "40", "47"]
    results = [compress(codec, photo, qp) for qp in qps]
    bpps = [c.bpp for c in results]
    quality = [psnr(photo, c.image) for c in results]
    assert bpps == sorted(bpps, reverse=True) and len(set(bpps)) == 4, bpps
    assert quality == sorted(quality, reverse=True), quality
    assert sort_levels(codec, qps) == ["47", "40", "33", "26"]
    assert codec.encode(photo, "33") == results[1].bits  # deterministic


def test_x265_odd_size_in_420_keeps_its_size(registry, photo):
    odd = photo.crop((0, 0, 151, 97))
    codec = registry.create("codec", "x265")
    result = compress(codec, odd, "30")
    assert result.bits[:4] == b"CVBS"  # 8-byte size header, only in this case
    assert result.image.size == (151, 97) and psnr(odd, result.image) > 28
    pure = compress(registry.create("codec", "x265", chroma="444"), odd, "30")
    assert pure.bits[:4] == b"\x00\x00\x00\x01" and pure.image.size == (151, 97)


def test_x265_near_lossless_at_qp0_proves_the_colour_path(registry, photo):
    out = compress(registry.create("codec", "x265", chroma="444"), photo, "0")
    assert psnr(photo, out.image) > 45  # limited-range 8-bit Y'CbCr round trip, nothing lost


def test_av1_round_trip(registry, photo):
    codec = registry.create("codec", "ffmpeg-av1", cpu_used=8)
    odd = photo.crop((0, 0, 97, 65))
    low, high = compress(codec, odd, "55"), compress(codec, odd, "20")
    assert low.image.size == high.image.size == (97, 65)
    assert low.bpp < high.bpp and psnr(odd, low.image) < psnr(odd, high.image)
    assert high.bits[:4] != b"CVBS"  # AV1 codes odd 4:2:0 sizes itself


def test_failing_binary_raises_with_its_stderr(registry, photo, tmp_path, monkeypatch):
    fake = script(tmp_path, 'sys.stderr.write("Unknown encoder libx265: boom\\n"); sys.exit(1)')
    monkeypatch.setenv("CVB_FFMPEG", str(fake))
    codec = registry.create("codec", "x265")
    with pytest.raises(ExternalToolError) as err:
        codec.encode(photo, "40")
    assert err.value.returncode == 1 and not err.value.timeout
    assert "boom" in err.value.stderr and "boom" in str(err.value)
    assert err.value.argv[0] == str(fake) and "qp=40:keyint=1:info=0:log-level=error" in err.value.argv


def test_hanging_binary_times_out(registry, photo, tmp_path, monkeypatch):
    codec = registry.create("codec", "ffmpeg-av1", timeout="0.5")
    fake = script(tmp_path, "time.sleep(30)")
    monkeypatch.setenv("CVB_FFMPEG", str(fake))  # looked up at each call, not at creation
    with pytest.raises(ExternalToolError) as err:
        codec.encode(photo, "40")
    assert err.value.timeout and "timed out" in str(err.value)


def test_missing_ffmpeg_says_how_to_install(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("CVB_FFMPEG", str(tmp_path / "nowhere" / "ffmpeg"))
    reason = registry.spec("codec", "x265").status()
    assert "apt-get install ffmpeg" in reason and "CVB_FFMPEG" in reason
    monkeypatch.delenv("CVB_FFMPEG")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "apt-get install ffmpeg" in registry.spec("codec", "ffmpeg-av1").status()
    with pytest.raises(UnavailableError, match="apt-get install ffmpeg"):
        registry.create("codec", "x265", check=False).encode(Image.new("RGB", (16, 16)), "30")


def test_bad_options_and_levels(registry):
    with pytest.raises(UsageError, match="choose one of"):
        registry.create("codec", "x265", chroma="422")
    with pytest.raises(UsageError, match="unknown option"):
        registry.create("codec", "x265", crf=20)
    with pytest.raises(UsageError, match="0..51"):
        registry.create("codec", "x265").parse_level("52")
    with pytest.raises(UsageError, match="0..63"):
        registry.create("codec", "ffmpeg-av1").parse_level("64")


def test_framing_round_trip():
    from cvb.codecs.framing import frame, pad_to_even, unframe

    assert unframe(frame(b"\x00\x00\x01abc", None)) == (b"\x00\x00\x01abc", None)
    assert unframe(frame(b"\x00\x00\x01abc", (451, 301))) == (b"\x00\x00\x01abc", (451, 301))
    img = Image.fromarray(np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3), "RGB")
    padded, size = pad_to_even(img)
    assert padded.size == (6, 4) and size == (5, 3)
    arr = np.asarray(padded)
    assert (arr[:3, 5] == arr[:3, 4]).all() and (arr[3] == arr[2]).all()
    assert pad_to_even(padded) == (padded, None)


def test_env_override_must_be_executable(tmp_path, monkeypatch):
    from cvb.codecs.external import find_binary

    plain = tmp_path / "ffmpeg"
    plain.write_text("")
    monkeypatch.setenv("CVB_FFMPEG", str(plain))
    assert find_binary("ffmpeg", "CVB_FFMPEG") is None
    os.chmod(plain, 0o755)
    assert find_binary("ffmpeg", "CVB_FFMPEG") == str(plain)
