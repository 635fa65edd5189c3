"""Which images ``folder:SPEC`` means: a folder (searched recursively), a glob, or one file.

Images are named by their path relative to a root (the folder, the fixed leading part of a
glob, or the file's own folder) and sorted by that name, so the order, and what ``limit`` takes,
does not depend on the file system.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from cvb.errors import UsageError
from cvb.imageio import IMAGE_SUFFIXES

_GLOB_CHARS = "*?["


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def is_glob(spec: str) -> bool:
    return any(c in spec for c in _GLOB_CHARS)


def glob_root(pattern: str) -> Path:
    """The directory part of ``pattern`` before its first wildcard (``.`` if none)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if is_glob(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def root_of(spec: str) -> Path:
    """The folder that image names in a questions file are relative to."""
    expanded = _expand(spec)
    if is_glob(expanded):
        return glob_root(expanded)
    path = Path(expanded)
    if path.exists() and not path.is_dir():
        return path.parent
    if not path.is_dir():
        raise UsageError(f"task 'folder': no such folder or file: {spec}")
    return path


def _expand(spec: str | None) -> str:
    if not spec or not spec.strip():
        raise UsageError("task 'folder' needs a folder or glob: --task folder:/path/to/images")
    return os.path.expanduser(spec.strip())


def list_images(spec: str) -> tuple[Path, list[tuple[str, Path]]]:
    """``(root, [(name relative to root, path), ...])`` sorted by name.

    Hidden files and folders (a name starting with ".") are skipped in folder and glob modes;
    symbolic links to folders are not followed. Raises ``UsageError`` when nothing is found.
    """
    expanded = _expand(spec)
    if is_glob(expanded):
        root = glob_root(expanded)
        found = [Path(p) for p in glob.glob(expanded, recursive=True)]
        # anything but a folder (a FIFO named x.png too): reading it fails that image, clearly
        files = [p for p in found if not p.is_dir() and is_image_name(p.name)]
        what = f"glob {spec!r}"
    else:
        path = Path(expanded)
        if path.exists() and not path.is_dir():  # one file (or a FIFO: reading it says so)
            return path.parent, [(path.name, path)]
        if not path.is_dir():
            raise UsageError(f"task 'folder': no such folder or file: {spec}")
        root = path
        files = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            files += [Path(dirpath, f) for f in filenames if is_image_name(f) and not f.startswith(".")]
        what = f"folder {spec}"
    named = []
    for p in files:
        rel = p.relative_to(root) if p.is_relative_to(root) else p
        if not _hidden(rel):
            named.append((rel.as_posix(), p))
    if not named:
        raise UsageError(f"task 'folder': no images in {what} "
                         f"(looked for {', '.join(IMAGE_SUFFIXES)}, any case)")
    named.sort(key=lambda item: item[0])
    return root, named
