"""HEVC intra via ffmpeg's libx265: level = constant QP 0..51 (lower QP = more bits).

The bitstream is the bare Annex-B ``.hevc`` stream (x265's info SEI switched off, so no
kilobyte of encoder banner inflates small images). Defaults QP 47, 40, 33, 26 span about
0.1-1.2 bpp on photos; the paper's HM anchors used QP 40-53 (QP tops out at 51 in HEVC).
"""

from __future__ import annotations

from typing import Mapping

from cvb.options import as_choice

from .ffmpeg_codec import FfmpegCodec

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow", "placebo")


class X265Codec(FfmpegCodec):
    name = "x265"
    stream_format = "hevc"
    default_levels = ("47", "40", "33", "26")
    level_min, level_max = 0, 51
    higher_level_higher_rate = False
    needs_even_420 = True
    min_side = 16  # libx265: "Image size is too small" under 16 pixels a side
    option_names = ("chroma", "preset", "timeout")

    def __init__(self, preset: object = "medium", **options: object):
        self.preset = as_choice("x265", "preset", preset, PRESETS)
        super().__init__(**options)

    def params(self) -> Mapping[str, object]:
        return {**super().params(), "preset": self.preset}

    def encoder_args(self, level: str) -> list[str]:
        return ["-c:v", "libx265", "-preset", self.preset,
                "-x265-params", f"qp={int(level)}:keyint=1:info=0:log-level=error"]
