"""SSIM and MS-SSIM from piq, on RGB tensors in [0, 1] (per-channel, averaged over channels).

SSIM is computed at full resolution (piq ``downsample=False``), as scikit-image, TensorFlow,
pytorch_msssim and CompressAI's evaluation do, and as the first scale of MS-SSIM is. Wang's
reference Matlab ``ssim.m`` instead average-pools images by round(min(H, W) / 256) first, which
changes the number a lot on large images (a 512 px photo with noise: 0.64 vs 0.86); the option
``downsample=true`` selects that convention.

MS-SSIM with the standard 5 scales and an 11-tap window needs a short side of at least
(11 - 1) * 2**4 + 1 = 161 px. Smaller images use the largest number of scales that fits,
with the first weights of (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) renormalised to sum 1
(so a 64 px image gets 3 scales). An image shorter than 11 px has no SSIM at all: an error.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from cvb.options import as_bool, reject_unknown

from .images import resolve_device, tensor_pair

if TYPE_CHECKING:
    from PIL import Image

KERNEL = 11
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(width: int, height: int, kernel: int = KERNEL,
                   max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """How many MS-SSIM scales an image of this size supports (0 = too small for SSIM)."""
    short = min(width, height)
    scales = 0
    while scales < max_scales and short >= (kernel - 1) * 2 ** scales + 1:
        scales += 1
    return scales


def _too_small(metric: str, size: tuple[int, int]) -> ValueError:
    return ValueError(f"{metric} needs images at least {KERNEL}x{KERNEL} px, got {size[0]}x{size[1]}")


class _PiqMetric:
    name = ""
    higher_is_better = True

    def __init__(self, device: str = "cpu", **unknown: object):
        reject_unknown(self.name, unknown, ("device",))
        self.device = resolve_device(device)
        self.version = f"piq-{metadata.version('piq')}"

    @staticmethod
    def _piq():
        from types import SimpleNamespace

        from .piq_light import piq_module

        return SimpleNamespace(ssim=piq_module("ssim").ssim,
                               multi_scale_ssim=piq_module("ms_ssim").multi_scale_ssim)


class SSIM(_PiqMetric):
    """Structural similarity (Wang et al. 2004), 1 = identical."""

    name = "ssim"

    def __init__(self, device: str = "cpu", downsample: bool | str = False, **unknown: object):
        reject_unknown(self.name, unknown, ("device", "downsample"))
        super().__init__(device)
        self.downsample = as_bool(self.name, "downsample", downsample)
        if self.downsample:  # another number: never mixed with full-resolution values
            self.version += "-downsample"

    def measure(self, reference: "Image.Image", distorted: "Image.Image") -> float:
        if min(reference.size) < KERNEL:
            raise _too_small(self.name, reference.size)
        piq = self._piq()
        import torch

        x, y = tensor_pair(reference, distorted, self.device)
        with torch.no_grad():
            return float(piq.ssim(y, x, data_range=1.0, kernel_size=KERNEL, downsample=self.downsample))


class MSSSIM(_PiqMetric):
    """Multi-scale SSIM (Wang et al. 2003), 1 = identical; fewer scales on small images."""

    name = "ms-ssim"

    def measure(self, reference: "Image.Image", distorted: "Image.Image") -> float:
        scales = ms_ssim_scales(*reference.size)
        if scales == 0:
            raise _too_small(self.name, reference.size)
        piq = self._piq()
        import torch

        x, y = tensor_pair(reference, distorted, self.device)
        weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
        with torch.no_grad():
            return float(piq.multi_scale_ssim(y, x, data_range=1.0, kernel_size=KERNEL,
                                              scale_weights=weights))
