"""PSNR over all RGB samples of 8-bit images, in numpy (no torch needed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cvb.errors import UsageError
from cvb.options import as_float, reject_unknown

from .images import rgb_pair

if TYPE_CHECKING:
    from PIL import Image

#: PSNR of identical images is infinite; a finite cap keeps means and tables meaningful.
DEFAULT_CAP_DB = 100.0


def psnr_db(reference, distorted, cap_db: float = DEFAULT_CAP_DB) -> float:
    """10*log10(255^2 / MSE), MSE over every R, G and B sample; capped at ``cap_db``.

    100 dB corresponds to MSE = 6.5e-6, far below one 8-bit step in a whole megapixel image,
    so the cap only ever replaces infinity (identical images).
    """
    import numpy as np

    diff = reference.astype(np.float64) - distorted.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float(cap_db)
    return min(float(cap_db), 10.0 * math.log10(255.0 ** 2 / mse))


class PSNR:
    """Peak signal-to-noise ratio in dB (higher is better)."""

    name = "psnr"
    higher_is_better = True

    def __init__(self, cap_db: float | str = DEFAULT_CAP_DB, **unknown: object):
        reject_unknown(self.name, unknown, ("cap_db",))
        self.cap_db = as_float(self.name, "cap_db", cap_db)
        if not self.cap_db > 0:
            raise UsageError(f"psnr: option cap_db={cap_db!r} must be positive")
        self.version = f"numpy-rgb8-cap{self.cap_db:g}"

    def measure(self, reference: "Image.Image", distorted: "Image.Image") -> float:
        ref, dis = rgb_pair(reference, distorted)
        return psnr_db(ref, dis, self.cap_db)
