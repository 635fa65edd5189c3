"""AVIF (AV1 intra in HEIF) through Pillow's native libavif: level = quality 0..100.

The encoder runs on at least two threads, and on this process's thread budget
(``cvb.threads.thread_budget()``: every free CPU when nothing else runs, a ``-j`` worker's share
otherwise). libaom writes one bitstream with one thread and another with two or more (row-based
multi-threading: 2 to 64 threads give the same bytes, checked with libaom 3.14 up to 1800x1400;
tested in tests/test_codecs_pillow.py), so the same image and quality give the same file on any
machine, in any ``-j`` worker, under one cache key. (cvb once pinned one thread, which made AVIF
1.77x slower wherever it ran alone, as in ``cvb compress``; entries of that version, ``/threads-1``,
are not reused.)
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
    #: libavif's ``maxThreads`` for encoding is at least this: every count from 2 up writes the
    #: same bitstream (one thread another), so the bytes do not depend on the CPUs
    MIN_ENCODER_THREADS = 2

    def __init__(self, speed: object = 6, subsampling: str = "4:2:0", **unknown: object):
        reject_unknown(self.name, unknown, ("speed", "subsampling"))
        from PIL import __version__ as pillow_version
        from PIL import features

        self.speed = as_int(self.name, "speed", speed, 0, 10)  # 0 slowest/best .. 10 fastest
        self.subsampling = as_choice(self.name, "subsampling", subsampling, SUBSAMPLING)
        self.version = (
            f"pillow-{pillow_version}/libavif-{features.version('avif')}/{avif_encoder_version()}"
            "/row-mt"  # 2+ encoder threads: entries made with one (/threads-1) or Pillow's default differ
        )

    def params(self) -> Mapping[str, object]:
        return {"speed": self.speed, "subsampling": self.subsampling}

    def save_args(self, level: str) -> dict[str, Any]:
        return {"quality": int(level), "speed": self.speed, "subsampling": self.subsampling,
                "max_threads": self.encoder_threads()}

    def encoder_threads(self) -> int:
        """This process's thread budget, at least ``MIN_ENCODER_THREADS`` (same bitstream)."""
        from cvb.threads import thread_budget

        return max(self.MIN_ENCODER_THREADS, thread_budget())
