"""Per-cell loss balance (``cvb adapt --balance``): held-out loss per JPEG level, plain MSE vs cell.

One plain MSE over all visual tokens is dominated by the most compressed cells, whose losses
are largest: with JPEG levels 1, 10 and 30 a short training run lowers the mean held-out loss
while the best-quality cell gets worse. ``--balance cell`` weights each cell by 1 / its loss
before training. This trains the same tiny random checkpoints (tests/tiny_vlms.py) on the same
smooth photo crops (tests/adapt_helpers.py) with both settings, same seed, same steps, and
prints the held-out loss change per cell and on average for each:

    .venv/bin/python benchmarks/bench_adapt_balance.py                 # 4 architectures, 40 steps
    .venv/bin/python benchmarks/bench_adapt_balance.py --arch qwen2_5_vl --steps 60 --json

Tiny random networks, so this shows what the balance does to the cells' trade-off, not the
paper's gains.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tiny_vlms, adapt_helpers

LEVELS = ("1", "10", "30")


def prepared(photos: Path, cache_root: Path):
    from cvb.run.image_cache import ImageCache
    from cvb.run.plan import codec_plans
    from cvb_adapt.data import list_sources, prepare
    from source_tree import register_builtins

    reg = register_builtins(("cvb_hf", "cvb_pillow"))
    plans = codec_plans(["jpeg"], ["jpeg=" + ",".join(LEVELS)], reg)
    sources, what = list_sources([str(photos)], None, "train", None, None)
    cache = ImageCache(cache_root)
    return prepare(sources, plans, cache, reg, 1, 0.2, what), cache, reg


def train(model_dir: Path, out: Path, data, cache, reg, balance: str, steps: int, lr: float) -> dict:
    from cvb_adapt.student import parse_train
    from cvb_adapt.train import Settings, run
    from cvb_adapt.vocabulary import Vocabulary

    ref = f"hf:{model_dir}"
    settings = Settings(steps=steps, batch=8, lr=lr, resolution=(56, 56), workers=0, save_every=10_000,
                        balance=balance)
    vocab = Vocabulary({"jpeg": LEVELS}, "full", {"jpeg": {lv: float(lv) for lv in LEVELS}})
    outcome = run(lambda device, dtype: reg.create("vlm", ref, device=device, dtype=dtype), ref, data, cache,
                  vocab, parse_train("full"), settings, out, quiet=True)
    change = {c: 100 * (outcome.val_after[c] - b) / b for c, b in outcome.val_before.items()}
    mean_b = sum(outcome.val_before.values()) / len(outcome.val_before)
    mean_a = sum(outcome.val_after.values()) / len(outcome.val_after)
    return {"change_pct": change, "mean_change_pct": 100 * (mean_a - mean_b) / mean_b}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", action="append", help="tiny architecture (repeatable; default: four)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import adapt_helpers
    import tiny_vlms

    archs = args.arch or ["qwen2_5_vl", "idefics3", "llava", "internvl"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, cache, reg = prepared(adapt_helpers.smooth_photos(work / "photos"), work / "cache")
        for arch in archs:
            model = tiny_vlms.BUILDERS[arch](work / arch)
            for balance in ("none", "cell"):
                r = train(model, work / f"{arch}-{balance}", data, cache, reg, balance, args.steps, args.lr)
                rows.append({"arch": arch, "balance": balance, **r})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"held-out loss change after {args.steps} steps (negative = better), JPEG levels {', '.join(LEVELS)}")
    print(f"{'arch':<12} {'balance':<8} " + " ".join(f"{'jpeg/' + lv:>9}" for lv in LEVELS) + f" {'mean':>9}")
    for r in rows:
        print(f"{r['arch']:<12} {r['balance']:<8} "
              + " ".join(f"{r['change_pct'][f'jpeg/{lv}']:>+8.1f}%" for lv in LEVELS)
              + f" {r['mean_change_pct']:>+8.1f}%")


if __name__ == "__main__":
    main()
