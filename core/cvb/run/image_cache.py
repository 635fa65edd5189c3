"""The compressed-image cache: content-addressed files on disk, written atomically.

An entry is named by ``cache_key(content hash, codec, codec version, level, params)``, so the
same image compressed the same way is one entry whatever task, VLM or run asks for it, and a
new codec version or setting is a new entry. Each entry holds the real bitstream (``.bits``)
and the decoded image (``.png``, lossless) that VLMs are shown, so a model never waits for a
codec's decoder twice, plus the measurements of that compression (``.json``: bytes, bpp,
timings), so a new results store sharing the cache never calls the codec again either. Files are written to a temporary name and ``os.replace``d into place:
a process killed at any moment leaves either a whole file or none (the PNG is written last and
is what makes an entry present).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..atomic import write_atomic
from ..errors import CvbError

if TYPE_CHECKING:
    from PIL import Image


class CacheError(CvbError):
    """The cache cannot be written (disk full, no permission): fatal, unlike a codec error."""


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("cvb")) / "images"


def params_json(params: Mapping[str, Any]) -> str:
    """Canonical JSON of codec settings (sorted keys), as it enters the key and the store."""
    return json.dumps(dict(params), sort_keys=True, default=str, separators=(",", ":"))


def cache_key(content_hash: str, codec: str, version: str, level: str, params: str) -> str:
    """sha256 of (image content hash, codec name, codec version, level, params JSON)."""
    blob = json.dumps([content_hash, codec, version, level, params], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class ImageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self._made: set[Path] = set()  # folders known to exist (saves a syscall per write)

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        return self._path(key, ".png").is_file()

    def put(self, key: str, bits: bytes, image: "Image.Image", info: Mapping[str, Any]) -> None:
        """Store the bitstream, its measurements, then the decoded image (whose presence marks
        a whole entry); an OS error (disk full) is fatal."""
        import io

        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=1)  # lossless; level 1: fast, a bit larger
        self._write(self._path(key, ".bits"), bits)
        self._write(self._path(key, ".json"), json.dumps(dict(info)).encode())
        self._write(self._path(key, ".png"), buf.getvalue())

    def info(self, key: str) -> dict[str, Any] | None:
        """The measurements stored with an entry, or None when the entry is incomplete."""
        if not self.has(key):
            return None
        try:
            return json.loads(self._path(key, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def image(self, key: str) -> "Image.Image | None":
        """The decoded image, or None when the entry is missing or unreadable (then redo it)."""
        from ..imageio import decode_image

        path = self._path(key, ".png")
        try:
            return decode_image(path.read_bytes(), name=str(path))
        except (OSError, CvbError):
            return None

    def bits(self, key: str) -> bytes | None:
        try:
            return self._path(key, ".bits").read_bytes()
        except OSError:
            return None

    def _write(self, path: Path, data: bytes) -> None:
        try:
            if path.parent not in self._made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(path.parent)
            write_atomic(path, data)
        except OSError as exc:
            raise CacheError(f"cannot write the image cache at {self.root}: {exc}; {_write_advice(exc)} "
                             f"(finished work is kept in the store)") from None


def _write_advice(exc: OSError) -> str:
    """What to do about a failed cache write, by its cause."""
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full: free space or pass --cache-dir on another disk"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write there: pass --cache-dir with a folder you can write"
    return "pass --cache-dir with another folder"
