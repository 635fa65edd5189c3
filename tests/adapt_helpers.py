"""Shared by the adapter tests: smooth training photos, and one short training run in-process.

Why smooth images: the tiny checkpoints are *random* networks. On a detailed photo, what JPEG
removes is fine detail that no network can guess back from the compressed image, and a random
network's tokens mostly encode exactly such detail, so no student could learn much (measured:
even the best linear correction wins back under 10 %). On smooth content (the sample photos
shrunk to 8x8 and enlarged again) JPEG's damage is mostly block structure, which *is*
predictable from the compressed image: there a working distillation loop must lower the
held-out loss clearly, and a broken one (no gradient, wrong teacher, condition not reaching the
encoder) cannot. It proves the mechanics, not the paper's gains (docs/adapter.md says so).
"""

from __future__ import annotations

from pathlib import Path

LEVELS = ("1", "5")
SIZE = (56, 56)


def smooth_photos(folder: Path, per_side: int = 3) -> Path:
    """9 smooth 56x56 crops of each bundled sample photo (72 with all 8 photos)."""
    from PIL import Image

    from cvb.sample_images import sample_photo_paths

    folder.mkdir(parents=True, exist_ok=True)
    for name, path in sorted(sample_photo_paths().items()):
        im = Image.open(path).convert("RGB")
        side = min(im.size) // per_side
        for i in range(per_side):
            for j in range(per_side):
                crop = im.crop((j * side, i * side, (j + 1) * side, (i + 1) * side))
                crop = crop.resize((8, 8), Image.Resampling.BOX).resize(SIZE, Image.Resampling.BICUBIC)
                crop.save(folder / f"{name}_{i}{j}.png")
    return folder


def prepared(images: Path, cache_root: Path):
    """(Data, cache) for JPEG at LEVELS over ``images``, through cvb's compression engine."""
    from cvb_adapt.data import list_sources, prepare

    from cvb.plugins import get_registry
    from cvb.run.image_cache import ImageCache
    from cvb.run.plan import codec_plans

    registry = get_registry()
    plans = codec_plans(["jpeg"], ["jpeg=" + ",".join(LEVELS)], registry)
    sources, what = list_sources([str(images)], None, "train", None, None)
    cache = ImageCache(cache_root)
    return prepare(sources, plans, cache, registry, 1, 0.2, what), cache


def vocabulary(mode: str = "full"):
    from cvb_adapt.vocabulary import Vocabulary

    return Vocabulary({"jpeg": LEVELS}, mode, {"jpeg": {lv: float(lv) for lv in LEVELS}})


def train(model_dir: Path, out: Path, data, cache, *, steps: int = 40, lr: float = 3e-4, mode: str = "full",
          what: str = "full", resolution=SIZE, dtype: str = "auto", weight_decay: float = 0.01):
    from cvb_adapt.student import parse_train
    from cvb_adapt.train import Settings, run

    from cvb.plugins import get_registry

    registry = get_registry()
    ref = f"hf:{model_dir}"
    settings = Settings(steps=steps, batch=8, lr=lr, resolution=resolution, workers=0, save_every=10_000,
                        train=what, dtype=dtype, weight_decay=weight_decay)
    return run(lambda device, dtype: registry.create("vlm", ref, device=device, dtype=dtype), ref, data, cache,
               vocabulary(mode), parse_train(what), settings, out, quiet=True)
