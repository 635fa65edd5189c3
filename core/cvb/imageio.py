"""Reading images into RGB, with errors that name the file."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from .errors import ImageLoadError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def decode_image(data: bytes, name: str = "<bytes>") -> "Image.Image":
    """Decode fully (so truncation is caught here, not later) and convert to RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # pixels are in memory now: the image outlives the closed file
            return im if im.mode == "RGB" else im.convert("RGB")  # convert() would copy
    except UnidentifiedImageError:  # its message holds a BytesIO repr: say it plainly
        raise ImageLoadError(f"cannot read image {name}: not a recognised image format") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageLoadError(f"cannot read image {name}: {exc}") from exc


def load_image(path: str) -> "Image.Image":
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ImageLoadError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    return decode_image(data, name=path)
