"""``cvb report``: tables, BD-metrics, correlations, gap decomposition and plots of a results store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import UsageError

FORMATS = ("table", "markdown", "csv", "json")
INTERPOLATIONS = ("pchip", "akima", "cubic")


def load_cells(store_path: Path, task: str | None = None) -> list[dict]:
    """Cells from the SQLite results store written by ``cvb run`` (imported only here)."""
    from ..run.store import Store  # a missing store is a usage error (exit 2) there

    store = Store(store_path, create=False)
    try:
        cells = [dict(c) for c in store.cells(task=task)]
        if not cells and task:
            tasks = sorted({c["task"] for c in store.cells()})
            raise UsageError(f"no results for task {task!r} in {store_path}; "
                             f"tasks present: {', '.join(tasks) or '(none)'}")
    finally:
        close = getattr(store, "close", None)
        if close:
            close()
    return cells


def select_vlm(cells: list[dict], vlm: str, adapted: dict[str, str]) -> list[dict]:
    """The cells of ``vlm`` and of its adapted version, if ``--adapted`` names one."""
    keep = {vlm, adapted.get(vlm, vlm)}
    chosen = [c for c in cells if c["vlm"] in keep]
    if not chosen:
        vlms = sorted({c["vlm"] for c in cells})
        raise UsageError(f"no results for vlm {vlm!r}; VLMs present: {', '.join(vlms) or '(none)'}")
    return chosen


def default_store() -> Path:
    from ..run.store import DEFAULT_STORE  # the run command's default

    return Path(DEFAULT_STORE)


@click.command("report")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Results store written by `cvb run` (default: cvb-results.sqlite, as for `cvb run`).")
@click.option("--task", default=None, help="Only this task.")
@click.option("--vlm", default=None, help="Only this VLM (adapted VLMs named by --adapted are kept).")
@click.option("--anchor", default=None,
              help="Codec the others are compared with (default: jpeg if present, else the first codec).")
@click.option("--interp", type=click.Choice(INTERPOLATIONS), default="pchip", show_default=True,
              help="Curve interpolation of the BD-metric and BD-rate.")
@click.option("--adapted", "adapted_pairs", multiple=True, metavar="VLM=ADAPTED_VLM",
              help="ADAPTED_VLM is VLM adapted to compressed images: adds the gap decomposition "
                   "and the adapter's BD gain. Repeatable.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="What to print: rich tables, Markdown, the cells as CSV, or the report as JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write report.md, cells.csv, report.json, PNG plots and a self-contained "
                   "report.html into this folder.")
@click.option("--no-plots", is_flag=True, help="With --out: skip the PNG plots (faster).")
def report_cmd(store_path, task, vlm, anchor, interp, adapted_pairs, fmt, out_dir, no_plots) -> None:
    """Score tables, BD-metric/BD-rate against an anchor codec, metric correlations and plots.

    \b
    For each task x VLM: the score of every codec x level with its bpp and image metrics and
    the uncompressed reference; BD-metric (mean score gained at equal rate) and BD-rate (mean
    bits saved at equal score) of every codec against the anchor, or why it is undefined;
    Pearson and Spearman correlation of the score with each image metric.
    """
    from ..analysis.gap import parse_adapted
    from ..report.build import build_report

    adapted = parse_adapted(adapted_pairs)
    path = store_path or default_store()
    cells = load_cells(path, task)
    if not cells:
        raise UsageError(f"the results store {path} holds no results yet")
    if vlm is not None:
        cells = select_vlm(cells, vlm, adapted)
    report = build_report(cells, anchor=anchor, interp=interp, adapted=adapted)
    _print(report, fmt)
    if out_dir is not None:
        from ..report.write import write_report

        written = write_report(report, out_dir, plots=not no_plots)
        click.echo(f"wrote {len(written)} files to {out_dir}", err=True)


def _print(report: dict, fmt: str) -> None:
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
        from ..report.tables import rich_tables
        from .console import console

        for renderable in rich_tables(report):
            console().print(renderable)
