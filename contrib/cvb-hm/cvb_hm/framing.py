"""The true size of an odd-sized image coded in 4:2:0 (HEVC codes only even sizes there).

Only then are the bits prefixed with ``b"CVBS"`` and two big-endian 16-bit sizes (8 bytes,
counted in the bpp); otherwise they are exactly the .bin HM wrote. Same convention as cvb's
built-in ``x265`` codec. Annex-B streams start with a zero byte, never with ``C``.
"""

from __future__ import annotations

import struct

import numpy as np

MAGIC = b"CVBS"
_HEADER = struct.Struct(">4sHH")


def frame(stream: bytes, size: tuple[int, int] | None) -> bytes:
    return stream if size is None else _HEADER.pack(MAGIC, *size) + stream


def unframe(bits: bytes) -> tuple[bytes, tuple[int, int] | None]:
    if bits[:4] == MAGIC and len(bits) >= _HEADER.size:
        _, w, h = _HEADER.unpack_from(bits)
        return bits[_HEADER.size:], (w, h)
    return bits, None


def pad_to_even(image):
    """(padded image, true size) for odd sizes; (image, None) when already even."""
    from PIL import Image

    w, h = image.size
    if w % 2 == 0 and h % 2 == 0:
        return image, None
    arr = np.pad(np.asarray(image), ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return Image.fromarray(arr, "RGB"), (w, h)
