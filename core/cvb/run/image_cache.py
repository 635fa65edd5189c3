"""The compressed-image cache: content-addressed entries on disk, written atomically, capped.

An entry is named by ``cache_key(content hash, codec, codec version, level, params)``, so the
same image compressed the same way is one entry whatever task, VLM or run asks for it, and a
new codec version or setting is a new entry. An entry is ONE file, ``DIR/<key[:2]>/<key>.cvbc``:

    line 1   JSON: the measurements of that compression (bytes, bpp, encode and decode seconds),
             "bits": length of the bitstream, "pixels": [width, height] or null
    then     the real bitstream
    then     (when "pixels") the decoded image as raw 8-bit RGB, row by row

It keeps the decoded image in the form that costs least to write and read back: a codec whose
decoder is deterministic and cheap (a traditional codec decoding in under
``DECODE_CHEAP_S``: JPEG, WebP, AVIF at study sizes) is decoded again from the bitstream when a
VLM needs the image (nothing more to write; the file is the bitstream's size); any other codec
(learned, generative, slow) keeps raw pixels (no PNG encoding or decoding: a copy each way).
The measurements mean a new results store sharing the cache never calls the encoder again.

A file is written in place in one go, and its header says how long it must be: a writer
killed at any moment leaves a whole entry, or a short file that reads as missing and is redone
(as any damaged entry is). Reading an
entry's image marks it used (its modification time), and :meth:`ImageCache.prune` evicts the
least recently used entries down to a size cap (``cvb cache prune``; ``cvb run`` applies
``$CVB_CACHE_MAX_SIZE``, default ``DEFAULT_MAX_SIZE``, after a run that wrote entries).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from ..errors import CvbError, UsageError

if TYPE_CHECKING:
    from PIL import Image

SUFFIX = ".cvbc"
#: a traditional codec decoding faster than this is decoded again rather than kept as pixels
DECODE_CHEAP_S = 0.02
DEFAULT_MAX_SIZE = "50G"
MAX_SIZE_ENV = "CVB_CACHE_MAX_SIZE"
_LEGACY_SUFFIXES = (".png", ".bits", ".json")  # entries of cvb 0.1's three-file layout
_STALE_TMP_S = 3600.0  # a temporary file this old was left by a killed writer


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
    return key_maker(codec, version, level, params)(content_hash)


def key_maker(codec: str, version: str, level: str, params: str) -> Callable[[str], str]:
    """``cache_key`` of one codec x level as a function of the content hash: the rest of the
    JSON is made once (a run derives a cell's keys for every image, several times)."""
    rest = json.dumps([codec, version, level, params], separators=(",", ":"))[1:]

    def key(content_hash: str) -> str:
        return hashlib.sha256(("[" + json.dumps(content_hash) + "," + rest).encode()).hexdigest()

    return key


def keeps_pixels(codec: Any, decode_s: float | None) -> bool:
    """Whether an entry of ``codec`` keeps raw pixels (else: decoded again when read)."""
    kind = str(getattr(getattr(codec, "kind", None), "value", getattr(codec, "kind", "")))
    return kind != "traditional" or decode_s is None or decode_s > DECODE_CHEAP_S


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int | None:
    """``"20G"``, ``"500MB"``, ``"1.5TiB"``, ``"4096"`` -> bytes (powers of 1024); ``"0"``,
    ``"none"``, ``"off"`` -> None (no cap)."""
    if str(text).strip().lower() in ("", "0", "none", "off", "unlimited"):
        return None
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"cache size {text!r}: write a number with an optional unit K, M, G or T "
                         f"(powers of 1024), e.g. 20G, or 'none' for no cap")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " "))


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@dataclass
class _File:
    path: Path
    size: int
    mtime: float
    kind: str  # "entry", "legacy", "tmp"


class ImageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self._made: set[Path] = set()  # folders known to exist (saves a syscall per write)
        self.written = 0  # bytes this object wrote (the run prunes only when it added some)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{SUFFIX}"

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    # ---- writing -----------------------------------------------------------------------------
    def put(self, key: str, bits: bytes, image: "Image.Image | None", info: Mapping[str, Any], *,
            keep_pixels: bool = True) -> None:
        """Store the bitstream, its measurements and (``keep_pixels``) the decoded image's raw
        RGB as one file; an OS error (disk full) is fatal."""
        header = dict(info)
        header["bits"] = len(bits)
        parts = [b"", bytes(bits)]
        if keep_pixels and image is not None:
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            header["pixels"] = list(rgb.size)
            parts.append(rgb.tobytes())
        else:
            header["pixels"] = None
        parts[0] = json.dumps(header, separators=(",", ":")).encode() + b"\n"
        self._write(self._path(key), parts)

    def _write(self, path: Path, parts: list[bytes]) -> None:
        """Written in place, in one go: a writer killed half-way leaves a file shorter than its
        header says, which reads as missing (see ``_read``), so no temporary file and rename
        are needed (they cost more than a JPEG encode on a busy disk)."""
        data = b"".join(parts)
        try:
            if path.parent not in self._made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as exc:
            raise CacheError(f"cannot write the image cache at {self.root}: {exc}; {_write_advice(exc)} "
                             f"(finished work is kept in the store)") from None
        self.written += len(data)

    # ---- reading -----------------------------------------------------------------------------
    def _read(self, key: str, whole: bool) -> tuple[dict[str, Any], bytes] | None:
        try:
            with open(self._path(key), "rb") as fh:
                header = json.loads(fh.readline())
                body = fh.read() if whole else b""
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or not isinstance(header.get("bits"), int):
            return None
        if whole:
            w, h = header.get("pixels") or (0, 0)
            if len(body) != header["bits"] + 3 * w * h:  # damaged: read as missing
                return None
        return header, body

    def info(self, key: str) -> dict[str, Any] | None:
        """The measurements stored with an entry, or None when there is no whole entry."""
        got = self._read(key, whole=False)
        if got is None:
            return None
        return {k: v for k, v in got[0].items() if k not in ("bits", "pixels")}

    def image(self, key: str, decode: Callable[[bytes], "Image.Image"] | None = None) -> "Image.Image | None":
        """The decoded image: its kept pixels, or ``decode(bitstream)`` for an entry kept as
        bits only. None when the entry is missing or damaged, or holds only bits and no
        ``decode`` is given (then the caller redoes it). Marks the entry used."""
        got = self._read(key, whole=True)
        if got is None:
            return None
        header, body = got
        try:
            os.utime(self._path(key))  # least recently used goes first when pruning
        except OSError:
            pass
        n = header["bits"]
        if header.get("pixels"):
            from PIL import Image

            return Image.frombytes("RGB", tuple(header["pixels"]), body[n:])
        if decode is None:
            return None
        try:
            image = decode(body[:n])
            return image if image.mode == "RGB" else image.convert("RGB")
        except Exception:  # noqa: BLE001 - a decoder that fails now: redo the entry
            return None

    def bits(self, key: str) -> bytes | None:
        got = self._read(key, whole=True)
        return None if got is None else got[1][:got[0]["bits"]]

    # ---- size and eviction -------------------------------------------------------------------
    def _files(self) -> Iterator[_File]:
        try:
            folders = [d for d in os.scandir(self.root) if d.is_dir() and len(d.name) == 2]
        except OSError:
            return
        for folder in folders:
            try:
                entries = list(os.scandir(folder.path))
            except OSError:
                continue
            for e in entries:
                try:
                    st = e.stat()
                except OSError:
                    continue
                if e.name.endswith(".tmp"):
                    kind = "tmp"
                elif e.name.endswith(SUFFIX):
                    kind = "entry"
                elif e.name.endswith(_LEGACY_SUFFIXES):
                    kind = "legacy"
                else:
                    continue
                yield _File(Path(e.path), st.st_size, st.st_mtime, kind)

    def summary(self) -> dict[str, Any]:
        """What the cache holds: entries and bytes, and files left by killed writers or an
        older cvb (which ``prune`` removes)."""
        out: dict[str, Any] = {"root": str(self.root), "entries": 0, "bytes": 0, "legacy_files": 0,
                               "legacy_bytes": 0, "temporary_files": 0, "oldest": None, "newest": None}
        for f in self._files():
            if f.kind == "entry":
                out["entries"] += 1
                out["bytes"] += f.size
                out["oldest"] = f.mtime if out["oldest"] is None else min(out["oldest"], f.mtime)
                out["newest"] = f.mtime if out["newest"] is None else max(out["newest"], f.mtime)
            elif f.kind == "legacy":
                out["legacy_files"] += 1
                out["legacy_bytes"] += f.size
            else:
                out["temporary_files"] += 1
        return out

    def prune(self, max_bytes: int | None = None, older_than_s: float | None = None,
              everything: bool = False, dry_run: bool = False) -> dict[str, int]:
        """Remove every entry (``everything``), entries unused for ``older_than_s``, then the
        least recently used until the entries fit in ``max_bytes``; files left by an older cvb
        and stale temporary files always go. Returns counts and bytes removed and kept."""
        now = time.time()
        removed = freed = kept = total = 0

        def remove(f: _File) -> None:
            nonlocal removed, freed
            if not dry_run:
                try:
                    f.path.unlink()
                except OSError:
                    return
            removed += f.kind == "entry"
            freed += f.size

        def stays(f: _File) -> bool:  # an entry not removed for its age or as a leftover
            return f.kind == "entry" and not everything and (older_than_s is None or now - f.mtime <= older_than_s)

        for f in self._files():  # streamed: memory does not grow with the number of entries
            if stays(f):
                kept, total = kept + 1, total + f.size
            elif f.kind != "tmp" or now - f.mtime > _STALE_TMP_S:
                remove(f)
        if max_bytes is None or total <= max_bytes:
            return {"removed": removed, "freed_bytes": freed, "kept": kept, "kept_bytes": total}
        # over the cap: the least recently used go first, up to the last one needed (read as
        # two numbers per entry, then the files again)
        import numpy as np

        stamps = [(f.mtime, f.size) for f in self._files() if stays(f)]
        times, sizes = np.array([t for t, _ in stamps], dtype=np.float64), np.array([z for _, z in stamps], np.int64)
        del stamps
        order = np.argsort(times, kind="stable")
        needed = int(np.searchsorted(np.cumsum(sizes[order]), total - max_bytes)) + 1
        cutoff = times[order[min(needed, len(order)) - 1]]
        ties = needed - int(np.count_nonzero(times < cutoff))  # entries as old as the cutoff to go
        for f in self._files():
            if stays(f) and (f.mtime < cutoff or (f.mtime == cutoff and ties > 0)):
                ties -= f.mtime == cutoff
                kept, total = kept - 1, total - f.size
                remove(f)
        return {"removed": removed, "freed_bytes": freed, "kept": kept, "kept_bytes": total}


def _write_advice(exc: OSError) -> str:
    """What to do about a failed cache write, by its cause."""
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full: free space or pass --cache-dir on another disk"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write there: pass --cache-dir with a folder you can write"
    return "pass --cache-dir with another folder"


def max_size_from_env() -> int | None:
    """The cap ``cvb run`` keeps the cache under: ``$CVB_CACHE_MAX_SIZE`` or the default; a
    bad value is a usage error naming the variable (``cvb run`` checks it before any work)."""
    raw = os.environ.get(MAX_SIZE_ENV, DEFAULT_MAX_SIZE)
    try:
        return parse_size(raw)
    except UsageError as exc:
        raise UsageError(f"${MAX_SIZE_ENV}={raw!r}: {exc}") from None
