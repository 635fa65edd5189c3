"""``cvb demo-data``: fetch and prepare the images of the tagger's adapter demonstration."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo-data")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write: train/, eval/ (with questions.jsonl), licenses/, manifest.json, debs/.")
@click.option("--package", "packages", multiple=True,
              help="Debian packages to take images from [default: tuxpaint-stamps-default gnome-backgrounds "
                   "mate-backgrounds plasma-workspace-wallpapers]. The stamps are always needed (evaluation).")
@click.option("--debs", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of already downloaded .deb files (used first; missing ones are downloaded into it) "
                   "[default: OUT/debs].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the folder split and the crops.")
@click.option("--eval-fraction", type=float, default=0.5, show_default=True,
              help="Share of the stamp folders held out for evaluation.")
@click.option("--crops", "crops_per_image", type=click.IntRange(min=1), default=8, show_default=True,
              help="Square training crops per wallpaper or sample photo.")
@click.option("--crop-size", type=click.IntRange(min=32), default=256, show_default=True,
              help="Side of the training crops in pixels.")
@click.option("--eval-size", type=click.IntRange(min=32), default=384, show_default=True,
              help="Longest side of the evaluation (and training) stamps in pixels.")
@click.option("--max-eval", type=click.IntRange(min=1), help="Keep only N held-out images (seeded sample).")
@click.option("--max-train", type=click.IntRange(min=1), help="Keep only N training images (seeded sample).")
@click.option("--no-sample-photos", is_flag=True, help="Leave out the photos that pip packages bundle.")
def demo_data_cmd(out_dir, packages, debs, seed, eval_fraction, crops_per_image, crop_size, eval_size, max_eval,
                  max_train, no_sample_photos) -> None:
    """Fetch and prepare the photos of the offline adapter demonstration (docs/adapter.md).

    Downloads Debian packages with `apt-get download` (nothing is installed), unpacks their
    images (dpkg -x limited to images and copyright files), and writes held-out evaluation images
    (Tux Paint's photographic stamps, split by
    stamp folder), training images (the other stamps, crops of desktop wallpapers and of the
    bundled sample photos) and eval/questions.jsonl, whose answers are the base imagenet-tagger's
    top-1 classes on the clean images. The packages' licences (the stamps are GPL-2) are not
    cvb's: the images are fetched here, never shipped with cvb.

    \b
    Example:
      cvb demo-data --out demo/
      cvb adapt --vlm imagenet-tagger -c jpeg -l 2,5,10 --images demo/train --resolution native \\
                --out adapters/tagger-jpeg
      cvb run --vlm imagenet-tagger --vlm adapted:adapters/tagger-jpeg -c jpeg -l 2,5,10 \\
              -t folder:demo/eval -o folder.questions=demo/eval/questions.jsonl
    """
    from cvb.cli.console import console

    from .demo_data import DEFAULT_PACKAGES, prepare

    out = console()
    done = prepare(out_dir, packages=tuple(packages) or DEFAULT_PACKAGES, debs=debs, seed=seed,
                   eval_fraction=eval_fraction, eval_size=eval_size, crop_size=crop_size,
                   crops_per_image=crops_per_image, max_eval=max_eval, max_train=max_train,
                   sample_photos=not no_sample_photos, log=lambda m: out.print(m))
    out.print(f"{done.eval_images} held-out images from {len(done.eval_folders)} stamp folders in {out_dir / 'eval'}; "
              f"{done.train_images} training images in {out_dir / 'train'} "
              f"({', '.join(f'{k} {v}' for k, v in done.packages.items())}); licences in {out_dir / 'licenses'}")
