"""The Pillow-backed codecs: real bitstreams, rate and fidelity that grow with the level."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from cvb.codecs.base import compress, sort_levels
from cvb.errors import CodecError, UnknownLevelError, UsageError
from cvb.plugins import Registry
from cvb.sample_images import sample_photo_paths

PILLOW_CODECS = ("jpeg", "webp", "avif", "jpeg2000", "heif", "jxl")

#: how each codec's bitstream starts: proof that the bytes are the real file format
SIGNATURES = {
    "jpeg": lambda b: b[:2] == b"\xff\xd8",
    "webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "avif": lambda b: b[4:8] == b"ftyp" and b"avif" in b[8:32],
    "jpeg2000": lambda b: b[:4] == b"\xff\x4f\xff\x51",  # raw codestream: SOC then SIZ
    "heif": lambda b: b[4:8] == b"ftyp" and b"heic" in b[8:32],
    "jxl": lambda b: b[:2] == b"\xff\x0a",
}


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255.0**2 / np.mean((x - y) ** 2)))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A 191x127 crop of a real photo (odd sizes on purpose: chroma subsampling edge cases)."""
    with Image.open(sample_photo_paths()["coffee"]) as im:
        return im.convert("RGB").crop((180, 120, 371, 247))


@pytest.fixture(scope="module")
def registry() -> Registry:
    import cvb_pillow.plugin
    from cvb.plugins import PluginInfo

    reg = Registry()
    reg.add_plugin(cvb_pillow.plugin, PluginInfo("pillow", "cvb", "0", "cvb_pillow.plugin"))
    return reg


def test_all_registered_and_usable(registry):
    assert set(registry.names("codec")) == set(PILLOW_CODECS)
    for spec in registry.specs("codec"):
        assert spec.status() is None, (spec.name, spec.status())
        assert spec.kind == "traditional"


@pytest.mark.parametrize("name", PILLOW_CODECS)
def test_spec_levels_match_codec_and_run_lowest_rate_first(registry, name):
    spec = registry.spec("codec", name)
    codec = spec.create()
    assert tuple(spec.levels) == codec.default_levels
    assert len(codec.default_levels) == 4
    assert sort_levels(codec, reversed(codec.default_levels)) == list(codec.default_levels)


@pytest.mark.parametrize("name", PILLOW_CODECS)
def test_round_trip_rate_and_quality_grow_with_level(registry, photo, name):
    codec = registry.create("codec", name)
    results = [compress(codec, photo, lv) for lv in codec.default_levels]
    for c in results:
        assert SIGNATURES[name](c.bits), f"{name} bitstream does not look like its format"
        assert c.image.size == photo.size and c.image.mode == "RGB"
    bpps = [c.bpp for c in results]
    quality = [psnr(photo, c.image) for c in results]
    assert bpps == sorted(bpps) and len(set(bpps)) == len(bpps), bpps
    assert quality == sorted(quality), quality
    assert quality[0] > 15 and quality[-1] < 60  # lossy, but a picture


@pytest.mark.parametrize("name", PILLOW_CODECS)
def test_deterministic_and_decodable_by_a_fresh_instance(registry, photo, name):
    codec = registry.create("codec", name)
    level = codec.default_levels[1]
    bits = codec.encode(photo, level)
    assert codec.encode(photo, level) == bits
    again = registry.create("codec", name).decode(bits)
    assert np.array_equal(np.asarray(again), np.asarray(codec.decode(bits)))


@pytest.mark.parametrize("name", PILLOW_CODECS)
def test_garbage_is_a_codec_error(registry, name):
    codec = registry.create("codec", name)
    with pytest.raises(CodecError):
        codec.decode(b"\x00\x01not an image at all" * 4)


def test_versions_name_the_library_that_makes_the_bits(registry):
    from PIL import features

    assert features.version("libjpeg_turbo") in registry.create("codec", "jpeg").version
    assert features.version("webp") in registry.create("codec", "webp").version
    assert features.version("jpg_2000") in registry.create("codec", "jpeg2000").version
    assert "libavif-" in registry.create("codec", "avif").version
    assert "x265-" in registry.create("codec", "heif").version
    assert "pillow-jxl-plugin-" in registry.create("codec", "jxl").version


def test_jpeg2000_level_is_a_compression_ratio(registry, photo):
    codec = registry.create("codec", "jpeg2000")
    for ratio in (96, 24):
        bpp = compress(codec, photo, str(ratio)).bpp
        assert bpp == pytest.approx(24 / ratio, rel=0.2)


def test_options_change_params_and_bits(registry, photo):
    a = registry.create("codec", "jpeg")
    b = registry.create("codec", "jpeg", subsampling="4:4:4", optimize="true")
    assert a.params() != b.params()
    assert a.encode(photo, "50") != b.encode(photo, "50")
    heif444 = registry.create("codec", "heif", chroma="444")
    assert heif444.params()["chroma"] == "444"


def test_bad_levels_and_options_are_usage_errors(registry, photo):
    jpeg = registry.create("codec", "jpeg")
    with pytest.raises(UnknownLevelError, match="1..100"):
        jpeg.encode(photo, "0")
    with pytest.raises(UnknownLevelError):
        jpeg.parse_level("high")
    with pytest.raises(UsageError, match="unknown option"):
        registry.create("codec", "webp", quality=5)
    with pytest.raises(UsageError, match="0..6"):
        registry.create("codec", "webp", method="9")
    with pytest.raises(UsageError, match="choose one of"):
        registry.create("codec", "avif", subsampling="4:1:1")


def test_missing_plugin_package_says_what_to_install(registry, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pillow_heif", "pillow_jxl") else real(name, *a))
    assert "pip install pillow-heif" in registry.spec("codec", "heif").status()
    assert "pip install pillow-jxl-plugin" in registry.spec("codec", "jxl").status()


def test_pillow_without_a_codec_says_so(registry, monkeypatch):
    from PIL import features

    monkeypatch.setattr(features, "check", lambda feature: feature != "avif")
    reason = registry.spec("codec", "avif").status()
    assert "AVIF" in reason and "pip install" in reason
    assert registry.spec("codec", "jpeg").status() is None


def test_avif_bitstream_does_not_depend_on_the_cpus(registry, monkeypatch):
    """libaom writes one AVIF with one encoder thread and another with two or more, and
    Pillow's default is one thread per CPU: cvb encodes on at least two threads, its thread
    budget when it has more (``-j`` workers' share, or every CPU alone), so the bytes (and the
    cache key's promise) hold on any machine and in any -j worker, whatever its thread budget."""
    import io

    from PIL import AvifImagePlugin

    with Image.open(sample_photo_paths()["coffee"]) as im:
        image = im.convert("RGB")
    codec = registry.create("codec", "avif")
    assert codec.version.endswith("/row-mt")  # older entries (1 thread, or threads = CPUs) are not reused

    def pillow(threads: int, quality: int) -> bytes:
        buf = io.BytesIO()
        image.save(buf, format="AVIF", quality=quality, speed=6, subsampling="4:2:0", max_threads=threads)
        return buf.getvalue()

    for level in ("10", "70"):
        made, used = set(), []
        for budget in (1, 2, 4, 16):  # a -j worker's share ... every CPU of a big machine
            monkeypatch.setenv("CVB_THREADS", str(budget))
            monkeypatch.setattr(AvifImagePlugin, "DEFAULT_MAX_THREADS", 1)  # never Pillow's default
            used.append(codec.save_args(level)["max_threads"])
            made.add(codec.encode(image, level))
        assert used == [2, 2, 4, 16]  # threads given back when the budget has them
        assert len(made) == 1, f"level {level}: the bitstream changed with the thread count"
        assert made == {pillow(3, int(level))}
        # the reason for two at least: one thread writes another file
        assert pillow(1, int(level)) != pillow(2, int(level))
