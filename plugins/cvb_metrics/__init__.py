"""Built-in full-reference image-quality metrics: PSNR, SSIM, MS-SSIM, LPIPS, DISTS.

``plugin`` registers them; each metric lives in its own module and imports torch, piq or
lpips only when an instance is created, so ``cvb list metrics`` stays light.
"""
