"""JPEG XL through pillow-jxl-plugin (libjxl): level = quality 0..100 (libjxl maps it to
a butteraugli distance; 100 is not lossless here, lossless mode is never used)."""

from __future__ import annotations

from importlib import metadata
from typing import Any, Mapping

from cvb.options import as_int, reject_unknown

from .base import PillowCodec


class JxlCodec(PillowCodec):
    """Defaults 0, 20, 50, 80 span about 0.2-1.3 bpp on photos."""

    name = "jxl"
    format = "JXL"
    default_levels = ("0", "20", "50", "80")
    level_min, level_max = 0, 100

    def __init__(self, effort: object = 7, **unknown: object):
        reject_unknown(self.name, unknown, ("effort",))
        self.effort = as_int(self.name, "effort", effort, 1, 9)  # libjxl: 1 fastest .. 9 best
        # the plugin bundles its own libjxl (jpegxl-rs); its version pins the bitstream
        self.version = f"pillow-jxl-plugin-{metadata.version('pillow-jxl-plugin')}"

    def params(self) -> Mapping[str, object]:
        return {"effort": self.effort}

    def prepare_pillow(self) -> None:
        import pillow_jxl.JpegXLImagePlugin  # noqa: F401 - registers the JXL opener/saver

    def save_args(self, level: str) -> dict[str, Any]:
        # lossless_jpeg=False: never losslessly re-wrap a source that Pillow opened as JPEG
        return {"quality": int(level), "effort": self.effort, "lossless": False, "lossless_jpeg": False}
