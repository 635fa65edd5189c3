"""``cvb compress``: the rate-distortion bench (bpp, PSNR, MS-SSIM, timings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import click

from ..errors import UsageError
from ..imageio import collect_images
from . import complete
from .jobs_option import jobs_option
from .output import check_output_path, json_result
from .options import Aliased, codec_levels, parse_levels, split_csv
from .options import metric_names as metric_list  # metric_names is a local variable here

DEFAULT_CODECS = "jpeg,webp,avif,jpeg2000,heif,jxl"


@click.command("compress")
@click.option("--codec", "-c", "codecs", multiple=True, default=[DEFAULT_CODECS], show_default=True,
              shell_complete=complete.names("codec"),
              help="Codec names, comma-separated or repeated (`cvb list codecs`).")
@click.option("--levels", "-l", "levels", multiple=True, shell_complete=complete.levels,
              help="Levels to run instead of the defaults: CODEC=L1,L2 (or L1,L2 with one codec).")
@click.option("--images", "-i", "images", multiple=True,
              help="Image files, folders or globs. Default: the sample photos shipped with "
                   "scikit-image, scikit-learn and matplotlib.")
@click.option("--metric", "-m", "metrics", multiple=True, default=["psnr,ms-ssim"], show_default=True,
              shell_complete=complete.names("metric", True),
              help="Image-quality metrics (`cvb list metrics`); 'none' for codec timing only.")
@jobs_option("Worker processes, or")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write one CompressAI-style JSON per codec (results: bpp, psnr-rgb, ms-ssim-rgb, "
                   "encoding_time, decoding_time) plus per-image rows.")
@click.option("--option", "-o", "-O", "options", multiple=True, metavar="TARGET.KEY=VALUE", cls=Aliased,
              shell_complete=complete.options,
              hidden=("-O",),
              help="Codec or metric option (as in `cvb run`); TARGET is codec, "
                   "metric (all of them) or one name, e.g. -o jpeg.subsampling=4:4:4, "
                   "-o bmshj2018-factorized.pretrained=false.")
@click.option("--per-image", is_flag=True, help="Also print a row per image.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def compress_cmd(codecs, levels, images, metrics, jobs, out_dir, options, per_image, as_json, quiet) -> None:
    """Rate-distortion bench: every codec x level over a set of images.

    Reports, per image and as means per codec and level: bits per pixel measured from the
    real bitstream, PSNR (RGB), MS-SSIM, encode and decode time. A corrupt or unreadable
    image is recorded as failed and the rest goes on; the exit status is then 1.

    \b
    Examples:
      cvb compress                                  # built-in codecs on the sample photos
      cvb compress -c jpeg -l 5,10,20,40 -i photos/ -j 2 --out rd/
      cvb compress -c bmshj2018-factorized -i kodak/ # needs pre-placed CompressAI weights
      cvb compress -c jpeg -o jpeg.subsampling=4:4:4 -o jpeg.optimize=true
    """
    from ..rdbench import Unit, compressai_json, image_labels, run_units, summarize
    from ..run.progress import Progress

    if out_dir:
        check_output_path(out_dir, "--out")
    codec_names = split_csv(codecs)
    metric_names = metric_list(metrics)
    chosen, plan = _bench_plan(codec_names, parse_levels(levels, codec_names), metric_names, options)
    paths = _bench_images(images)

    from .jobs_option import resolved

    jobs, jobs_note = resolved(jobs)
    if jobs_note:
        click.echo(f"note: {jobs_note}", err=True)
    labels = image_labels(paths)
    units = [Unit(str(p), name, tuple(lvls), tuple(metric_names), label)
             for p, label in zip(paths, labels) for name, lvls in plan]
    rows = []
    total = sum(len(u.levels) for u in units)
    with Progress(enabled=not quiet) as progress:
        bar = progress.bar("compress", total)
        for unit_rows in run_units(units, jobs=jobs, options=chosen):
            rows.extend(unit_rows)
            bar.advance(len(unit_rows))

    # codecs and levels in the order asked: with -j, units (and a unit's levels) finish in any order
    order = {(n, lv): (i, j) for i, (n, lvls) in enumerate(plan) for j, lv in enumerate(lvls)}
    summary = sorted(summarize(rows), key=lambda s: (order[(s["codec"], s["level"])]))
    failures = [r for r in rows if r.error]

    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, _ in plan:
            data = compressai_json(name, summary, rows, description=f"cvb compress on {len(paths)} images")
            (out_dir / f"{name}.json").write_text(json.dumps(data, indent=2))

    if as_json:
        click.echo(json_result({"images": len(paths), "summary": summary,
                               "failures": [{"image": r.image, "codec": r.codec, "level": r.level,
                                             "error": r.error} for r in failures]}))
    else:
        _print_tables(summary, rows if per_image else [], metric_names, len(paths))
        if out_dir:
            click.echo(f"wrote {len(plan)} JSON file(s) to {out_dir}", err=True)
    if failures:
        msg = f"{len(failures)} of {len(rows)} image x level units failed:"
        click.echo(msg, err=True)
        for r in failures[:20]:
            click.echo(f"  {r.image} {r.codec} {r.level}: {r.error}", err=True)
        if len(failures) > 20:
            click.echo(f"  ... and {len(failures) - 20} more (see --json)", err=True)
        sys.exit(1)


def _bench_images(images: Sequence[str]) -> list[Path]:
    """The images given (files and folders), else cvb's sample photos."""
    from ..sample_images import sample_photo_paths

    if images:
        return collect_images(images)
    paths = list(sample_photo_paths().values())
    if not paths:
        raise UsageError("no sample photos found (install scikit-image); pass --images")
    return paths


def _check_option_syntax(options: Sequence[str]) -> None:
    """Each ``-o`` is TARGET.KEY=VALUE, said in the bench's words (``parse_options`` speaks of
    cvb run's -o and its VLMs and tasks)."""
    for raw in options:
        target = raw.partition("=")[0]
        if "=" not in raw:
            raise UsageError(f"-o {raw!r}: -o/--option takes CODEC.KEY=VALUE (e.g. -o "
                             f"jpeg.subsampling=4:4:4); to write results to a folder use --out {raw}")
        if not target.strip().rpartition(".")[0] or not target.rpartition(".")[2].strip():
            raise UsageError(f"-o {raw!r}: write CODEC.KEY=VALUE, METRIC.KEY=VALUE, codec.KEY=VALUE "
                             f"or metric.KEY=VALUE (e.g. -o jpeg.subsampling=4:4:4)")


def _bench_plan(codec_names: list[str], requested: dict[str, list[str]], metric_names: list[str],
                options: Sequence[str]) -> tuple[dict[tuple[str, str], dict], list[tuple[str, list[str]]]]:
    """The options of every codec and metric ((category, name) -> options, for every process)
    and each codec's levels; fails up front on unknown or unusable codecs, levels, metrics and
    options."""
    from ..options import options_for, parse_options
    from ..plugins import get_registry
    from ..run.plan import create

    _check_option_syntax(options)
    opts = parse_options(options)
    targets = {"codec", "metric", *codec_names, *metric_names}
    stray = sorted(t for t, kv in opts.items() if kv and t not in targets)
    if stray:
        raise UsageError(f"-o {stray[0]}.KEY=VALUE names no codec or metric of this bench; "
                         f"targets: {', '.join(['codec', 'metric', *codec_names, *metric_names])}")
    reg = get_registry()
    chosen: dict[tuple[str, str], dict] = {}
    plan: list[tuple[str, list[str]]] = []
    for name in codec_names:
        chosen[("codec", name)] = options_for(opts, "codec", name)
        codec = create(reg, "codec", name, chosen[("codec", name)])
        plan.append((name, codec_levels(codec, requested.get(name))))
    for m in metric_names:
        chosen[("metric", m)] = options_for(opts, "metric", m)
        create(reg, "metric", m, chosen[("metric", m)])
    return chosen, plan


def _print_tables(summary, rows, metric_names, n_images) -> None:
    """The bench as the report's tables: fixed decimals per column, fitting the terminal."""
    from ..report.tables import Table, decimals_for, fit_columns, fmt, rich_table
    from .console import console

    dec = {m: decimals_for(s["metrics"].get(m) for s in summary) for m in metric_names}
    show_failed = any(s["failed"] for s in summary)
    header = ["codec", "level", "bpp", *metric_names, "enc ms", "dec ms", "n"] + (["failed"] if show_failed else [])
    body = [[s["codec"], s["level"], fmt(s["bpp"], decimals=3),
             *[fmt(s["metrics"].get(m), decimals=dec[m]) for m in metric_names],
             fmt(s["encode_s"] * 1e3, decimals=1), fmt(s["decode_s"] * 1e3, decimals=1), str(s["n"])]
            + ([str(s["failed"])] if show_failed else []) for s in summary]
    con = console()
    tables = [Table(f"rate-distortion, mean over {n_images} images", header, body)]
    if rows:
        dec_r = {m: decimals_for(r.metrics.get(m) for r in rows) for m in metric_names}
        tables.append(Table("per image", ["image", "codec", "level", "bpp", *metric_names, "error"],
                            [[r.image, r.codec, r.level, fmt(r.bpp, decimals=3),
                              *[fmt(r.metrics.get(m), decimals=dec_r[m]) for m in metric_names],
                              r.error or ""] for r in rows]))
    for t in tables:
        for part in fit_columns(t, con.width, keep=2 if t.header[0] == "codec" else 3):
            con.print(rich_table(part))
