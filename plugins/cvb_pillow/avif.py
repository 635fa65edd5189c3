"""AVIF (AV1 intra in HEIF) through Pillow's native libavif: level = quality 0..100.

The encoder runs on one thread, always. libaom writes another bitstream with one thread than
with several (row-based multi-threading), and Pillow's default is one thread per CPU of the
process, so the same image and quality gave different files, bpp and metrics on machines, or
``-j`` workers, with another number of CPUs, under one cache key. One thread is the setting
whose output no machine changes; ``-j`` workers are the way to use more cores. (Checked with
libaom 3.14: 1 thread gives one bitstream, 2 to 16 threads another; tested in
tests/test_codecs_pillow.py.)
"""

from __future__ import annotations

from typing import Any, Mapping

from cvb.options import as_choice, as_int, reject_unknown

from .base import SUBSAMPLING, PillowCodec


def avif_encoder_version() -> str:
    """e.g. ``aom-3.14.1``: the AV1 encoder inside libavif decides the bitstream."""
    from PIL import _avif

    parts = []
    for item in _avif.codec_versions().split(","):
        name, _, ver = item.strip().partition(":")
        if "[enc]" in name or "enc/dec" in name:
            parts.append(f"{name.split()[0]}-{ver}")
    return "+".join(parts) or "unknown-encoder"


class AvifCodec(PillowCodec):
    """Defaults 10, 30, 50, 70 span about 0.15-1.3 bpp on photos."""

    name = "avif"
    format = "AVIF"
    default_levels = ("10", "30", "50", "70")
    level_min, level_max = 0, 100
    #: libavif's ``maxThreads`` for encoding: fixed, so the bitstream does not depend on the CPUs
    ENCODER_THREADS = 1

    def __init__(self, speed: object = 6, subsampling: str = "4:2:0", **unknown: object):
        reject_unknown(self.name, unknown, ("speed", "subsampling"))
        from PIL import __version__ as pillow_version
        from PIL import features

        self.speed = as_int(self.name, "speed", speed, 0, 10)  # 0 slowest/best .. 10 fastest
        self.subsampling = as_choice(self.name, "subsampling", subsampling, SUBSAMPLING)
        self.version = (
            f"pillow-{pillow_version}/libavif-{features.version('avif')}/{avif_encoder_version()}"
            f"/threads-{self.ENCODER_THREADS}"  # entries made with Pillow's per-CPU default differ
        )

    def params(self) -> Mapping[str, object]:
        return {"speed": self.speed, "subsampling": self.subsampling}

    def save_args(self, level: str) -> dict[str, Any]:
        return {"quality": int(level), "speed": self.speed, "subsampling": self.subsampling,
                "max_threads": self.ENCODER_THREADS}
