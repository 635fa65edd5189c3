"""JPEG through Pillow's libjpeg-turbo: level = the familiar quality factor 1..100."""

from __future__ import annotations

from typing import Any, Mapping

from cvb.options import as_bool, as_choice, reject_unknown

from .base import SUBSAMPLING, PillowCodec


class JpegCodec(PillowCodec):
    """Baseline JPEG with libjpeg's standard quantisation tables scaled by quality.

    Defaults 1, 10, 30, 75 span about 0.2-1.5 bpp on photos (JPEG cannot go much below
    0.18 bpp); the paper's levels were 1, 3, 5, 6 (about 0.19-0.30 bpp).
    """

    name = "jpeg"
    format = "JPEG"
    default_levels = ("1", "10", "30", "75")
    level_min, level_max = 1, 100

    def __init__(self, subsampling: str = "4:2:0", optimize: object = False, **unknown: object):
        reject_unknown(self.name, unknown, ("subsampling", "optimize"))
        from PIL import __version__ as pillow_version
        from PIL import features

        self.subsampling = as_choice(self.name, "subsampling", subsampling, SUBSAMPLING)
        self.optimize = as_bool(self.name, "optimize", optimize)
        self.version = f"pillow-{pillow_version}/libjpeg-turbo-{features.version('libjpeg_turbo')}"

    def params(self) -> Mapping[str, object]:
        return {"subsampling": self.subsampling, "optimize": self.optimize}

    def save_args(self, level: str) -> dict[str, Any]:
        return {"quality": int(level), "subsampling": self.subsampling, "optimize": self.optimize}
