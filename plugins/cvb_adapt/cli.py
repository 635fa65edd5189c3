"""``cvb adapt``: train a conditional visual-encoder adapter by feature distillation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cvb.cli.options import Aliased
from cvb.errors import UsageError

from .student import TRAIN_CHOICES
from .vocabulary import MODES


@click.command("adapt")
@click.option("--vlm", "vlm_ref", required=True, metavar="NAME",
              help="The base VLM: an hf alias, hub id or checkpoint folder (qwen2.5-vl-3b, hf:PATH).")
@click.option("--codec", "-c", "codecs", multiple=True, required=True,
              help="Codecs to train on, comma-separated or repeated (`cvb list codecs`).")
@click.option("--levels", "-l", "levels", multiple=True,
              help="Levels instead of each codec's defaults: CODEC=L1,L2 (or L1,L2 with one codec).")
@click.option("--images", "-i", "images", multiple=True,
              help="Training images: files, folders or globs. Default: the sample photos installed "
                   "packages ship (8 photos: enough to try, not to train).")
@click.option("--dataset", metavar="ID|PATH", help="An image dataset instead: a Hugging Face id or a local "
              "copy (save_to_disk folder, or any folder load_dataset reads).")
@click.option("--dataset-split", default="train", show_default=True, help="Split of --dataset.")
@click.option("--image-column", default=None, help="Image column of --dataset [default: its first image column].")
@click.option("--limit", type=click.IntRange(min=2), help="Use only the first N images.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="Share of the images held out for validation (split by image content).")
@click.option("--resolution", default="native", show_default=True,
              help="native: the image processor's own pipeline, unchanged (aspect ratio, tiles, Qwen's "
                   "token count), exactly as the base model sees images; or N / WxH: every image squashed "
                   "to that size first (the paper's 336), which the adapted VLM then repeats at "
                   "evaluation and only `adapted-base:OUT` repeats for the base model.")
@click.option("--clean-mix", type=float, default=0.0, show_default=True, metavar="FRACTION",
              help="Share of training samples that are uncompressed (clean image, no condition, against "
                   "the teacher on the same image): keeps the adapted model close to the base on clean "
                   "images. 0.25 = one sample in four.")
@click.option("--condition", type=click.Choice(MODES), default="full", show_default=True,
              help="What the condition distinguishes: codec x level, codec, level, or nothing (ablation).")
@click.option("--placement", type=click.Choice(["embedding", "rotary"]), default="embedding", show_default=True,
              help="Where the condition is added: the position/patch embedding, or (Qwen only) the RoPE "
                   "angles as the paper's code did, which cancels out (docs/adapter.md).")
@click.option("--train", "train_what", default="full", show_default=True, metavar="WHAT",
              help=f"What trains: {TRAIN_CHOICES}. full = whole vision side + condition (the paper).")
@click.option("--steps", type=click.IntRange(min=1), help="Optimizer steps [default: --epochs over the data].")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch-size", "-b", "--batch", "batch", type=click.IntRange(min=1), default=20, show_default=True,
              cls=Aliased, hidden=("--batch",),
              help="Image pairs per step per process (the paper: 20 per GPU).")
@click.option("--lr", type=float, default=1e-4, show_default=True, help="AdamW learning rate.")
@click.option("--warmup", type=float, default=0.05, show_default=True,
              help="Linear warm-up: a fraction of the steps (< 1) or a number of steps; then cosine decay.")
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--grad-clip", type=float, default=1.0, show_default=True, help="Gradient norm clip (0: none).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--balance", type=click.Choice(["none", "cell"]), default="none", show_default=True,
              help="none: one MSE over all visual tokens (the paper; the most compressed cells, whose "
                   "losses are largest, dominate it); cell: each codec x level weighted by 1 / its "
                   "validation loss before training, so every cell counts alike.")
@click.option("--dtype", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True,
              help="Precision: bf16 = fp32 master weights with bf16 autocast (never bf16 weights, which "
                   "drop small updates); auto = bf16 on GPU, fp32 on CPU.")
@click.option("--save-every", type=click.IntRange(min=1), default=100, show_default=True,
              help="Checkpoint (weights, optimizer, data position) every N steps.")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Processes reading and resizing images during training.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes compressing the training images.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="CVB_CACHE_DIR",
              help="Compressed-image cache shared with `cvb run` [default: the user cache dir's cvb/images].")
@click.option("--option", "-o", "options", multiple=True, metavar="TARGET.KEY=VALUE",
              help="Codec or VLM option: codec.KEY=VALUE, CODEC.KEY=VALUE, vlm.KEY=VALUE "
                   "(e.g. -o vlm.max_pixels=200704, -o jpeg.subsampling=4:4:4).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The adapter folder to write (and to resume from).")
@click.option("--restart", is_flag=True, help="Discard a checkpoint or finished adapter in --out and start over.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON on stdout.")
def adapt_cmd(vlm_ref, codecs, levels, images, dataset, dataset_split, image_column, limit, val_fraction,
              resolution, clean_mix, condition, placement, train_what, steps, epochs, batch, lr, warmup, weight_decay,
              grad_clip, seed, balance, dtype, save_every, workers, jobs, cache_dir, options, out_dir, restart, quiet,
              as_json) -> None:
    """Train a conditional visual-encoder adapter (the paper's "enhancing" step).

    Every training image is compressed by every codec x level through `cvb run`'s engine and
    image cache. A frozen copy of the VLM's vision side sees the clean image; the student (the
    same vision side plus a codec x level condition added to its position encoding) sees the
    compressed one, and learns to give the LLM the tokens the clean image would. The LLM is
    never touched. Validation loss per codec x level is printed before and after.

    Rerunning the same command resumes from the last checkpoint (kill -9 safe); once finished it
    only reports. Use the result as a VLM: --vlm adapted:OUT.

    \b
    Examples:
      cvb adapt --vlm qwen2.5-vl-3b -c jpeg,elic2022 -l jpeg=1,3,5,6 -l elic2022=1,2,3,4 \\
                --images coco/train2017/ --out adapters/qwen3b-jpeg-elic
      cvb run --vlm qwen2.5-vl-3b --vlm adapted:adapters/qwen3b-jpeg-elic -c jpeg -t pope
      cvb report --adapted qwen2.5-vl-3b=adapted:adapters/qwen3b-jpeg-elic
      accelerate launch --multi_gpu --num_processes 8 -m cvb adapt ...   # one process per GPU
    """
    import shutil

    from rich.console import Console

    from cvb.cli.console import console
    from cvb.plugins import get_registry
    from cvb.run.image_cache import ImageCache, default_cache_dir
    from cvb.options import options_for, parse_options
    from cvb.run.plan import codec_plans
    from cvb.run.progress import Progress

    from . import artifact
    from .data import list_sources, parse_resolution, prepare
    from .student import parse_train
    from .vocabulary import Vocabulary

    out = Console(stderr=True) if as_json else console()
    size = parse_resolution(resolution)
    train_spec = parse_train(train_what)
    if train_spec.kind == "embedding" and condition == "none":
        raise UsageError("--train embedding with --condition none trains nothing")
    finished = (out_dir / artifact.MANIFEST).is_file() and not restart
    if restart and out_dir.exists():
        shutil.rmtree(out_dir / artifact.CHECKPOINT, ignore_errors=True)
        for name in (artifact.MANIFEST, artifact.WEIGHTS, artifact.LOSSES):
            (out_dir / name).unlink(missing_ok=True)

    registry = get_registry()
    opts = parse_options(options)
    stray = sorted(t for t, kv in opts.items() if kv and t not in ("vlm", "codec", "task", "metric")
                   and t not in {c.strip() for raw in codecs for c in raw.split(",")})
    if stray or opts["task"] or opts["metric"]:
        raise UsageError(f"-o {(stray or ['task'])[0]}.KEY=VALUE: cvb adapt takes vlm.KEY=VALUE, codec.KEY=VALUE "
                         f"or CODEC.KEY=VALUE")
    vlm_options = {**options_for(opts, "vlm", vlm_ref)}
    for key in ("device", "dtype"):
        if key in vlm_options:
            raise UsageError(f"-o vlm.{key}: cvb adapt chooses the device (accelerate) and --dtype itself")
    probe = registry.create("vlm", vlm_ref, **vlm_options)  # a bad name or option fails now, cheaply
    from .seam import base_maker

    make_vlm = base_maker(registry, vlm_ref, vlm_options, probe)
    plans = codec_plans(codecs, levels, registry, options)
    codecs_only = [c for c in plans if not c.is_reference]
    vocab = Vocabulary({c.name: tuple(c.levels) for c in codecs_only}, condition,
                       {c.name: {lv: rank for lv in c.levels if (rank := c.rate_rank(lv)) is not None}
                        for c in codecs_only})
    if finished:  # only reports, and only when this command asks for what was trained
        manifest = artifact.read_manifest(out_dir)
        asked = {"base": vlm_ref, "codecs and levels": vocab.describe(), "condition": condition,
                 "placement": placement, "train": train_spec.label,
                 "resolution": list(size) if size else "native", "lr": lr, "batch": batch, "seed": seed,
                 "weight_decay": weight_decay, "grad_clip": grad_clip, "balance": balance, "clean_mix": clean_mix,
                 **({"steps": steps} if steps else {})}
        t = manifest.get("train", {})
        done = {"base": manifest["base"].get("model"),
                "codecs and levels": Vocabulary.from_json(manifest["vocabulary"]).describe(),
                "condition": manifest["condition"]["mode"], "placement": manifest["condition"].get("placement"),
                "train": t.get("what"), "resolution": manifest.get("resolution"), "lr": t.get("lr"),
                "batch": t.get("batch_per_process"), "seed": t.get("seed"), "weight_decay": t.get("weight_decay"),
                "grad_clip": t.get("grad_clip"), "balance": t.get("balance", "none"),
                "clean_mix": t.get("clean_mix", 0.0), "steps": t.get("steps")}
        changed = [f"{k}: {done.get(k)} -> {v}" for k, v in asked.items() if done.get(k) != v]
        if changed:
            raise UsageError(f"{out_dir} holds a finished adapter trained with other settings ({'; '.join(changed)}); "
                             f"pass --restart to train it again, or choose another --out")
        _report(out, manifest, out_dir, as_json, done_before=True)
        return
    sources, description = list_sources(images, dataset, dataset_split, image_column, limit)
    cache = ImageCache(cache_dir or default_cache_dir())

    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    import torch
    from accelerate import Accelerator

    acc = Accelerator(cpu=not torch.cuda.is_available())
    with acc.main_process_first():  # the main process compresses; the others then find it cached
        with Progress(out, enabled=not quiet and acc.is_main_process) as progress:
            data = prepare(sources, plans, cache, registry, jobs, val_fraction, description, progress)
    from .data import add_clean

    data = add_clean(data, clean_mix, seed)
    if data.failed and acc.is_main_process:
        out.print(f"[yellow]note:[/] {len(data.failed)} image/codec/level unit(s) failed and are left out, "
                  f"e.g. {data.failed[0]}")

    from .train import Settings, run

    settings = Settings(steps=steps, epochs=epochs, batch=batch, lr=lr, warmup=warmup, weight_decay=weight_decay,
                        grad_clip=grad_clip, seed=seed, dtype=dtype, balance=balance, train=train_spec.label,
                        placement=placement,
                        save_every=save_every,
                        workers=workers, resolution=size, clean_mix=clean_mix)

    try:
        outcome = run(make_vlm, vlm_ref, data, cache, vocab, train_spec, settings, out_dir, console=out,
                      quiet=quiet, accelerator=acc, describe={"images_arg": list(images), "dataset": dataset})
    except KeyboardInterrupt:
        saved = artifact.CHECKPOINT if (out_dir / artifact.CHECKPOINT).is_dir() else None
        where = "the last checkpoint is in " + str(out_dir / saved) if saved else "no checkpoint yet"
        click.echo(f"interrupted: {where}; "
                   f"rerun the same command to resume" + (" from it" if saved else ""), err=True)
        raise SystemExit(130) from None
    if acc.is_main_process:
        _report(out, outcome.manifest, out_dir, as_json, outcome=outcome)


def _report(out, manifest: dict, folder: Path, as_json: bool, done_before: bool = False, outcome=None) -> None:
    from .train import loss_table

    losses = manifest["losses"]
    if as_json:
        payload = {"adapter": manifest, "already_done": done_before}
        if outcome is not None:
            payload.update(resumed_from=outcome.resumed_from, steps_run=outcome.steps_run,
                           images_per_s=outcome.images_per_s, peak_memory_mb=outcome.peak_memory_mb)
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    if done_before:
        out.print("this adapter is finished (--restart trains it again)")
    out.print(loss_table(losses["val_before"], losses["val_after"]))
    t = manifest["train"]
    out.print(f"base {manifest['base']['source']}; trained {t['what']} ({t['parameters']:,} parameters) for "
              f"{t['steps']} steps; condition {manifest['condition']['mode']} added to the "
              f"{manifest['condition']['added_to'] or 'nothing'}; resolution {manifest['resolution']}")
    out.print(f"use it as a VLM: --vlm adapted:{folder}")
    if outcome is not None and outcome.steps_run:
        out.print(f"{outcome.steps_run} steps in {outcome.seconds:.1f} s ({outcome.images_per_s:.2f} image pairs/s)"
                  + (f", resumed at step {outcome.resumed_from}" if outcome.resumed_from else ""))
