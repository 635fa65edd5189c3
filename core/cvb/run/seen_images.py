"""The exact image a VLM was handed for a stored answer, by the answer's ``key``
(``cvb cache show``, ``cvb export --images``, the report's sample browser).

A compressed image comes back the way the runner gives it to the VLM (``Runner._load``): the
cache entry's kept pixels, or its bitstream decoded by the same codec with the same settings
(found in the store's ``compressed`` row). The uncompressed reference (codec ``none``, whose
key is the original's content hash) is the task's image file decoded as the runner decodes it
(``ImageSource.load``), found through the ``samples`` table and checked against the hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CvbError, UsageError

if TYPE_CHECKING:
    from PIL import Image

    from .image_cache import ImageCache
    from .store import Store


class ImageUnavailable(CvbError):
    """The image of a key cannot be had back (pruned from the cache, original moved)."""


class SeenImages:
    """Images by answer key, codecs created once per (name, params)."""

    def __init__(self, store: "Store", cache: "ImageCache", registry: Any = None):
        self.store, self.cache, self.registry = store, cache, registry
        self._codecs: dict[tuple[str, str], Any] = {}

    def describe(self, key: str) -> dict[str, Any]:
        """What the store knows of ``key``: codec, level, params, bpp, size (or the original's)."""
        row = self.store._read("SELECT codec, codec_version, level, params, bpp, num_bytes, width, height, error"
                               " FROM compressed WHERE key=?", (key,))
        if row:
            codec, version, level, params, bpp, nbytes, w, h, error = row[0]
            return {"key": key, "codec": codec, "codec_version": version, "level": level,
                    "params": json.loads(params or "{}"), "bpp": bpp, "bytes": nbytes,
                    "width": w, "height": h, "error": error}
        orig = self.store._read("SELECT task, image_key, num_bytes, width, height FROM images WHERE content_hash=?"
                                " LIMIT 1", (key,))
        if orig:
            task, image, nbytes, w, h = orig[0]
            return {"key": key, "codec": "none", "level": None, "task": task, "image": image,
                    "bytes": nbytes, "width": w, "height": h}
        raise UsageError(f"no image with key {key!r} in results store {self.store.path}; the key is the "
                         f"`key` column of `cvb export --what samples` (pass the --store that answered)")

    def image(self, key: str) -> "Image.Image":
        """The decoded image the VLM received for ``key``."""
        info = self.describe(key)
        if info["codec"] == "none":
            return self._original(key)
        if info.get("error"):
            raise ImageUnavailable(f"image {key}: its compression failed ({info['error']}); no VLM saw it")
        kept = self.cache.image(key)  # raw pixels, when the entry keeps them
        if kept is not None:
            return kept
        if not self.cache.has(key):
            raise ImageUnavailable(
                f"image {key} ({info['codec']} level {info['level']}) is no longer in the image cache "
                f"{self.cache.root} (pruned or another --cache-dir); `cvb run` with the same study "
                f"compresses it again")
        image = self.cache.image(key, self._codec(info["codec"], info["params"]).decode)
        if image is None:
            raise ImageUnavailable(f"image {key}: the cache entry could not be decoded by codec {info['codec']}")
        return image

    def bits(self, key: str) -> bytes:
        """The bitstream of a compressed image (what bpp was measured from)."""
        info = self.describe(key)
        if info["codec"] == "none":
            path = self._original_path(key)
            return path.read_bytes()
        bits = self.cache.bits(key)
        if bits is None:
            raise ImageUnavailable(f"image {key} is no longer in the image cache {self.cache.root}")
        return bits

    def _codec(self, name: str, params: dict) -> Any:
        """The codec that decodes ``name``'s entries. The stored params are its ``params()``
        plus the options it was made with; some of them describe the codec and are no factory
        option (jpeg2000's ``mct``), so the options its plugin declares are tried next, then
        none (a decoder reads what it needs from the bitstream)."""
        made = self._codecs.get((name, json.dumps(params, sort_keys=True)))
        if made is not None:
            return made
        registry = self.registry
        if registry is None:
            from ..plugins import get_registry

            registry = self.registry = get_registry()
        from ..specs import split_ref

        declared = registry.spec("codec", split_ref(name)[0]).options
        tries = [params, {k: v for k, v in params.items() if k in declared}, {}]
        error: Exception | None = None
        for options in dict.fromkeys(json.dumps(t, sort_keys=True) for t in tries):
            try:
                made = registry.create("codec", name, check=False, **json.loads(options))
                break
            except Exception as exc:  # noqa: BLE001 - a plugin's factory refusing these options
                error = exc
        if made is None:
            raise ImageUnavailable(f"cannot create codec {name!r} to decode its cache entries: "
                                   f"{type(error).__name__}: {error}")
        self._codecs[(name, json.dumps(params, sort_keys=True))] = made
        return made

    def _original_path(self, key: str) -> Path:
        have_paths = "image_path" in {r[1] for r in self.store._read("PRAGMA table_info(samples)")}
        paths = [r[0] for r in self.store._read(
            "SELECT DISTINCT s.image_path FROM images i JOIN samples s ON s.image = i.image_key"
            " WHERE i.content_hash = ? AND s.image_path IS NOT NULL", (key,))] if have_paths else []
        for p in paths:
            try:
                data = Path(p).read_bytes()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() == key:
                return Path(p)
        where = f" (looked at {', '.join(paths)})" if paths else ""
        raise ImageUnavailable(f"original image {key}: no file with this content is recorded in the store"
                               f"{where}; a task that streams its images keeps no file to point to")

    def _original(self, key: str) -> "Image.Image":
        from ..imageio import decode_image

        path = self._original_path(key)
        return decode_image(path.read_bytes(), name=str(path))


def save_png(image: "Image.Image", path: Path) -> None:
    """Lossless: the PNG's pixels are the image's bytes (``Image.open(path).tobytes()``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", compress_level=3)
