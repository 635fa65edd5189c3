"""The images and questions conformance checks feed components: real photos when installed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

#: sample photos the checks use, smallest first (both from scikit-image, bundled offline)
PHOTOS = ("chelsea", "coffee")


def synthetic(width: int, height: int, seed: int = 0) -> "Image.Image":
    """A smooth colour gradient with texture: compressible, but not trivially."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / max(width, 1), y / max(height, 1), (x + y) / max(width + height, 1)], -1) * 200
    noise = rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(base + noise + 20, 0, 255).astype(np.uint8), "RGB")


def photos(count: int = len(PHOTOS)) -> dict[str, "Image.Image"]:
    """``count`` real photos by name (synthetic stand-ins where scikit-image is missing)."""
    from PIL import Image

    from ..sample_images import sample_photo_paths

    found = sample_photo_paths()
    out = {}
    for i, name in enumerate(PHOTOS[:count]):
        if name in found:
            with Image.open(found[name]) as im:
                out[name] = im.convert("RGB")
        else:
            out[f"synthetic-{i}"] = synthetic(480, 320, seed=i)
    return out


def load_images(paths) -> dict[str, "Image.Image"]:
    """Paths (or PIL images, kept as they are) by name."""
    from ..imageio import decode_image

    out = {}
    for i, p in enumerate(paths):
        if hasattr(p, "convert"):
            out[f"image-{i}"] = p.convert("RGB")
            continue
        with open(p, "rb") as fh:
            out[str(p)] = decode_image(fh.read(), name=str(p))
    return out


def odd_size_image(width: int, height: int) -> "Image.Image":
    """A photo resized to the size (synthetic where no photo is installed)."""
    from PIL import Image

    base = next(iter(photos(1).values()))
    return base.resize((width, height), Image.Resampling.BICUBIC)
