"""Lossy WebP (VP8 intra) through Pillow's libwebp: level = quality 0..100."""

from __future__ import annotations

from typing import Any, Mapping

from cvb.options import as_int, reject_unknown

from .base import PillowCodec


class WebpCodec(PillowCodec):
    """Defaults 0, 10, 50, 80 span about 0.15-1.3 bpp on photos. Always 4:2:0 (VP8)."""

    name = "webp"
    format = "WEBP"
    default_levels = ("0", "10", "50", "80")
    level_min, level_max = 0, 100

    def __init__(self, method: object = 4, **unknown: object):
        reject_unknown(self.name, unknown, ("method",))
        from PIL import __version__ as pillow_version
        from PIL import features

        self.method = as_int(self.name, "method", method, 0, 6)  # effort: 0 fast .. 6 best
        self.version = f"pillow-{pillow_version}/libwebp-{features.version('webp')}"

    def params(self) -> Mapping[str, object]:
        return {"method": self.method}

    def save_args(self, level: str) -> dict[str, Any]:
        return {"quality": int(level), "method": self.method, "lossless": False}
