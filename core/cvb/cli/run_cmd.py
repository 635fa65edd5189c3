"""``cvb run`` (the benchmark matrix) and ``cvb export`` (tables of its results store).

Light at import: the runner, the store and every plugin load inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ..jsonsafe import json_safe
from . import complete
from .jobs_option import jobs_option
from .options import Aliased, Choice
from ..run.executor import EXECUTORS
from ..run.store import DEFAULT_STORE, EXPORTS

EXIT_FAILURES = 1
EXIT_INTERRUPTED = 130


def _checked_store(path: Path) -> Path:
    from .output import check_output_path

    check_output_path(path, "--store")
    return path


def _to_terminal(message: str) -> None:
    """``message`` on the controlling terminal, when there is one (stderr's pipe is gone)."""
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(message + "\n")
    except OSError:
        pass


@click.command("run")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Study file (TOML): the matrix and every setting these flags take, in one file "
                   "a paper keeps (docs/study-files.md); flags given here override it. Its relative "
                   "paths (store, cache_dir) are read from the file's folder.")
@click.option("--codec", "-c", "codecs", multiple=True, shell_complete=complete.names("codec"),
              help="Codecs, comma-separated or repeated (`cvb list codecs`). The uncompressed "
                   "reference `none` is always part of the matrix.")
@click.option("--levels", "-l", "levels", multiple=True, shell_complete=complete.levels,
              help="Levels instead of each codec's defaults: CODEC=L1,L2 (repeatable), or L1,L2 "
                   "with a single codec.")
@click.option("--vlm", "vlms", multiple=True, shell_complete=complete.names("vlm"),
              help="VLMs, comma-separated or repeated (`cvb list vlms`), e.g. hf:Qwen/Qwen2.5-VL-3B-Instruct.")
@click.option("--task", "-t", "tasks", multiple=True, shell_complete=complete.names("task"),
              help="Tasks, comma-separated or repeated (`cvb list tasks`).")
@click.option("--metric", "-m", "metrics", multiple=True, shell_complete=complete.names("metric", True),
              help="Image-quality metrics of each compressed image (default: psnr,ms-ssim where "
                   "installed; `none` for no metric).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N samples of each task.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_STORE, show_default=True, envvar="CVB_STORE",
              help="SQLite results store, created with its folder if missing [env CVB_STORE].",
              callback=lambda ctx, param, value: _checked_store(value))
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="CVB_CACHE_DIR",
              help="Compressed-image cache [default: the user cache dir's cvb/images; env CVB_CACHE_DIR].")
@jobs_option("Codec worker processes (each with its share of the CPUs' threads), or")
@click.option("--executor", type=Choice(list(EXECUTORS)), default="local", show_default=True,
              help="Where the work runs: this machine, or a Ray cluster (VLM replicas as actors, "
                   "compression as tasks; needs `pip install 'cvb[ray]'`; see docs/scale.md).")
@click.option("--address", metavar="ADDR",
              help="Ray cluster to join (e.g. 10.0.0.5:6379, or `auto`); default: start a local one.")
@click.option("--replicas", type=click.IntRange(min=1),
              help="VLM replicas with --executor ray [default: one per GPU; without GPUs one per 2 CPUs].")
@click.option("--replica-gpus", type=click.FloatRange(min=0),
              help="GPUs per replica with --executor ray (0.5: two replicas share a GPU) "
                   "[default: 1 when the cluster has GPUs, else 0].")
@click.option("--batch-size", "-b", type=click.IntRange(min=1),
              help="Queries per VLM call (default: each VLM's own).")
@click.option("--device", help="Torch device for components that take one (cpu, cuda, cuda:1, auto).")
@click.option("--mode", type=Choice(["generate", "logits"]),
              help="Answer yes/no and multiple choice by generating text or from one forward "
                   "pass's logits, for VLMs that offer both.")
@click.option("--option", "-o", "options", multiple=True, metavar="TARGET.KEY=VALUE", shell_complete=complete.options,
              help="Component option. TARGET is a category (vlm, codec, task, metric: all of them) "
                   "or one component's name, e.g. -o vlm.max_new_tokens=16, "
                   "-o bmshj2018-factorized.pretrained=false, -o mmbench.circular=true, "
                   "-o task.protocol=lmms-eval (score as lmms-eval 0.7.3; see docs/scoring-protocols.md).")
@click.option("--retry-failed/--no-retry-failed", default=False,
              help="Redo units stored as failed, or keep them (the default; --no-retry-failed "
                   "overrides a study file's retry_failed = true).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.pass_context
def run_cmd(ctx: click.Context, config, quiet, as_json, **flags) -> None:
    """Run the matrix codec x level x VLM x task, plus the uncompressed reference cell.

    Every finished unit (a compressed image, its metrics, a batch of answers) is committed to
    the store at once: a killed run resumes where it stopped when rerun, and rerunning a
    finished matrix only reads the store. Failures (an unreadable image, a codec error, a model
    error on one sample) are stored with their error and the rest goes on.

    Exit status: 0 all done, 1 something failed (listed), 2 bad usage, 130 interrupted.

    \b
    Examples:
      cvb run --codec jpeg,webp --vlm hf:HuggingFaceTB/SmolVLM-256M-Instruct --task sample
      cvb run -c jpeg -l 1,3,5,6 --vlm hf:Qwen/Qwen2.5-VL-3B-Instruct -t pope --limit 500 -j 4
      cvb run -c jpeg --vlm qwen2.5-vl-3b -t pope --executor ray --address auto
      cvb run --config paper.toml --limit 200     (a study file; flags override it)
    """
    from ..api.run import RunInterrupted, run_study
    from ..run import summary
    from ..run.progress import safe_console, silence_broken_output
    from .console import console

    study = _study(ctx, config, flags)
    err = safe_console(stderr=True)  # progress and notes: stdout holds only the result
    out = err if as_json else console()
    try:
        result = run_study(study, progress=not quiet, console=err)
    except RunInterrupted as stop:
        message = (f"interrupted: finished work is saved in {stop.store}; "
                   f"rerun the same command to resume")
        try:
            click.echo(message, err=True)
        except OSError:  # under `2>&1 | tee`, Ctrl-C killed tee too: tell the terminal
            silence_broken_output()
            _to_terminal(message)
        ctx.exit(EXIT_INTERRUPTED)
    store_path, work = result.store, result.work
    if as_json:
        from .output import json_result

        click.echo(json_result(json_safe(result.as_json())))
    else:
        summary.print_cells(out, [c.as_dict() for c in result.cells], result.metric_names)
        err.print(f"intervals, paired tests and BD-metrics: {_report_command(ctx, config, store_path)}",
                  markup=False, highlight=False, soft_wrap=True)
        shared = f"; {work['by_other_runs']} made by another run on this store" if work.get("by_other_runs") else ""
        out.print(f"store {store_path} (run {result.run_id}): {work['compressed']} compressed, "
                  f"{work['metrics']} metric values, {work['predictions']} predictions, "
                  f"{work['cells_scored']} cells scored; models loaded: "
                  f"{', '.join(work['models_loaded']) or 'none'}{shared}")
    if result.failures:
        summary.print_failures(out, [f.as_dict() for f in result.failures])
        ctx.exit(EXIT_FAILURES)


def _report_command(ctx: click.Context, config: Path | None, store: Path) -> str:
    """The ``cvb report`` of this run's store: ``--config`` when the study file names it (its
    ``[report]`` settings come along), else ``--store``."""
    from click.core import ParameterSource

    if config is not None and ctx.get_parameter_source("store_path") is not ParameterSource.COMMANDLINE:
        return f"cvb report --config {config}"
    return f"cvb report --store {store}"


#: run_cmd's parameters that are a study's fields under another name
_FIELDS = {"store_path": "store"}


def _study(ctx: click.Context, config: Path | None, flags: dict):
    """The study these flags describe, over ``config``'s when given: a flag typed on the
    command line wins over the file, the file over an environment variable or a default."""
    from click.core import ParameterSource

    from ..api.study import Study, load_study

    def study_of(names) -> Study:
        fields: dict[str, Any] = {_FIELDS.get(n, n): tuple(flags[n]) if isinstance(flags[n], tuple) else flags[n]
                                  for n in names}
        return Study(**fields)

    typed = [n for n in flags if ctx.get_parameter_source(n) is ParameterSource.COMMANDLINE]
    study = study_of([n for n in flags if n not in typed])
    if config is not None:
        study = study.merged(load_study(config))
        if study.store is not None and "store_path" not in typed:
            _checked_store(study.store)
    study = study.merged(study_of(typed))
    for name in ("vlms", "tasks"):
        if not getattr(study, name):
            param = next(p for p in ctx.command.params if p.name == name)
            raise click.MissingParameter(ctx=ctx, param=param)
    return study


@click.command("export")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Results store written by `cvb run` [default: $CVB_STORE, else {DEFAULT_STORE}].")
@click.option("--what", type=Choice(EXPORTS), default="cells", show_default=True,
              help="Which table: samples (each answer with its question, gold answer, prompt, verdict, "
                   "codec, level, bpp and image key), cells (the report's cells table), failures, "
                   "versions (each VLM version once), or a raw store table.")
@click.option("--format", "fmt", type=Choice(["csv", "jsonl", "parquet"]), default="csv",
              show_default=True, help="parquet needs --out (a binary file).")
@click.option("--out", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              cls=Aliased, hidden=("--output",), help="Write here instead of stdout.")
@click.option("--images", "images_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --what samples: also write each answer's image, exactly as the VLM received "
                   "it, as DIR/KEY.png (lossless; KEY is the row's `key`).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="CVB_CACHE_DIR",
              help="Compressed-image cache the images are read from [default: as for `cvb run`].")
@click.option("--resamples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="cells: bootstrap resamples behind the intervals and p-values (as cvb report).")
@click.option("--seed", type=int, default=20260401, show_default=True, help="cells: seed of the resampling.")
@click.option("--inference", type=Choice(["bootstrap", "mcnemar"]), default="bootstrap",
              show_default=True, help="cells: the verdict's method, as `cvb report --inference`.")
@click.option("--quiet", "-q", is_flag=True, help="No progress notes on stderr.")
def export_cmd(store_path: Path | None, what: str, fmt: str, output: Path | None, images_dir: Path | None,
               cache_dir: Path | None, resamples: int, seed: int, inference: str, quiet: bool) -> None:
    """Write one table of a results store as CSV, JSON lines or Parquet.

    `samples` is the reader's table: one row per answer with the question, options, gold
    answer, the prompt text sent, the raw and parsed answer, the verdict (1 right, 0 wrong,
    between for partial credit), codec, level, bpp of that image and its `key` (for `cvb cache
    show KEY` or --images), plus a short `vlm_version_id` whose full text `--what versions`
    prints once. `cells` is the cells table of `cvb report` (the same columns as its
    cells.csv, documented in docs/report.md): scores with intervals, delta, p, protocol, judge
    model and method; it resamples the stored answers as `cvb report` does (--resamples 0: no
    intervals). JSON columns are decoded in JSONL, JSON text in CSV. An empty table still
    writes its CSV header.

    \b
    Examples:
      cvb export --what samples --out samples.csv
      cvb export --what samples --format jsonl --images seen/ --out samples.jsonl
      cvb export --what cells --format parquet --out cells.parquet
      cvb export --what versions
    """
    from ..run.export import write_rows
    from ..run.store import Store
    from .output import check_output_path, default_store

    if output is not None:
        check_output_path(output, "--out")
    if images_dir is not None and what != "samples":
        raise UsageError("--images goes with --what samples (the rows that name each image's key)")
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet writes a binary file: name it with --out FILE")
    if what == "cells":
        from ..report.cells_table import export_cells

        export_cells(store_path or default_store(), fmt, output, resamples=resamples, seed=seed,
                     inference=inference)
        return
    if fmt == "parquet":
        from ..run.export import write_parquet

        with Store(store_path or default_store(), create=False) as store:
            rows = store.export_rows(what)
            if images_dir is not None:
                rows = _with_images(store, rows, images_dir, cache_dir, quiet)
            write_parquet(rows, output, store.export_columns(what))
        return
    with Store(store_path or default_store(), create=False) as store:
        rows = store.export_rows(what)
        if images_dir is not None:
            rows = _with_images(store, rows, images_dir, cache_dir, quiet)
        columns = store.export_columns(what)
        if output is None:
            write_rows(rows, fmt, sys.stdout, columns)
            return
        with open(output, "w", encoding="utf-8", newline="") as fh:
            write_rows(rows, fmt, fh, columns)


def _with_images(store, rows, folder: Path, cache_dir: Path | None, quiet: bool):
    """``rows`` passed through, each distinct image written once to ``folder/KEY.png``; an image
    that cannot be had back (pruned from the cache) is named on stderr, the export goes on."""
    from ..run.image_cache import ImageCache, default_cache_dir
    from ..run.seen_images import ImageUnavailable, SeenImages, save_png
    from .output import note

    seen = SeenImages(store, ImageCache(cache_dir or default_cache_dir()))
    done: set[str] = set()
    missing = 0
    for row in rows:
        key = row.get("key")
        if key and key not in done and not row.get("error"):
            done.add(key)
            path = folder / f"{key}.png"
            if not path.exists():
                try:
                    save_png(seen.image(key), path)
                except ImageUnavailable as exc:
                    missing += 1
                    if not quiet and missing <= 5:
                        note(f"warning: {exc}")
        yield row
    if not quiet:
        note(f"images: {len(done) - missing} in {folder}" + (f", {missing} not available" if missing else ""))
