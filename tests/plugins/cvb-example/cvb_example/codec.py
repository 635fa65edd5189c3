"""A real (if naive) codec: quantise to a palette of 2**level colours, store as PNG."""

import io

from PIL import Image

from cvb.codecs.base import BaseCodec
from cvb.types import CodecKind


class PaletteCodec(BaseCodec):
    name = "palette"
    kind = CodecKind.TRADITIONAL
    version = "1"
    default_levels = ("2", "4", "6", "8")
    level_min, level_max = 1, 8  # bits of palette index

    def encode(self, image: Image.Image, level: str) -> bytes:
        quantised = image.quantize(colors=2 ** int(level), method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        quantised.save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def decode(self, bits: bytes) -> Image.Image:
        with Image.open(io.BytesIO(bits)) as im:
            return im.convert("RGB")
