"""What the offline reference models cost and score: load times, per-image latency, accuracy.

Prints three tables:

  load      seconds to load each part (first call, imports included): EfficientNet-Lite0,
            RapidOCR, the MiniLM embedder plus the 1000 class-name embeddings
  latency   per image, median of --repeat runs with the part's result cache cleared:
            tagger = classifier forward on its 2 views; ocr = detection + recognition
  accuracy  the bundled ``sample`` task through ``reference`` (or --vlm), clean and at each
            JPEG quality in --levels: acc, existence acc, POPE F1, OCR acc, bpp

    .venv/bin/python benchmarks/bench_reference.py [--levels 1,3,5,10,30,75] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def cpu_timed(fn):
    """(wall s, process CPU s, result): CPU time is steadier than wall on a shared machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="1,3,5,10,30,75", help="JPEG qualities")
    ap.add_argument("--repeat", type=int, default=3, help="runs per latency figure")
    ap.add_argument("--vlm", default="reference", help="model for the accuracy table")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from cvb.codecs.base import compress
    from cvb.plugins import get_registry
    from cvb.sample_images import package_file, sample_photo_paths
    from cvb.types import Query
    from PIL import Image

    reg = get_registry()
    ref = reg.create("vlm", "reference")
    photos = {n: Image.open(p).convert("RGB") for n, p in sample_photo_paths().items()}
    photos["page"] = Image.open(package_file("skimage", "data/page.png")).convert("RGB")

    print(f"torch threads: {torch.get_num_threads()}")
    print("\nload (s)")
    t, _ = timed(ref.tagger.classifier.load)
    print(f"  efficientnet-lite0          {t:6.2f}")
    t, _ = timed(ref.reader.engine.load)
    print(f"  rapidocr (PP-OCRv4)         {t:6.2f}")
    t, _ = timed(ref.tagger.embedder.load)
    print(f"  minilm embedder             {t:6.2f}")
    t, _ = timed(ref.tagger.embedder.class_embeddings)
    print(f"  1000 class-name embeddings  {t:6.2f}")

    print("\nlatency per image (ms, median wall / median process CPU)")
    print(f"  {'image':14s} {'size':>9s} {'tagger':>13s} {'ocr':>13s}  lines")
    for name, img in photos.items():
        tag = [cpu_timed(lambda: ref.tagger.classifier.probabilities([img])) for _ in range(args.repeat)]
        ocr = [cpu_timed(lambda: ref.reader.engine.read(img)) for _ in range(args.repeat)]

        def ms(runs, k):
            return 1000 * statistics.median(r[k] for r in runs)

        print(f"  {name:14s} {img.width:4d}x{img.height:<4d} {ms(tag, 0):6.0f}/{ms(tag, 1):<6.0f} "
              f"{ms(ocr, 0):6.0f}/{ms(ocr, 1):<6.0f}  {len(ocr[0][2])}")

    vlm = ref if args.vlm == "reference" else reg.create("vlm", args.vlm)
    task = reg.create("task", "sample")
    jpeg = reg.create("codec", "jpeg")
    samples = list(task.samples())
    clean = {s.image.key: s.image.load() for s in samples}
    print(f"\naccuracy on task 'sample' ({len(samples)} questions) with {args.vlm}")
    print(f"  {'level':>7s} {'bpp':>6s} {'acc':>6s} {'exist':>6s} {'F1':>6s} {'ocr':>6s} {'s':>6s}")
    for level in [None, *args.levels.split(",")]:
        if level is None:
            images, bpp = clean, 24.0
        else:
            comp = {k: compress(jpeg, img, level) for k, img in clean.items()}
            images = {k: c.image for k, c in comp.items()}
            bpp = statistics.mean(c.bpp for c in comp.values())
        t, answers = timed(lambda: vlm.answer([Query(image=images[s.image.key], prompt=s.question,
                                                     kind=s.kind, options=s.options, sample_id=s.id)
                                               for s in samples]))
        sc = task.score(samples, {s.id: a.text for s, a in zip(samples, answers) if a.error is None})
        d = sc.details

        def get(*keys):
            return next((d[k] for k in keys if k in d), float("nan"))

        print(f"  {level or 'clean':>7s} {bpp:6.2f} {sc.value:6.1f} "
              f"{get('acc/existence', 'existence_acc'):6.1f} {get('f1'):6.1f} "
              f"{get('acc/ocr', 'ocr_acc'):6.1f} {t:6.1f}")


if __name__ == "__main__":
    main()
