"""JPEG 2000 through Pillow's OpenJPEG: level = compression ratio (higher = fewer bits).

OpenJPEG's rate control targets ``24 / ratio`` bpp for an 8-bit RGB image, so the level
reads directly as a rate: 192 -> 0.125 bpp, 16 -> 1.5 bpp. Irreversible 9/7 wavelet with
the colour transform (``mct=1``), one quality layer, raw codestream (no JP2 box overhead).
"""

from __future__ import annotations

from typing import Any, Mapping

from cvb.options import reject_unknown

from .base import PillowCodec


class Jpeg2000Codec(PillowCodec):
    name = "jpeg2000"
    format = "JPEG2000"
    default_levels = ("192", "64", "32", "16")  # about 0.125, 0.375, 0.75, 1.5 bpp
    level_min, level_max = 2, 2400  # 12 bpp .. 0.01 bpp
    higher_level_higher_rate = False

    def __init__(self, **unknown: object):
        reject_unknown(self.name, unknown, ())
        from PIL import __version__ as pillow_version
        from PIL import features

        self.version = f"pillow-{pillow_version}/openjpeg-{features.version('jpg_2000')}"

    def params(self) -> Mapping[str, object]:
        return {"mct": 1, "irreversible": True, "codestream": "j2k", "layers": 1}

    def save_args(self, level: str) -> dict[str, Any]:
        return {
            "quality_mode": "rates",
            "quality_layers": [int(level)],
            "irreversible": True,
            "mct": 1,
            "no_jp2": True,
        }
