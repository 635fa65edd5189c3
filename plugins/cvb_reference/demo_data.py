"""Real photographs for the tagger's adapter demonstration, taken from Debian packages at demo time.

No pip package ships a few hundred natural photos, but Debian packages do, under licences that
are not cvb's (the Tux Paint stamps are GPL-2; cvb is Apache-2.0). So nothing is vendored: this
module downloads the packages with ``apt-get download`` (no installation, no root needed once
the package lists exist), unpacks their images (``dpkg -x``, limited to images and the copyright
file) into the output folder, and prepares:

- **evaluation** images: the photographic stamps of ``tuxpaint-stamps-default`` (cut-outs of
  animals, food, plants, vehicles, ...; drawings in ``cartoon`` folders and ``symbols`` left
  out), flattened onto white, in the stamp folders held out by the seeded split;
- **training** images: the stamps of the other folders, plus square crops (several per image,
  seeded) of the desktop wallpapers of the wallpaper packages and of the sample photos that
  installed pip packages bundle (scikit-image, scikit-learn, matplotlib);
- ``eval/questions.jsonl``: one open question per evaluation image whose answer is the base
  tagger's top-1 ImageNet class on the clean image, so that a ``folder:`` task scores **top-1
  agreement with the clean prediction** (and an adapted tagger's score on clean images is its
  agreement with the base model there: its clean-image drift).

The split is by stamp *folder* (``animals/birds``, ``food/fruit``, ...): a folder is held out when
its salted hash ranks among the lowest ``eval_fraction`` of all folders, so no object kind sits
on both sides, and the split depends only on the seed and the folder names. ``manifest.json``
records packages, versions, licences, the seed, the folders on each side and the counts; each
package's Debian copyright file is copied to ``licenses/``.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from cvb.errors import UnavailableError, UsageError

STAMPS = "tuxpaint-stamps-default"
WALLPAPERS = ("gnome-backgrounds", "mate-backgrounds", "plasma-workspace-wallpapers")
DEFAULT_PACKAGES = (STAMPS, *WALLPAPERS)
STAMP_ROOT = "usr/share/tuxpaint/stamps"
#: stamp folders that hold drawings, not photographs
NOT_PHOTOS = ("cartoon", "symbols")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
QUESTION = "What is the main object in this image?"
FORMAT = "cvb-tagger-demo/1"


@dataclass
class Prepared:
    root: Path
    eval_images: int
    train_images: int
    eval_folders: list[str]
    train_folders: list[str]
    packages: dict[str, str] = field(default_factory=dict)  # name -> version


# ---- packages ---------------------------------------------------------------------------------
def download(packages: Sequence[str], debs: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """``apt-get download`` each package not already in ``debs``; package -> .deb path."""
    debs.mkdir(parents=True, exist_ok=True)
    have = {p: _deb_of(debs, p) for p in packages}
    todo = [p for p, f in have.items() if f is None]
    if todo:
        if shutil.which("apt-get") is None:
            raise UnavailableError(f"apt-get not found: the demo images come from Debian packages "
                                   f"({', '.join(todo)}); put their .deb files in {debs} by hand")
        log(f"downloading {', '.join(todo)} with apt-get (no installation)")
        proc = subprocess.run(["apt-get", "download", *todo], cwd=debs, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise UnavailableError(f"apt-get download {' '.join(todo)} failed: {' '.join(tail)} (are the "
                                   f"package lists there? `apt-get update` as root fetches them)")
        have = {p: _deb_of(debs, p) for p in packages}
        lost = [p for p, f in have.items() if f is None]
        if lost:
            raise UnavailableError(f"apt-get download gave no .deb for {', '.join(lost)}")
    return have  # type: ignore[return-value]


def _deb_of(debs: Path, package: str) -> Path | None:
    found = sorted(debs.glob(f"{package}_*.deb"))
    return found[-1] if found else None


#: what is unpacked of a package: its images and its copyright file (the stamps' .deb also holds
#: thousands of sound files, which would only cost time)
UNPACKED = ("*.png", "*.jpg", "*.jpeg", "*.webp", "*/copyright")


def unpack(deb: Path, into: Path) -> None:
    """``dpkg -x`` limited to ``UNPACKED``: ``dpkg-deb --fsys-tarfile`` piped into ``tar``."""
    if shutil.which("dpkg-deb") is None or shutil.which("tar") is None:
        raise UnavailableError("dpkg-deb or tar not found: cannot unpack the Debian packages")
    into.mkdir(parents=True, exist_ok=True)
    fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", str(into), "--wildcards", *UNPACKED], stdin=fsys.stdout,
                         capture_output=True, text=True)
    if fsys.stdout is not None:
        fsys.stdout.close()
    if fsys.wait() != 0 or tar.returncode not in (0, 2):  # 2: a pattern matched nothing (no .webp)
        raise UnavailableError(f"cannot unpack {deb.name}: {tar.stderr.strip()[-300:]}")


def deb_version(deb: Path) -> str:
    from urllib.parse import unquote

    return unquote(deb.name.split("_")[1]) if deb.name.count("_") >= 2 else "?"


# ---- images -----------------------------------------------------------------------------------
def flatten(image, background=(255, 255, 255)):
    """RGB; transparent parts (stamps are cut-outs) on ``background``."""
    from PIL import Image

    if image.mode in ("P", "LA", "L") and ("transparency" in image.info or image.mode == "LA"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB")


def shrink(image, longest: int):
    """At most ``longest`` pixels on the longer side (never enlarged)."""
    from PIL import Image

    w, h = image.size
    if max(w, h) <= longest:
        return image
    s = longest / max(w, h)
    return image.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)


def crops(image, n: int, size: int, rng: random.Random) -> list:
    """``n`` square crops of random side (25-80% of the shorter side) and place, ``size`` pixels."""
    from PIL import Image

    w, h = image.size
    out = []
    for _ in range(n):
        side = max(8, int(min(w, h) * rng.uniform(0.25, 0.8)))
        x, y = rng.randint(0, w - side), rng.randint(0, h - side)
        out.append(image.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS))
    return out


def stamp_folders(root: Path) -> dict[str, list[Path]]:
    """Photographic stamp PNGs by folder (relative to the stamps root)."""
    out: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*.png")):
        rel = p.relative_to(root)
        if any(part in NOT_PHOTOS for part in rel.parts[:-1]):
            continue
        out.setdefault(str(rel.parent), []).append(p)
    return out


def split_folders(folders: Sequence[str], eval_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(held-out folders, training folders): the lowest ``eval_fraction`` by salted name hash."""
    if not 0 < eval_fraction < 1:
        raise UsageError(f"--eval-fraction {eval_fraction}: give a number between 0 and 1 (exclusive)")
    ranked = sorted(folders, key=lambda f: hashlib.sha256(f"cvb-demo:{seed}:{f}".encode()).hexdigest())
    n = min(len(ranked) - 1, max(1, round(eval_fraction * len(ranked))))
    return sorted(ranked[:n]), sorted(ranked[n:])


def _save(image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def _unpack_fresh(packages: Sequence[str], files: dict[str, Path], out: Path) -> Path:
    """Each package unpacked under ``out/unpacked``, and its copyright file copied to
    ``out/licenses``; the folders a previous run wrote (eval, train, licenses) removed first."""
    unpacked = out / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    for pkg, deb in files.items():
        unpack(deb, unpacked / pkg)
    for name in ("eval", "train", "licenses"):
        shutil.rmtree(out / name, ignore_errors=True)
    licenses = out / "licenses"
    licenses.mkdir(parents=True)
    for p in packages:
        src = unpacked / p / "usr/share/doc" / p / "copyright"
        if src.is_file():
            shutil.copyfile(src, licenses / f"{p}.copyright")
    return unpacked


def _other_images(packages: Sequence[str], unpacked: Path, sample_photos: bool) -> list[tuple[str, Path]]:
    """(name, path) of the training images that are not stamps: the other packages' images
    (their docs left out) and, with ``sample_photos``, cvb's sample photos."""
    sources: list[tuple[str, Path]] = []
    for pkg in packages:
        if pkg == STAMPS:
            continue
        share = unpacked / pkg / "usr/share"
        sources += [(f"{pkg}/{p.relative_to(share)}", p) for p in sorted(share.rglob("*"))
                    if p.suffix.lower() in IMAGE_SUFFIXES and "doc" not in p.relative_to(share).parts[:1]]
    if sample_photos:
        from cvb.sample_images import sample_photo_paths

        sources += [(f"sample-photos/{name}", Path(p)) for name, p in sorted(sample_photo_paths().items())]
    return sources


def _crops_of(sources: list[tuple[str, Path]], crop_size: int, crops_per_image: int,
              rng: random.Random) -> list[tuple[str, object]]:
    """(name, crop) of ``crops_per_image`` random crops of each readable image of at least
    64x64 pixels, each distinct image once (the same wallpaper at several resolutions counts once)."""
    from PIL import Image

    out: list[tuple[str, object]] = []
    seen: set[str] = set()
    for name, path in sources:
        try:
            image = Image.open(path)
            image.load()
        except Exception:  # noqa: BLE001 - an image Pillow cannot read is skipped
            continue
        if image.size[0] < 64 or image.size[1] < 64:
            continue
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        shrunk = shrink(flatten(image), 4 * crop_size)
        for k, c in enumerate(crops(shrunk, crops_per_image, crop_size, rng)):
            out.append((f"{Path(name).with_suffix('')}_c{k}.png", c))
    return out


def prepare(out: Path, *, packages: Sequence[str] = DEFAULT_PACKAGES, debs: Path | None = None,
            seed: int = 0, eval_fraction: float = 0.5, eval_size: int = 384, crop_size: int = 256,
            crops_per_image: int = 8, max_eval: int | None = None, max_train: int | None = None,
            sample_photos: bool = True, label: bool = True, log: Callable[[str], None] = print) -> Prepared:
    """Download (if needed), unpack and prepare the demo images under ``out``; label the held-out ones."""
    from PIL import Image

    if STAMPS not in packages:
        raise UsageError(f"the evaluation images come from {STAMPS}: keep it in --package")
    files = download(packages, debs or out / "debs", log)
    unpacked = _unpack_fresh(packages, files, out)

    rng = random.Random(seed)
    stamp_root = unpacked / STAMPS / STAMP_ROOT
    folders = stamp_folders(stamp_root)
    if not folders:
        raise UnavailableError(f"{STAMPS} unpacked to {unpacked / STAMPS} holds no stamp PNGs under {STAMP_ROOT}")
    held, trained = split_folders(sorted(folders), eval_fraction, seed)
    eval_paths = [p for f in held for p in folders[f]]
    if max_eval:
        eval_paths = sorted(rng.sample(eval_paths, min(max_eval, len(eval_paths))))
    for png in eval_paths:
        rel = png.relative_to(stamp_root)
        _save(shrink(flatten(Image.open(png)), eval_size), out / "eval" / rel)

    train: list[tuple[str, object]] = []  # (name, image)
    for f in trained:
        for png in folders[f]:
            rel = png.relative_to(stamp_root)
            train.append((f"stamps/{rel}", shrink(flatten(Image.open(png)), eval_size)))
    sources = _other_images(packages, unpacked, sample_photos)
    train += _crops_of(sources, crop_size, crops_per_image, rng)
    if max_train:
        train = sorted(rng.sample(train, min(max_train, len(train))), key=lambda t: t[0])
    for name, picture in train:
        _save(picture, out / "train" / (name if name.endswith(".png") else str(Path(name).with_suffix(".png"))))
    shutil.rmtree(unpacked, ignore_errors=True)

    n_eval = len(list((out / "eval").rglob("*.png")))
    n_train = len(list((out / "train").rglob("*.png")))
    versions = {p: deb_version(f) for p, f in files.items()}
    manifest = {
        "format": FORMAT, "seed": seed, "eval_fraction": eval_fraction, "eval_size": eval_size,
        "crop_size": crop_size, "crops_per_image": crops_per_image, "max_eval": max_eval, "max_train": max_train,
        "packages": versions, "licenses": {p: f"licenses/{p}.copyright" for p in packages},
        "eval_folders": held, "train_folders": trained, "eval_images": n_eval, "train_images": n_train,
        "sample_photos": sample_photos, "question": QUESTION,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if label:
        write_questions(out, log)
    return Prepared(out, n_eval, n_train, held, trained, versions)


def write_questions(out: Path, log: Callable[[str], None] = print) -> int:
    """``eval/questions.jsonl``: the base tagger's clean top-1 class is each image's answer."""
    from PIL import Image

    from cvb.types import AnswerKind, Query

    from .tagger import ImageNetTagger

    images = sorted(p for p in (out / "eval").rglob("*.png"))
    tagger = ImageNetTagger()
    lines = []
    log(f"labelling {len(images)} held-out images with the base tagger's clean top-1 class")
    for lo in range(0, len(images), 32):
        chunk = images[lo:lo + 32]
        probs = tagger.classifier.probabilities([Image.open(p).convert("RGB") for p in chunk])
        for p, row in zip(chunk, probs):
            top = tagger.answer_from(Query(image=None, prompt=QUESTION, kind=AnswerKind.OPEN), row).text
            lines.append(json.dumps({"image": str(p.relative_to(out / "eval")), "question": QUESTION,
                                     "answer": top, "kind": "open",
                                     "category": str(p.relative_to(out / "eval").parent)}))
    tagger.close()
    (out / "eval" / "questions.jsonl").write_text("\n".join(lines) + "\n")
    return len(lines)
