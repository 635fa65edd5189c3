"""AV1 intra (still picture) via ffmpeg's libaom: level = constant-quality CRF 0..63
(lower = more bits). The bitstream is the bare low-overhead OBU stream (``.obu``).
AV1 codes odd sizes in 4:2:0 directly, so no padding or size header is ever needed.
"""

from __future__ import annotations

from typing import Mapping

from cvb.options import as_int

from .ffmpeg_codec import FfmpegCodec


class Av1Codec(FfmpegCodec):
    name = "ffmpeg-av1"
    stream_format = "obu"
    default_levels = ("58", "48", "38", "20")
    level_min, level_max = 0, 63
    higher_level_higher_rate = False
    option_names = ("chroma", "cpu_used", "timeout")

    def __init__(self, cpu_used: object = 6, **options: object):
        self.cpu_used = as_int("ffmpeg-av1", "cpu_used", cpu_used, 0, 8)  # 0 slowest/best .. 8
        super().__init__(**options)

    def params(self) -> Mapping[str, object]:
        return {**super().params(), "cpu_used": self.cpu_used}

    def encoder_args(self, level: str) -> list[str]:
        return ["-c:v", "libaom-av1", "-still-picture", "1", "-crf", str(int(level)), "-b:v", "0",
                "-cpu-used", str(self.cpu_used), "-row-mt", "1"]
