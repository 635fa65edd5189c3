"""Write every format of a report into one folder."""

from __future__ import annotations

import json
from pathlib import Path

from ..jsonsafe import json_safe
from .html import html_report
from .plots import write_plots
from .cells_table import write_cells
from .tables import cells_csv, markdown_report


def cells_jsonl(report: dict) -> str:
    import io

    buf = io.StringIO()
    write_cells(report, "jsonl", buf)
    return buf.getvalue()


def report_json(report: dict) -> str:
    return json.dumps(json_safe(report), indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_report(report: dict, out: Path, plots: bool = True, progress=None) -> list[Path]:
    """``report.md``, the cells table (``cells.csv``, ``cells.jsonl``, ``cells.parquet``),
    ``report.json``, plots (PNG, SVG, PDF), the matplotlib style they were drawn with, and
    ``report.html``.

    Returns the paths written. Plots are optional because matplotlib is the slow part;
    ``progress(line)`` hears of each figure drawn.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = write_plots(report, out, progress) if plots else {}
    rel = {k: [(f.png.name, f.caption) for f in v] for k, v in images.items()}
    files = {
        "report.md": markdown_report(report, rel),
        "cells.csv": cells_csv(report),
        "cells.jsonl": cells_jsonl(report),
        "report.json": report_json(report),
        "report.html": html_report(report, images),
    }
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    parquet = out / "cells.parquet"
    write_cells(report, "parquet", str(parquet))
    written.append(parquet)
    return written + [p for v in images.values() for f in v for p in f.files]
