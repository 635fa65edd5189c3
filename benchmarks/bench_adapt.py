"""Adapter training throughput (image pairs/s) and peak memory, through ``cvb_adapt.train.run``.

The same code ``cvb adapt`` runs: a frozen teacher on the clean image, the student (vision side
+ condition) on its JPEG version, MSE on the visual tokens, AdamW, one step per batch. Training
images are crops of the bundled sample photos, compressed into a temporary image cache
(JPEG levels 1 and 5) before timing starts. The first ``--warmup-steps`` steps (allocations,
kernel selection) are left out of the figure; each ``--train`` variant runs in turn on one loaded
model so their ratios compare like with like.

Default: the tiny random checkpoints of tests/tiny_vlms.py on CPU at 56x56 (the code's own
overhead). ``--real-size qwen2.5-vl-3b``: Qwen2.5-VL-3B with random weights, built from its
published configuration (benchmarks/bench_hf_vlm.py; nothing downloaded), at the paper's
336x336, batch 20 per GPU, bf16:

    .venv/bin/python benchmarks/bench_adapt.py
    python benchmarks/bench_adapt.py --real-size qwen2.5-vl-3b --device cuda --batch 20 --dtype bf16

Prints one row per architecture x variant: pairs/s, seconds/step, trained parameters, peak
memory (CUDA: ``max_memory_allocated``; CPU: the process's peak RSS so far, which only grows).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tiny_vlms
sys.path.insert(0, str(ROOT / "benchmarks"))  # bench_hf_vlm (real-size configurations)


def registry():
    """The plugin registry, with the hf and pillow plugins registered by hand on a bare machine."""
    from source_tree import register_builtins

    return register_builtins(("cvb_hf", "cvb_pillow"))


def training_images(folder: Path, n: int, size: tuple[int, int]) -> Path:
    """``n`` crops of the sample photos, each ``size`` (different crops, so different content)."""
    from PIL import Image

    from cvb.sample_images import sample_photo_paths

    folder.mkdir(parents=True, exist_ok=True)
    photos = [Image.open(p).convert("RGB") for _, p in sorted(sample_photo_paths().items())]
    for i in range(n):
        im = photos[i % len(photos)]
        k = i // len(photos)
        w, h = size
        scale = min(im.width / w, im.height / h) / (1 + 0.15 * (k % 4))
        cw, ch = int(w * scale), int(h * scale)
        x = (k * 37) % max(1, im.width - cw)
        y = (k * 23) % max(1, im.height - ch)
        im.crop((x, y, x + cw, y + ch)).resize(size, Image.Resampling.BICUBIC).save(folder / f"{i:04d}.png")
    return folder


def bench(model_dir: Path, label: str, variants: list[str], args, work: Path) -> list[dict]:
    import torch

    from cvb.run.image_cache import ImageCache
    from cvb.run.plan import codec_plans
    from cvb_adapt.data import list_sources, prepare
    from cvb_adapt.student import parse_train
    from cvb_adapt.train import Settings, run
    from cvb_adapt.vocabulary import Vocabulary

    reg = registry()
    size = (args.resolution, args.resolution)
    steps = args.steps + args.warmup_steps
    n_images = max(8, -(-args.batch * steps // 2) + 4)  # two levels per image: enough pairs
    photos = training_images(work / f"photos-{label}", n_images, size)
    plans = codec_plans(["jpeg"], ["jpeg=1,5"], reg)
    sources, what = list_sources([str(photos)], None, "train", None, None)
    cache = ImageCache(work / "cache")
    data = prepare(sources, plans, cache, reg, 1, 0.1, what)
    vocab = Vocabulary({"jpeg": ("1", "5")}, "full", {"jpeg": {"1": 1.0, "5": 5.0}})
    rows = []
    for variant in variants:
        settings = Settings(steps=steps, batch=args.batch, resolution=size, workers=args.workers, dtype=args.dtype,
                            save_every=10**9, warmup=0.0, train=variant)
        out = work / f"adapter-{label}-{variant.replace(':', '_')}"
        make = lambda device, dtype: reg.create("vlm", f"hf:{model_dir}", device=device, dtype=dtype)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        outcome = run(make, f"hf:{model_dir}", data, cache, vocab, parse_train(variant), settings, out, quiet=True)
        timed = outcome.step_seconds[args.warmup_steps:]
        per_step = statistics.median(timed)
        peak = (outcome.peak_memory_mb if outcome.peak_memory_mb is not None
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        row = {"model": label, "train": variant, "batch": args.batch, "resolution": args.resolution,
               "dtype": outcome.manifest["train"]["dtype"], "pairs_per_s": round(args.batch / per_step, 2),
               "s_per_step": round(per_step, 4),
               "trained_params_M": round(outcome.manifest["train"]["parameters"] / 1e6, 3),
               "peak_mem_MB": round(peak), "peak_kind": "cuda" if outcome.peak_memory_mb is not None else "cpu-rss",
               "val_before": round(outcome.manifest["losses"]["val_before_mean"], 6),
               "val_after": round(outcome.manifest["losses"]["val_after_mean"], 6)}
        rows.append(row)
        print(f"{label:<14} {variant:<10} {row['pairs_per_s']:>8.2f} pairs/s  {row['s_per_step']:>8.4f} s/step  "
              f"{row['trained_params_M']:>9.3f}M trained  peak {row['peak_mem_MB']:>7} MB ({row['peak_kind']})",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-size", default="", help="qwen2.5-vl-3b: the real-size model with random weights")
    parser.add_argument("--archs", default="qwen2_5_vl,idefics3,llava,internvl",
                        help="tiny architectures (default mode)")
    parser.add_argument("--train", default="full,last:2,lora:8,embedding", help="variants, comma-separated")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=None, help="default 336 real-size, 56 tiny")
    parser.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed steps first")
    parser.add_argument("--workers", type=int, default=2, help="image-loading processes")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    import torch

    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # accelerate picks the device; hide the GPU
    elif args.device and args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no GPU")
    variants = [v.strip() for v in args.train.split(",") if v.strip()]
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    print(f"# bench_adapt on {platform.node()} ({device}: "
          f"{torch.cuda.get_device_name(0) if device == 'cuda' else platform.processor() or 'cpu'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cvb-bench-adapt-") as tmp:
        work = Path(tmp)
        if args.real_size:
            from bench_hf_vlm import build_real

            args.resolution = args.resolution or 336
            folder = build_real(args.real_size, work / args.real_size, device)
            rows += bench(folder, args.real_size, variants, args, work)
        else:
            import tiny_vlms

            args.resolution = args.resolution or 56
            for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
                folder = tiny_vlms.BUILDERS[arch](work / arch)
                rows += bench(folder, arch, variants, args, work)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
