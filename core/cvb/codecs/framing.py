"""A size header for the one case where the raw stream cannot carry the picture size.

Shared by external video-codec plugins (cvb's ``x265``, ``cvb-hm``, ``cvb-vtm``). HEVC in 4:2:0
can only code even widths and heights (its conformance window counts in
chroma samples), so an odd-sized image is edge-padded by one pixel (an image under an
encoder's smallest picture, to that size) and the true size must travel with the stream. Only
then do the bits start with ``b"CVBS"`` and two 16-bit sizes
(8 bytes, counted in the bpp like any header); otherwise they are the bare stream, playable
as is. No Annex-B HEVC stream starts with ``C`` (they start with a 0x000001 start code).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from cvb.errors import CodecError

if TYPE_CHECKING:
    from PIL import Image

MAGIC = b"CVBS"
_HEADER = struct.Struct(">4sHH")


def frame(stream: bytes, size: tuple[int, int] | None) -> bytes:
    """Prefix the true ``(width, height)`` when given; else return the stream unchanged."""
    if size is None:
        return stream
    w, h = size
    if not (0 < w < 65536 and 0 < h < 65536):
        raise CodecError(f"image size {w}x{h} does not fit the 16-bit size header")
    return _HEADER.pack(MAGIC, w, h) + stream


def unframe(bits: bytes) -> tuple[bytes, tuple[int, int] | None]:
    if bits[:4] == MAGIC:
        if len(bits) < _HEADER.size:
            raise CodecError("bitstream too short for its size header")
        _, w, h = _HEADER.unpack_from(bits)
        return bits[_HEADER.size:], (w, h)
    return bits, None


def pad_to_even(image: Image.Image, minimum: int = 0,
                even: bool = True) -> tuple[Image.Image, tuple[int, int] | None]:
    """Edge-replicate to even width and height (``even``), each at least ``minimum`` pixels (an
    encoder's smallest picture: libx265 refuses a side under 16); returns the padded image and
    the true size, or the image and None when nothing needed padding."""
    import numpy as np
    from PIL import Image

    w, h = image.size
    new_w, new_h = max(w, minimum), max(h, minimum)
    if even:
        new_w, new_h = new_w + new_w % 2, new_h + new_h % 2
    if (new_w, new_h) == (w, h):
        return image, None
    arr = np.asarray(image)
    arr = np.pad(arr, ((0, new_h - h), (0, new_w - w), (0, 0)), mode="edge")
    return Image.fromarray(arr, "RGB"), (w, h)
