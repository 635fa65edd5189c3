"""What keeping a compressed image in cvb's cache costs, against the codec that made it.

Work: the sample photos at every default level of each codec (``--codecs``). For each entry:

  codec      encode + decode through cvb.codecs.base.compress (the work the cache saves)
  png        the previous layout, the baseline: the decoded image written as a lossless PNG
             (level 1) beside .bits and .json files, then the PNG read back and decoded
  cache      today's entry, written then read back as `cvb run` does (one file: a cheap
             deterministic decoder's entry is decoded again from its bitstream; any other
             keeps raw RGB pixels)
  pixels     the raw-pixel form forced for every codec (what learned codecs get)

Prints milliseconds per entry (write + read), bytes per entry, the share of entries kept as
bits only, and the ratios the issue asks about (cache cost below the codec's).

    .venv/bin/python benchmarks/bench_cache.py [--codecs jpeg,webp,avif] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def png_layout(root: Path, key: str, comp) -> tuple[float, float, int]:
    """The former three-file entry: write, then read the PNG back (seconds, seconds, bytes)."""
    from cvb.imageio import decode_image

    t0 = time.perf_counter()
    buf = io.BytesIO()
    comp.image.save(buf, format="PNG", compress_level=1)
    folder = root / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    sizes = 0
    for suffix, data in ((".bits", comp.bits), (".json", json.dumps({"bpp": comp.bpp}).encode()),
                         (".png", buf.getvalue())):
        tmp = folder / f".{key}{suffix}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / f"{key}{suffix}")
        sizes += len(data)
    t1 = time.perf_counter()
    path = folder / f"{key}.png"
    decode_image(path.read_bytes(), name=str(path))
    return t1 - t0, time.perf_counter() - t1, sizes


def cache_entry(cache, key: str, comp, codec, keep: bool) -> tuple[float, float, int]:
    from cvb.run.compress_units import measurements

    t0 = time.perf_counter()
    cache.put(key, comp.bits, comp.image, measurements(comp), keep_pixels=keep)
    t1 = time.perf_counter()
    image = cache.image(key, codec.decode)
    t2 = time.perf_counter()
    assert image is not None and image.size == comp.image.size
    return t1 - t0, t2 - t1, (cache.root / key[:2] / f"{key}.cvbc").stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codecs", default="jpeg,webp,avif")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the photos (median taken)")
    args = ap.parse_args()

    from cvb.codecs.base import compress
    from cvb.imageio import decode_image
    from cvb.plugins import get_registry
    from cvb.run.image_cache import ImageCache, keeps_pixels
    from cvb.sample_images import sample_photo_paths

    reg = get_registry()
    photos = [decode_image(p.read_bytes()) for p in sample_photo_paths().values()]
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-cache-"))
    print(f"{len(photos)} sample photos; ms per entry (median of {args.repeat} passes), bytes per entry")
    print(f"{'codec':6s} {'codec ms':>9s} | {'png w+r':>13s} {'png B':>8s} | {'cache w+r':>13s} {'cache B':>8s} "
          f"{'bits':>6s} | {'pixels w+r':>13s} | {'png/codec':>9s} {'cache/codec':>11s}")
    try:
        for name in args.codecs.split(","):
            codec = reg.create("codec", name)
            rows: dict[str, list] = {"codec": [], "png": [], "cache": [], "pixels": []}
            kept: list[bool] = []
            for r in range(args.repeat):
                cache = ImageCache(tmp / f"{name}-{r}")
                for i, photo in enumerate(photos):
                    for level in codec.default_levels:
                        comp = compress(codec, photo, level)
                        key = f"{i:02x}{level:>6s}{r}".replace(" ", "0") + "0" * 50
                        keep = keeps_pixels(codec, comp.decode_s)
                        kept.append(keep)
                        rows["codec"].append((comp.encode_s, comp.decode_s, len(comp.bits)))
                        rows["png"].append(png_layout(tmp / f"png-{name}-{r}", key, comp))
                        rows["cache"].append(cache_entry(cache, key, comp, codec, keep))
                        rows["pixels"].append(cache_entry(ImageCache(tmp / f"px-{name}-{r}"), key, comp, codec, True))
            ms = {k: statistics.median(a + b for a, b, _ in v) * 1e3 for k, v in rows.items()}
            part = {k: (statistics.median(a for a, _, _ in v) * 1e3, statistics.median(b for _, b, _ in v) * 1e3)
                    for k, v in rows.items()}
            size = {k: statistics.median(c for _, _, c in v) for k, v in rows.items()}
            print(f"{name:6s} {ms['codec']:9.2f} | {part['png'][0]:5.2f}+{part['png'][1]:5.2f}ms {size['png']:8.0f} | "
                  f"{part['cache'][0]:5.2f}+{part['cache'][1]:5.2f}ms {size['cache']:8.0f} "
                  f"{100 * kept.count(False) / len(kept):5.0f}% | "
                  f"{part['pixels'][0]:5.2f}+{part['pixels'][1]:5.2f}ms | "
                  f"{ms['png'] / ms['codec']:9.2f} {ms['cache'] / ms['codec']:11.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
