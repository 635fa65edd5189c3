"""The cells table: one row per task x VLM x codec x level, one schema in every file.

``cvb export --what cells`` and the report's ``cells.csv`` / ``cells.jsonl`` / ``cells.parquet``
write this same table, built from the report model (``cvb.report.build``), so every format has
the same columns, names and numbers. ``COLUMNS`` is the schema; ``docs/report.md`` documents
each column and ``tests/test_report_cells.py`` checks the two agree.

Numbers stay numbers: ``level`` is the codec's level as a number (the uncompressed row and a
codec whose levels are words have none; ``level_label`` keeps the text), and the uncompressed
row's ``bpp`` is empty (its nominal 24 bpp of 8-bit RGB is no measured rate and would plot as
an outlier far right of every curve); ``uncompressed`` marks that row.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping, Sequence

#: (column, type, meaning); "metric.NAME" and "detail.NAME" columns follow, one per name
COLUMNS: list[tuple[str, str, str]] = [
    ("task", "string", "task label as stored (options in brackets)"),
    ("protocol", "string", "scoring protocol: cvb, lmms-eval or vlmevalkit"),
    ("judge_model", "string", "the judge model that scored free-text answers; empty: rule-based"),
    ("vlm", "string", "VLM label as stored"),
    ("codec", "string", "codec name; none for the uncompressed reference"),
    ("level", "float", "the codec's level as a number (quality, QP, ratio: see cvb list codecs); "
                       "empty for the uncompressed row and for levels that are words"),
    ("level_label", "string", "the level as given on the command line; none for the uncompressed row"),
    ("uncompressed", "bool", "true on the uncompressed reference row"),
    ("bpp", "float", "mean bits per pixel of the compressed images; "
                     "empty for the uncompressed row (nominally 24: 8-bit RGB)"),
    ("score", "float", "the task's score"),
    ("score_metric", "string", "what score is (acc, f1, ...)"),
    ("higher_is_better", "bool", "direction of the score"),
    ("n", "int", "samples scored"),
    ("n_failed", "int", "samples whose inference failed (scored as empty answers)"),
    ("error", "string", "why the cell has no score; empty otherwise"),
    ("ci_low", "float", "lower bound of the score's confidence interval"),
    ("ci_high", "float", "upper bound of the score's confidence interval"),
    ("ci_method", "string", "how the score's interval was computed: cluster bootstrap or wilson"),
    ("delta", "float", "score minus the uncompressed score; empty on the uncompressed row"),
    ("delta_ci_low", "float", "lower bound of delta's confidence interval"),
    ("delta_ci_high", "float", "upper bound of delta's confidence interval"),
    ("p", "float", "two-sided p-value of delta = 0"),
    ("significant", "bool", "p < 1 - confidence; exactly when the delta interval excludes 0"),
    ("method", "string", "the method of delta_ci, p and significant: cluster bootstrap or mcnemar"),
    ("b", "int", "mcnemar only: right on the uncompressed image, wrong on the compressed one"),
    ("c", "int", "mcnemar only: wrong on the uncompressed image, right on the compressed one"),
    ("resamples", "int", "bootstrap resamples behind the intervals (0: none)"),
    ("seed", "int", "seed of the resampling"),
    ("confidence", "float", "confidence level of the intervals"),
]
NAMES = [c[0] for c in COLUMNS]
SPREAD = {"metrics": "metric.", "details": "detail."}


def level_number(level: Any) -> float | int | None:
    """A level as a number (``"10"`` -> 10, ``"0.5"`` -> 0.5), None for ``-`` or a word."""
    try:
        x = float(str(level))
    except ValueError:
        return None
    if not math.isfinite(x):
        return None
    return int(x) if x.is_integer() else x


def _num(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _pair(ci: Any) -> tuple[Any, Any]:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return _num(ci[0]), _num(ci[1])
    return None, None


def cell_rows(report: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of the cells table, in the report's order (flat: one key per column)."""
    for s in report["sections"]:
        unc = s.get("uncertainty") or {}
        drawn = int(unc.get("resamples") or 0) if not unc.get("reason") else 0
        for c in s["cells"]:
            ref = c["codec"] == "none"
            ci_low, ci_high = _pair(c.get("ci"))
            d_low, d_high = _pair(c.get("delta_ci"))
            row = {
                "task": c["task"], "protocol": c.get("protocol"), "judge_model": c.get("judge"),
                "vlm": c["vlm"], "codec": c["codec"],
                "level": None if ref else level_number(c["level"]),
                "level_label": "none" if ref else str(c["level"]), "uncompressed": ref,
                "bpp": None if ref else _num(c["bpp"]), "score": _num(c["score"]),
                "score_metric": c["score_metric"], "higher_is_better": c.get("higher_is_better"),
                "n": c["n"], "n_failed": c["n_failed"], "error": c.get("error"),
                "ci_low": ci_low, "ci_high": ci_high, "ci_method": c.get("ci_method"),
                "delta": None if ref else _num(c.get("delta")), "delta_ci_low": d_low, "delta_ci_high": d_high,
                "p": _num(c.get("p")), "significant": c.get("significant"), "method": c.get("test"),
                "b": c.get("b"), "c": c.get("c"),
                "resamples": drawn, "seed": unc.get("seed"), "confidence": unc.get("confidence", s.get("confidence")),
            }
            for key, prefix in SPREAD.items():
                for name, value in (c.get(key) or {}).items():
                    row[prefix + name] = _num(value) if isinstance(value, float) else value
            yield row


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The fixed columns, then every ``metric.`` and ``detail.`` column in first-seen order."""
    extra = dict.fromkeys(k for r in rows for k in r if k not in NAMES)
    return NAMES + list(extra)


def write_cells(report: Mapping[str, Any], fmt: str, out) -> int:
    """The cells table as ``csv``, ``jsonl`` (text ``out``) or ``parquet`` (binary ``out`` or a
    path); returns the number of rows."""
    rows = list(cell_rows(report))
    cols = columns_of(rows)
    if fmt == "parquet":
        _write_parquet(rows, cols, report, out)
    elif fmt == "jsonl":
        import json

        from ..jsonsafe import json_safe

        for r in rows:
            out.write(json.dumps(json_safe({k: r.get(k) for k in cols})) + "\n")
    elif fmt == "csv":
        import csv

        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(k) is None else _csv_value(r.get(k)) for k in cols])
    else:
        raise ValueError(f"unknown cells table format {fmt!r}; choose csv, jsonl or parquet")
    return len(rows)


def _csv_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v, default=str)
    return v


_ARROW = {"string": "string", "float": "float64", "int": "int64", "bool": "bool_"}


def _write_parquet(rows: list[dict], cols: list[str], report: Mapping[str, Any], out) -> None:
    """Parquet with the documented types (a column of nulls keeps its type), and the report's
    resampling (method, resamples, seed) and cvb version in the file's key-value metadata."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {name: getattr(pa, _ARROW[kind])() for name, kind, _ in COLUMNS}
    fields = []
    for k in cols:
        if k not in types:
            values = [r.get(k) for r in rows if r.get(k) is not None]
            types[k] = pa.float64() if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           for v in values) else pa.string()
        fields.append(pa.field(k, types[k]))
    data = {k: [_arrow_value(r.get(k), types[k]) for r in rows] for k in cols}
    meta = {"cvb_report": json.dumps({"inference": report.get("inference"),
                                      "cvb_version": (report.get("provenance") or {}).get("cvb_version")})}
    table = pa.table(data, schema=pa.schema(fields, metadata=meta))
    pq.write_table(table, out)


def _arrow_value(v: Any, kind) -> Any:
    import pyarrow as pa

    if v is None:
        return None
    if kind == pa.string() and not isinstance(v, str):
        import json

        return json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v)
    if kind == pa.float64():
        return float(v)
    return v


def export_cells(store_path, fmt: str, output, resamples: int, seed: int, inference: str) -> int:
    """``cvb export --what cells``: the report's cells table of a store (statistics as ``cvb
    report`` computes them, from its cache when unchanged), to ``output`` or stdout."""
    import sys

    from ..plugins import get_registry
    from ..run.store import Store
    from .build import build_report, run_codec_order
    from .provenance import store_provenance
    from .uncertainty import Options, report_stats

    opts = Options(resamples, seed, inference=inference)
    with Store(store_path, create=False) as store:
        cells = [dict(c) for c in store.cells()]
        stats = report_stats(store, get_registry(), cells, opts) if cells else {}
        prov = store_provenance(store, cells, sys.argv)
        codec_order = run_codec_order(store)
    report = build_report(cells, stats=stats, provenance=prov, inference=opts.describe(), codec_order=codec_order)
    if fmt == "parquet":
        return write_cells(report, fmt, str(output))
    if output is None:
        return write_cells(report, fmt, sys.stdout)
    with open(output, "w", encoding="utf-8", newline="") as fh:
        return write_cells(report, fmt, fh)
