"""What every Pillow-backed codec shares: encode into memory, decode back to RGB.

A codec subclass names the Pillow format and turns a level into ``save()`` keyword arguments;
the bitstream is exactly the bytes Pillow writes, so bpp is the real file size.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from cvb.codecs.base import BaseCodec
from cvb.errors import CodecError

if TYPE_CHECKING:
    from PIL import Image

#: chroma subsampling in Pillow's notation (its JPEG and AVIF encoders take these strings)
SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")


class PillowCodec(BaseCodec):
    """Subclasses set ``name``, ``format`` and implement ``save_args(level)``."""

    format: str = ""

    def save_args(self, level: str) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare_pillow(self) -> None:
        """Register a third-party Pillow plugin (heif, jxl) before save/open; no-op by default."""

    def encode(self, image: "Image.Image", level: str) -> bytes:
        self.prepare_pillow()
        level = self.parse_level(level)
        image = image.convert("RGB") if image.mode != "RGB" else image
        buf = io.BytesIO()
        image.save(buf, format=self.format, **self.save_args(level))
        return buf.getvalue()

    def decode(self, bits: bytes) -> "Image.Image":
        from PIL import Image, UnidentifiedImageError

        self.prepare_pillow()
        try:
            with Image.open(io.BytesIO(bits), formats=[self.format]) as im:
                im.load()
                return im if im.mode == "RGB" else im.convert("RGB")  # convert() would copy
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise CodecError(f"{self.name}: cannot decode bitstream: {exc}") from exc
