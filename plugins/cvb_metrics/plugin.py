"""Registers the image-quality metrics. Imports nothing heavy: checks look for files only."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import MetricSpec

from .weights import dists_status, lpips_status, piq_status

_DEVICE = "torch device: cpu (default), cuda, cuda:1, or auto"


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="psnr", factory="cvb_metrics.psnr:PSNR", kind="signal", higher_is_better=True,
        summary="PSNR in dB over RGB 8-bit samples (numpy); identical images score the cap",
        options={"cap_db": "value for identical images and upper bound (default 100)"},
    ))
    register(MetricSpec(
        name="ssim", factory="cvb_metrics.ssim:SSIM", kind="structural", higher_is_better=True,
        summary="SSIM (piq, RGB, 11-tap Gaussian, full resolution); 1 = identical",
        check=piq_status, options={"device": _DEVICE,
                                   "downsample": "true: pool large images first as Wang's Matlab "
                                                 "ssim.m does (default false, as scikit-image)"},
    ))
    register(MetricSpec(
        name="ms-ssim", factory="cvb_metrics.ssim:MSSSIM", kind="structural",
        higher_is_better=True, check=piq_status, options={"device": _DEVICE},
        summary="MS-SSIM (piq, RGB, 5 scales; fewer below 161 px short side); 1 = identical",
    ))
    register(MetricSpec(
        name="lpips", factory="cvb_metrics.learned:LPIPS", kind="learned", higher_is_better=False,
        summary="LPIPS v0.1 (lpips package, AlexNet trunk); 0 = identical, lower is better",
        check=lpips_status,  # the default AlexNet trunk; net=vgg is checked when created
        options={"net": "trunk: alex (default) or vgg", "device": _DEVICE},
    ))
    register(MetricSpec(
        name="dists", factory="cvb_metrics.learned:DISTS", kind="learned", higher_is_better=False,
        summary="DISTS (piq, VGG16 trunk); 0 = identical, lower is better",
        check=dists_status, options={"device": _DEVICE},
    ))
