"""HEIF = HEVC intra (x265) in a HEIF container, through pillow-heif: level = quality 0..100.

pillow-heif maps quality onto x265's rate control; the bitstream includes the HEIF boxes
(a few hundred bytes), as a .heic file would. For the bare HEVC stream see the ``x265`` codec.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Mapping

from cvb.codecs.base import BaseCodec
from cvb.errors import CodecError
from cvb.options import as_choice, reject_unknown

if TYPE_CHECKING:
    from PIL import Image

CHROMA = ("420", "422", "444")


def heif_version() -> str:
    import pillow_heif

    info = pillow_heif.libheif_info()
    encoder = info.get("encoders", {}).get("x265") or info.get("HEIF") or "no-x265"
    encoder = encoder.replace("x265 HEVC encoder (", "x265-").rstrip(")")
    return f"pillow-heif-{pillow_heif.__version__}/libheif-{info.get('libheif')}/{encoder}"


class HeifCodec(BaseCodec):
    """Defaults 10, 20, 35, 50 span about 0.1-1.5 bpp on photos."""

    name = "heif"
    default_levels = ("10", "20", "35", "50")
    level_min, level_max = 0, 100

    def __init__(self, chroma: object = "420", **unknown: object):
        reject_unknown(self.name, unknown, ("chroma",))
        self.chroma = as_choice(self.name, "chroma", chroma, CHROMA)
        self.version = heif_version()

    def params(self) -> Mapping[str, object]:
        return {"chroma": self.chroma}

    def encode(self, image: "Image.Image", level: str) -> bytes:
        import pillow_heif

        level = self.parse_level(level)
        image = image.convert("RGB") if image.mode != "RGB" else image
        buf = io.BytesIO()
        pillow_heif.from_pillow(image).save(buf, quality=int(level), chroma=int(self.chroma))
        return buf.getvalue()

    def decode(self, bits: bytes) -> "Image.Image":
        import pillow_heif

        try:
            return pillow_heif.open_heif(io.BytesIO(bits), convert_hdr_to_8bit=True).to_pillow().convert("RGB")
        except (ValueError, RuntimeError, OSError) as exc:
            raise CodecError(f"{self.name}: cannot decode bitstream: {exc}") from exc
