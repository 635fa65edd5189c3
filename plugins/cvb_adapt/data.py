"""Training data for the adapter: clean images, and each compressed by every codec x level.

Images come from files, folders or globs (``--images``), an image dataset (``--dataset``: a
Hugging Face id or a local copy, ``load_from_disk`` or ``load_dataset`` folder), or, by default,
the sample photos that installed packages ship. Each distinct image (by content) is compressed
through cvb's own compression units into the content-addressed image cache that ``cvb run``
uses: the same key for the same image, codec, version, level and settings, so an image
compressed for training is never compressed again for evaluation (and vice versa), any codec
plugin works, bpp comes from the real bitstream, and ``-j N`` spreads the codec work.

The train/validation split is by image and depends only on the images' pixels: an image is in
the validation set when the hash of its decoded pixels ranks among the lowest ``val_fraction``
of all (hashed again with a fixed salt), whatever the listing order, so adding images later
moves few. Pixels, not file bytes: a copy of an image saved again (another PNG encoder, another
lossless format, stripped metadata) has other bytes but the same pixels, so it lands on the same
side, and is counted once. The cache key stays the file's content hash, as in ``cvb run``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from cvb.errors import UsageError
from cvb.types import ImageSource

from .vocabulary import REFERENCE

if TYPE_CHECKING:
    from PIL import Image

    from cvb.run.image_cache import ImageCache


@dataclass(frozen=True)
class TrainImage:
    source: ImageSource
    content_hash: str  # of the file's bytes: the image cache's key, as in cvb run
    pixel_hash: str = ""  # of the decoded pixels: the split's key ("" = the content hash)


def pixel_hash(image: "Image.Image") -> str:
    """sha256 of an image's decoded pixels (size, mode and raw bytes): equal for any lossless copy."""
    w, h = image.size
    return hashlib.sha256(f"{image.mode} {w}x{h}\n".encode() + image.tobytes()).hexdigest()


@dataclass(frozen=True)
class Pair:
    """One training example: a clean image and one compressed version of it."""

    image: int  # index into Data.images
    codec: str
    level: str
    key: str  # the compressed image's cache key
    bpp: float


@dataclass
class Data:
    images: list[TrainImage]
    train: list[Pair]
    val: list[Pair]
    description: str
    failed: list[str] = field(default_factory=list)  # "image codec level: error"
    codec_ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> version, params
    #: codec name -> its decoder: the image cache keeps only the bitstream of cheap decoders
    decoders: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def fingerprint(self, resolution: Any) -> str:
        blob = json.dumps({"train": sorted({self.images[p.image].content_hash for p in self.train}),
                           "val": sorted({self.images[p.image].content_hash for p in self.val}),
                           "cells": sorted({(p.codec, p.level) for p in self.train + self.val}),
                           "codecs": self.codec_ids, "resolution": resolution}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def summary(self) -> dict[str, Any]:
        return {"source": self.description, "images": len(self.images),
                "train_images": len({p.image for p in self.train}), "val_images": len({p.image for p in self.val}),
                "train_pairs": len(self.train), "val_pairs": len(self.val), "failed": len(self.failed),
                "mean_bpp": _mean_bpp(self.train + self.val)}


def _mean_bpp(pairs: Sequence[Pair]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for p in pairs:
        if p.codec != REFERENCE:
            sums.setdefault(f"{p.codec}/{p.level}", []).append(p.bpp)
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(sums.items())}


# ---- which images -------------------------------------------------------------------------------
def list_sources(images: Sequence[str], dataset: str | None, split: str, column: str | None,
                 limit: int | None) -> tuple[list[ImageSource], str]:
    """The clean images asked for, and a description of where they come from."""
    if images and dataset:
        raise UsageError("give --images or --dataset, not both")
    if dataset:
        sources = _dataset_sources(dataset, split, column, limit)
        what = f"dataset {dataset} split {split}"
    elif images:
        from cvb.imageio import collect_images

        paths = collect_images(images)
        sources = [ImageSource(key=str(p), path=str(p)) for p in (paths[:limit] if limit else paths)]
        what = "images " + " ".join(images)
    else:
        from cvb.sample_images import sample_photo_paths

        found = sample_photo_paths()
        if not found:
            raise UsageError("no --images given and no bundled sample photos found (scikit-image, "
                             "scikit-learn, matplotlib)")
        sources = [ImageSource(key=name, path=str(p)) for name, p in sorted(found.items())][:limit]
        what = "the bundled sample photos"
    if len(sources) < 2:
        raise UsageError(f"{what}: {len(sources)} image(s); training needs at least 2 (one to train on, "
                         f"one to validate on)")
    return sources, what


def _dataset_sources(dataset: str, split: str, column: str | None, limit: int | None) -> list[ImageSource]:
    """Images of a Hugging Face dataset (hub id or local copy) as bytes or paths, undecoded."""
    import datasets

    path = Path(dataset).expanduser()
    try:
        if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise UsageError(f"dataset {dataset} has no split {split!r}; splits: {', '.join(ds)}")
                ds = ds[split]
        else:
            ds = datasets.load_dataset(str(path) if path.exists() else dataset, split=split)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - hub or format errors: say which dataset
        raise UsageError(f"cannot load dataset {dataset!r} split {split!r}: {type(exc).__name__}: {exc}") from None
    image_columns = [n for n, f in ds.features.items() if isinstance(f, datasets.Image)]
    if column is None:
        if not image_columns:
            raise UsageError(f"dataset {dataset} has no image column; columns: {', '.join(ds.column_names)}")
        column = image_columns[0]
    elif column not in ds.column_names:
        raise UsageError(f"dataset {dataset} has no column {column!r}; columns: {', '.join(ds.column_names)}")
    ds = ds.cast_column(column, datasets.Image(decode=False))
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    sources = []
    for i, row in enumerate(ds):
        cell = row[column] or {}
        p = cell.get("path")
        if p and Path(p).is_file():
            sources.append(ImageSource(key=f"{i}:{Path(p).name}", path=p))
        elif cell.get("bytes"):
            sources.append(ImageSource(key=f"{i}", data=cell["bytes"]))
    return sources


def split_images(images: Sequence[TrainImage], val_fraction: float) -> set[int]:
    """Indices of the validation images: the lowest ``val_fraction`` by salted pixel hash."""
    if not 0 < val_fraction < 1:
        raise UsageError(f"--val-fraction {val_fraction}: give a number between 0 and 1 (exclusive)")
    n_val = min(len(images) - 1, max(1, round(val_fraction * len(images))))
    ranked = sorted(range(len(images)),
                    key=lambda i: hashlib.sha256(b"cvb-adapt-val:" + (images[i].pixel_hash or images[i].content_hash)
                                                 .encode()).hexdigest())
    return set(ranked[:n_val])


# ---- compression, through cvb run's engine -----------------------------------------------------
def _distinct_images(sources: Sequence[ImageSource]) -> tuple[list[TrainImage], list[str]]:
    """The readable images, each distinct picture once (a lossless copy of an image already
    listed is the same image), and why each unreadable one was skipped."""
    from cvb.imageio import decode_image

    images: list[TrainImage] = []
    seen: set[str] = set()
    failed: list[str] = []
    for s in sources:
        try:
            data = s.read_bytes()
            pixels = pixel_hash(decode_image(data, name=s.path or s.key))
        except Exception as exc:  # noqa: BLE001 - an unreadable file is skipped, and said
            failed.append(f"{s.key}: {exc}")
            continue
        if pixels not in seen:
            seen.add(pixels)
            images.append(TrainImage(s, hashlib.sha256(data).hexdigest(), pixels))
    return images, failed


def _compress_missing(images: list[TrainImage], codecs: list, cache: "ImageCache", registry: Any, jobs: int,
                      progress: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Compress every image at every codec level the cache lacks; returns the errors by cache
    key and those of images that could not be read, by content hash."""
    from cvb.run.compress_units import ImageJob, LevelWork, Workshop, run_jobs

    job_list = []
    for im in images:
        for c in codecs:
            work = tuple(LevelWork(lv, c.key(im.content_hash, lv), True, ()) for lv in c.levels
                         if cache.info(c.key(im.content_hash, lv)) is None)
            if work:
                job_list.append(ImageJob(im.content_hash, im.source, c.name, work))
    errors: dict[str, str] = {}
    bad_images: dict[str, str] = {}
    if not job_list:
        return errors, bad_images
    bar = progress.bar("compress", sum(len(j.levels) for j in job_list)) if progress else None
    by_name = {c.name: c for c in codecs}
    workshop = Workshop(lambda cat, name: by_name[name].codec, cache)
    for out in run_jobs(job_list, workshop, jobs, registry, {("codec", c.name): c.options for c in codecs}):
        if out.image_error:
            bad_images[out.job.content_hash] = out.image_error
        errors.update((lo.key, lo.error) for lo in out.levels if lo.error)
        if bar:
            bar.advance(len(out.job.levels))
    return errors, bad_images


def prepare(sources: Sequence[ImageSource], plans, cache: "ImageCache", registry, jobs: int,
            val_fraction: float, description: str, progress=None) -> Data:
    """Hash the images, compress what the cache lacks, and split into train and validation pairs."""
    images, failed = _distinct_images(sources)
    codecs = [c for c in plans if not c.is_reference]
    if not codecs:
        raise UsageError("give at least one codec to train on: --codec jpeg (`cvb list codecs`)")
    errors, bad_images = _compress_missing(images, codecs, cache, registry, jobs, progress)
    val_ids = split_images(images, val_fraction)
    train: list[Any] = []
    val: list[Any] = []
    for i, im in enumerate(images):
        if im.content_hash in bad_images:
            failed.append(f"{im.source.key}: {bad_images[im.content_hash]}")
            continue
        for c in codecs:
            for lv in c.levels:
                key = c.key(im.content_hash, lv)
                info = cache.info(key)
                if info is None:
                    failed.append(f"{im.source.key} {c.name} {lv}: {errors.get(key, 'not in the cache')}")
                    continue
                (val if i in val_ids else train).append(Pair(i, c.name, lv, key, float(info["bpp"])))
    if not train or not val:
        raise UsageError(f"no usable {'training' if not train else 'validation'} pairs "
                         f"({len(failed)} failed: {'; '.join(failed[:3])})")
    ids = {c.name: {"version": c.version, "params": json.loads(c.params), "levels": list(c.levels)} for c in codecs}
    return Data(images, train, val, description, failed, ids, {c.name: c.codec.decode for c in codecs})


def add_clean(data: Data, fraction: float, seed: int) -> Data:
    """``data`` with uncompressed training pairs making up ``fraction`` of its training set.

    A clean pair (codec ``none``) shows the student the clean image, unconditioned, against the
    teacher's tokens of the same image: it holds the adapted encoder to the base model's answers
    on clean images (fine-tuning on compressed images alone drifts there). The training images
    are cycled in an order fixed by ``seed``; validation is unchanged."""
    if not 0 <= fraction < 1:
        raise UsageError(f"--clean-mix {fraction}: give a fraction of the training samples, 0 <= f < 1")
    if fraction == 0:
        return data
    import numpy as np

    images = sorted({p.image for p in data.train})
    n = round(fraction / (1 - fraction) * len(data.train))
    order = np.random.default_rng([seed, 7]).permutation(len(images))
    clean = [Pair(images[int(order[i % len(images)])], REFERENCE, "", "", float("nan")) for i in range(n)]
    return dataclasses.replace(data, train=data.train + clean)


# ---- what the encoders see ---------------------------------------------------------------------
def parse_resolution(value: str | int | None) -> tuple[int, int] | None:
    """``336`` -> (336, 336); ``448x336`` -> (448, 336) (width x height); ``native`` -> None."""
    text = str(value if value is not None else "native").strip().lower()
    if text == "native":
        return None
    w, sep, h = text.partition("x")
    try:
        size = (int(w), int(h) if sep else int(w))
    except ValueError:
        raise UsageError(f"--resolution {value!r}: give N (NxN pixels), WxH, or native") from None
    if min(size) < 8:
        raise UsageError(f"--resolution {value!r}: too small")
    return size


def fit(image: "Image.Image", size: tuple[int, int] | None) -> "Image.Image":
    """``image`` resized to ``size`` (bicubic), or unchanged for ``native``; RGB either way."""
    from PIL import Image

    image = image if image.mode == "RGB" else image.convert("RGB")
    if size is None or image.size == tuple(size):
        return image
    return image.resize((size[0], size[1]), Image.Resampling.BICUBIC)


class PairDataset:
    """``torch.utils.data``-style dataset: index -> (pair, clean image, compressed image), both at
    the training resolution. Reads the original from its source and the compressed one from the
    cache (recompressing is never needed: ``prepare`` made sure it is there)."""

    def __init__(self, data: Data, pairs: Sequence[Pair], cache: "ImageCache", size: tuple[int, int] | None):
        self.data, self.pairs, self.cache, self.size = data, list(pairs), cache, size

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        p = self.pairs[i]
        clean = self.data.images[p.image].source.load()
        if p.codec == REFERENCE:  # a clean pair (--clean-mix): the student sees the clean image too
            return p, fit(clean, self.size), fit(clean, self.size)
        compressed = self.cache.image(p.key, self.data.decoders.get(p.codec))
        if compressed is None:
            raise UsageError(f"the image cache lost {p.key} during training; rerun to compress it again")
        return p, fit(clean, self.size), fit(compressed, self.size)
