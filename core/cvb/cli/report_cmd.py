"""``cvb report``: tables, BD-metrics, correlations, gap decomposition and plots of a results store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import Choice

from . import complete

from ..api.report import DEFAULT_RESAMPLES, DEFAULT_SEED, INFERENCES, INTERPOLATIONS

FORMATS = ("table", "markdown", "csv", "json")


#: a study file's key -> this command's parameter it is the default of
_FROM_STUDY = {"store": "store_path", "anchor": "anchor", "interp": "interp", "adapted": "adapted_pairs",
               "allow_unlike": "allow_unlike", "resamples": "resamples", "seed": "seed",
               "inference": "inference", "out": "out_dir"}


def default_store() -> Path:
    from .output import default_store as default  # the run command's default, one rule

    return default()


@click.command("report")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Study file (TOML, docs/study-files.md): its store and its [report] table "
                   "(anchor, resamples, seed, inference, interp, adapted, allow_unlike, out) "
                   "are the defaults of these flags; its relative paths are read from its folder.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Results store written by `cvb run` [default: $CVB_STORE, else cvb-out/results.sqlite, "
                   "as for `cvb run` and scripts/demo.sh].")
@click.option("--task", "-t", default=None, shell_complete=complete.store_labels("task"), help="Only this task.")
@click.option("--vlm", default=None, shell_complete=complete.store_labels("vlm"),
              help="Only this VLM (adapted VLMs named by --adapted are kept).")
@click.option("--anchor", default=None, shell_complete=complete.names("codec"),
              help="Codec the others are compared with (default: the codec the run named first, else the first codec).")
@click.option("--interp", type=Choice(INTERPOLATIONS), default="pchip", show_default=True,
              help="Curve interpolation of the BD-metric and BD-rate.")
@click.option("--adapted", "adapted_pairs", multiple=True, metavar="[VLM=]ADAPTED_VLM",
              help="ADAPTED_VLM is VLM adapted to compressed images: adds the gap decomposition, "
                   "the adapter's BD gain, the condition each cell used, and the adapted curves in the "
                   "plots. Alone, the base is the VLM of the store with the same base model and "
                   "preprocessing and no adapter (`cvb run --vlm adapted-base:PATH`); a VLM= whose "
                   "preprocessing differs is refused. Repeatable.")
@click.option("--allow-unlike", is_flag=True,
              help="Report an --adapted pair whose base model or preprocessing differ, flagged "
                   "NOT LIKE FOR LIKE, instead of refusing it.")
@click.option("--resamples", type=click.IntRange(min=0), default=DEFAULT_RESAMPLES, show_default=True,
              help="Bootstrap resamples for confidence intervals, paired tests and BD-metric "
                   "intervals; 0: no resampling (McNemar tests only).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Seed of the resampling: the same seed gives the same intervals.")
@click.option("--inference", type=Choice(INFERENCES), default="bootstrap", show_default=True,
              help="The verdict (delta CI, p, *): 'bootstrap' = paired cluster bootstrap over "
                   "images (questions about one image are not independent); 'mcnemar' = exact "
                   "McNemar with Wilson score intervals, questions taken as independent (plain "
                   "accuracies only; other scores keep the bootstrap).")
@click.option("--format", "fmt", type=Choice(FORMATS), default="table", show_default=True,
              help="What to print: rich tables, Markdown, the cells as CSV, or the report as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (same as --format json).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write report.md, cells.csv, report.json, plots (PNG, SVG, PDF) and a "
                   "self-contained report.html into this folder.")
@click.option("--no-plots", is_flag=True, help="With --out: skip the plots (faster).")
@click.option("--samples", "n_samples", type=click.IntRange(min=0), default=6, show_default=True,
              help="With --out: samples per task in the sample browser (samples.html): those whose "
                   "verdict changes across the matrix first, then 2 that never change; 0: no browser.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="CVB_CACHE_DIR",
              help="Compressed-image cache the sample browser reads [default: as for `cvb run`].")
@click.option("--provenance", "full_provenance", is_flag=True,
              help="End the terminal tables with the full provenance block (commands, runs, "
                   "model, task and codec versions) instead of its one-line summary; the files "
                   "of --out and --json always hold it in full.")
@click.option("--quiet", "-q", is_flag=True, help="No progress notes on stderr.")
@click.pass_context
def report_cmd(ctx: click.Context, config, store_path, task, vlm, anchor, interp, adapted_pairs, allow_unlike,
               resamples, seed, inference, fmt, as_json, out_dir, no_plots, n_samples, cache_dir,
               full_provenance, quiet) -> None:
    """Score tables with confidence intervals and tests, BD-metrics, correlations and plots.

    \b
    For each task x VLM: the score of every codec x level with its bpp, image metrics, 95%
    confidence interval, change against the uncompressed cell with its interval and p-value
    (one method for all three: a paired cluster bootstrap over images by default, see
    --inference; * marks p < 0.05, exactly when the change's interval excludes 0);
    BD-metric (mean score gained at equal rate, with a bootstrap interval) and BD-rate (mean
    bits saved at equal score) of every codec against the anchor, or why it is undefined;
    Pearson and Spearman correlation of the score with each image metric; the provenance of
    the numbers (cvb version, commands, models, codecs, tasks).

    \b
    Examples:
      cvb report --store cvb-out/results.sqlite
      cvb report --store r.sqlite --task pope --anchor jpeg --out report/
      cvb report --store r.sqlite --adapted adapted:adapters/qwen --out report/
      cvb report --config paper.toml     (the study's store and [report] settings)
    """
    from click.core import ParameterSource

    from ..api.report import report_store
    from .output import check_output_path, note

    if config is not None:  # the study's settings, under the flags typed here
        from ..api.study import load_study

        study = load_study(config)
        said = {**study.report, **({"store": study.store} if study.store is not None else {})}
        params = {name: said[key] if key in said and ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE
                  else ctx.params[name] for key, name in _FROM_STUDY.items()}
        (store_path, anchor, interp, adapted_pairs, allow_unlike, resamples, seed, inference, out_dir) = (
            params[n] for n in _FROM_STUDY.values())
    if as_json:
        fmt = "json"
    if out_dir is not None:
        check_output_path(out_dir, "--out")
    from ..run.store import MissingStoreError

    try:
        report = report_store(store_path or default_store(), task=task, vlm=vlm, anchor=anchor, interp=interp,
                              adapted=adapted_pairs, allow_unlike=allow_unlike, resamples=resamples, seed=seed,
                              inference=inference, cache_dir=cache_dir, progress=None if quiet else note)
    except MissingStoreError:
        if config is None or ctx.get_parameter_source("store_path") is ParameterSource.COMMANDLINE:
            raise
        from ..errors import UsageError

        raise UsageError(f"no results store at {store_path or default_store()} (the store of study file "
                         f"{config}); `cvb run --config {config}` makes one") from None
    if not quiet:
        for warning in report.warnings():
            note(f"warning: {warning}")
    _print(report.data, fmt, full_provenance)
    if out_dir is not None:
        written = report.write(out_dir, plots=not no_plots, samples=n_samples, progress=None if quiet else note)
        click.echo(f"wrote {len(written)} files to {out_dir}", err=True)


def _print(report: dict, fmt: str, full_provenance: bool = False) -> None:
    if fmt == "json":
        from ..report.write import report_json

        sys.stdout.write(report_json(report))
    elif fmt == "csv":
        from ..report.tables import cells_csv

        sys.stdout.write(cells_csv(report))
    elif fmt == "markdown":
        from ..report.tables import markdown_report

        sys.stdout.write(markdown_report(report))
    else:
        from ..report.provenance import provenance_lines, provenance_summary
        from ..report.tables import rich_tables
        from .console import console

        con = console()
        for renderable in rich_tables(report, width=con.width):
            con.print(renderable)
        lines = provenance_lines(report.get("provenance"))
        if lines and full_provenance:
            con.rule("provenance")
            for line in lines:
                con.print(line, markup=False, highlight=False, overflow="fold")
        elif lines:  # the last line of a report on a small terminal: what made it, in brief
            con.print(provenance_summary(report, con.width), markup=False, highlight=False,
                      overflow="ellipsis", no_wrap=True)
