"""RGB <-> planar 8-bit Y'CbCr files as reference video codecs (HM, VTM) read and write them
(no header, Y then Cb, Cr).

BT.601 matrix, limited ("TV") range: the same conversion ffmpeg applies to untagged video, so
HM and VTM results line up with cvb's ``x265`` codec. 4:2:0 chroma is the mean of each 2x2 block
(centre-sited) and comes back by bilinear interpolation; 4:2:0 needs even sizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

# rows: Y, Cb, Cr; R'G'B' in [0, 1] -> 8-bit studio-range codes
_M = np.array([
    [65.481, 128.553, 24.966],
    [-37.797, -74.203, 112.0],
    [112.0, -93.786, -18.214],
])
_OFFSET = np.array([16.0, 128.0, 128.0])
_M_INV = np.linalg.inv(_M)


def plane_sizes(width: int, height: int, chroma: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((luma w, h), (chroma w, h))."""
    if chroma == "444":
        return (width, height), (width, height)
    return (width, height), ((width + 1) // 2, (height + 1) // 2)


def frame_bytes(width: int, height: int, chroma: str) -> int:
    (lw, lh), (cw, ch) = plane_sizes(width, height, chroma)
    return lw * lh + 2 * cw * ch


def rgb_to_yuv(image: "Image.Image", chroma: str) -> bytes:
    w, h = image.size
    if chroma == "420" and (w % 2 or h % 2):
        raise ValueError(f"4:2:0 needs an even size, got {w}x{h}")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    ycc = rgb @ _M.T + _OFFSET
    planes = [ycc[..., 0], ycc[..., 1], ycc[..., 2]]
    if chroma == "420":
        planes[1:] = [p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) for p in planes[1:]]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def yuv_to_rgb(data: bytes, width: int, height: int, chroma: str) -> "Image.Image":
    from PIL import Image

    (lw, lh), (cw, ch) = plane_sizes(width, height, chroma)
    need = frame_bytes(width, height, chroma)
    if len(data) < need:
        raise ValueError(f"decoded YUV has {len(data)} bytes, a {width}x{height} {chroma} frame needs {need}")
    buf = np.frombuffer(data[:need], dtype=np.uint8)
    y = buf[: lw * lh].reshape(lh, lw).astype(np.float64)
    cb = buf[lw * lh : lw * lh + cw * ch].reshape(ch, cw)
    cr = buf[lw * lh + cw * ch :].reshape(ch, cw)
    if chroma == "420":
        cb, cr = (np.asarray(Image.fromarray(p, "L").resize((lw, lh), Image.Resampling.BILINEAR)) for p in (cb, cr))
    ycc = np.stack([y, cb.astype(np.float64), cr.astype(np.float64)], axis=-1) - _OFFSET
    rgb = ycc @ _M_INV.T
    return Image.fromarray(np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8), "RGB")
