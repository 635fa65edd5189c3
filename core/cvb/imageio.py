"""Reading images into 8-bit RGB: the one decoder every image cvb reads goes through.

What it decides, deliberately (``docs/images.md`` tells users):

- **Size limit.** An image over ``CVB_MAX_IMAGE_PIXELS`` pixels (default 178,956,970, the size
  at which Pillow itself refuses a "decompression bomb"; ``0`` means no limit) is a failed
  image whose error gives its size; it is refused from its header, before any pixel is decoded.
- **EXIF orientation** is applied, as image viewers and transformers' ``load_image`` do: the
  model sees the photo upright, and codecs compress what it sees.
- **16-bit greyscale** (PNG, TIFF) is scaled from 0..65535 to 0..255 instead of clipped.
- **Animated images** (GIF, WebP, APNG): the first frame.
- **Only regular files** are read: a FIFO, socket or device named ``x.png`` is a failed image,
  never a hang.
"""

from __future__ import annotations

import glob
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import ImageLoadError, UsageError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")
MAX_PIXELS_ENV = "CVB_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 178_956_970  # 2 x Pillow's MAX_IMAGE_PIXELS: where Pillow raises
_EXIF_ORIENTATION = 0x0112
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def max_image_pixels() -> int | None:
    """The pixel limit from ``$CVB_MAX_IMAGE_PIXELS`` (None: no limit); a bad value is a usage error."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"${MAX_PIXELS_ENV}={os.environ[MAX_PIXELS_ENV]!r}: give a whole number of "
                         f"pixels (0 for no limit)")
    return value or None


def decode_image(data: bytes, name: str = "<bytes>") -> "Image.Image":
    """Decode fully (so truncation is caught here, not later) into an upright 8-bit RGB image."""
    from PIL import Image, UnidentifiedImageError

    limit = max_image_pixels()
    try:
        Image.MAX_IMAGE_PIXELS = None  # cvb checks below, naming the file and its size...
        try:
            im = Image.open(io.BytesIO(data))  # reads the header only
        finally:  # ...and Pillow's own check (codecs decoding with Pillow) follows cvb's limit
            Image.MAX_IMAGE_PIXELS = limit
        with im:
            w, h = im.size
            if limit is not None and w * h > limit:
                raise ImageLoadError(
                    f"cannot read image {name}: {w}x{h} is {w * h:,} pixels, over the limit of "
                    f"{limit:,} (a decompression bomb?); to read it, set {MAX_PIXELS_ENV} to a "
                    f"larger number of pixels (0: no limit)")
            im.load()  # pixels are in memory now: the image outlives the closed file
            return to_rgb(im)
    except UnidentifiedImageError:  # its message holds a BytesIO repr: say it plainly
        raise ImageLoadError(f"cannot read image {name}: not a recognised image format") from None
    except ImageLoadError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"cannot read image {name}: {exc}") from exc


def to_rgb(im: "Image.Image") -> "Image.Image":
    """Upright (EXIF orientation applied) 8-bit RGB; ``im`` itself when it already is."""
    from PIL import ImageOps

    if im.mode in _SIXTEEN_BIT:  # convert("RGB") would clip 0..65535 to 255: almost white
        im = im.convert("I").point(lambda v: v / 257).convert("L")
    if im.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
        im = ImageOps.exif_transpose(im)
    return im if im.mode == "RGB" else im.convert("RGB")  # convert() would copy


def read_image_file(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file; anything else (a FIFO would block forever) is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ImageLoadError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ImageLoadError(f"cannot read image {path}: it is {kind}, not an image file")
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return fh.read()
    except OSError as exc:
        raise ImageLoadError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    finally:
        if fd >= 0:
            os.close(fd)


def load_image(path: str) -> "Image.Image":
    return decode_image(read_image_file(path), name=str(path))


def collect_images(inputs: Sequence[str]) -> list[Path]:
    """Files, folders (recursive) and globs -> sorted image paths; an input matching nothing is an error."""
    found: list[Path] = []
    seen: set[Path] = set()  # a list lookup per file is quadratic: COCO train2017 has 118k images
    for item in inputs:
        p = Path(item)
        # anything but a folder is listed (a FIFO named x.png too): reading it says what is wrong
        if p.is_dir():
            matches = [q for q in sorted(p.rglob("*")) if not q.is_dir() and q.suffix.lower() in IMAGE_SUFFIXES]
        elif p.exists():
            matches = [p]
        else:
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(item), recursive=True))
                       if not Path(m).is_dir()]
        if not matches:
            raise UsageError(f"no images found at {item!r}")
        for m in matches:
            if m not in seen:
                seen.add(m)
                found.append(m)
    return found
