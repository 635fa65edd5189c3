"""How much does `cvb compress` cost over a bare Pillow loop, and how well does -j scale?

Work: JPEG at 4 levels (encode + decode) over the sample photos, repeated ``--repeat`` times,
no image metrics (so the codec path itself is measured). Prints images/s for:
  plain  - a single-process loop of Pillow save/open calls doing the same work
  -j 1   - cvb's bench in-process (cvb.rdbench.run_units, jobs=1)
  -j 2   - cvb's bench with 2 worker processes
and the ratios the issue targets (-j 1 within 10% of plain; -j 2 >= 1.7x -j 1), plus peak RSS.

    .venv/bin/python benchmarks/bench_compress.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

LEVELS = ("5", "10", "20", "40")


def plain_loop(paths: list[Path]) -> int:
    from PIL import Image

    n = 0
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB")
        for q in LEVELS:
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=int(q))
            with Image.open(io.BytesIO(buf.getvalue())) as out:
                out.convert("RGB")
            n += 1
    return n


def cvb_bench(paths: list[Path], jobs: int) -> int:
    from cvb.rdbench import Unit, run_units

    units = [Unit(str(p), "jpeg", LEVELS, ()) for p in paths]
    n = 0
    for rows in run_units(units, jobs=jobs):
        assert all(r.error is None for r in rows), [r.error for r in rows]
        n += len(rows)
    return n


def timed(fn, *args) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15, help="times the photo set is repeated")
    args = ap.parse_args()

    from cvb.plugins import get_registry
    from cvb.sample_images import sample_photo_paths

    get_registry()  # plugin discovery is start-up cost, not per-image cost
    photos = list(sample_photo_paths().values())
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-"))
    # distinct files per repeat, as a real folder of images would be
    paths = []
    for r in range(args.repeat):
        for p in photos:
            dst = tmp / f"{r}-{p.name}"
            shutil.copy(p, dst)
            paths.append(dst)
    try:
        plain_loop(paths[: len(photos)])  # warm the page cache and Pillow's codecs
        results = {}
        for label, fn, extra in (("plain", plain_loop, ()), ("-j 1", cvb_bench, (1,)), ("-j 2", cvb_bench, (2,))):
            best = min((timed(fn, paths, *extra) for _ in range(3)), key=lambda t: t[0])
            results[label] = best[1] / best[0]
        print(f"JPEG x {len(LEVELS)} levels, {len(paths)} images ({len(photos)} photos x {args.repeat}), "
              f"cpus={os.cpu_count()}")
        for label, rate in results.items():
            print(f"  {label:6s} {rate:8.1f} image-levels/s")
        print(f"  -j 1 / plain = {results['-j 1'] / results['plain']:.3f}   (target >= 0.90)")
        print(f"  -j 2 / -j 1  = {results['-j 2'] / results['-j 1']:.3f}   (target >= 1.70)")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  peak RSS: main process {own:.0f} MiB, largest worker {kids:.0f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
