"""Writing store rows as CSV or JSON lines (``cvb export``, and the report's ``cells.csv``).

One flat column naming for every CSV cvb writes: image metrics are ``metric.NAME`` columns,
score details (F1, precision, per-category accuracy) ``detail.NAME`` columns, an interval
``NAME`` becomes ``NAME_low`` and ``NAME_high``; anything else nested is JSON text.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from typing import Any, Iterable, Sequence, TextIO

from ..jsonsafe import json_safe

#: dict columns spread into one column per key, with this prefix
SPREAD = {"metrics": "metric.", "details": "detail."}
#: two-number interval columns spread into _low/_high
INTERVALS = ("ci", "delta_ci")


def _cell(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: dicts spread into prefixed columns, intervals into two, the rest JSON;
    a missing or non-finite number is an empty field (never ``nan``)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in SPREAD and isinstance(value, dict):
            out.update({f"{SPREAD[key]}{m}": _cell(v) for m, v in value.items()})
        elif key in INTERVALS:
            lo, hi = value if isinstance(value, (list, tuple)) and len(value) == 2 else (None, None)
            out[f"{key}_low"], out[f"{key}_high"] = lo, hi
        elif isinstance(value, (dict, list)):
            out[key] = json.dumps(value, default=str)
        else:
            out[key] = _cell(value)
    return out


def flat_columns(columns: Sequence[str]) -> list[str]:
    """The CSV header of ``columns`` (spread dict columns have no fixed names: left out)."""
    out: list[str] = []
    for c in columns:
        if c in INTERVALS:
            out += [f"{c}_low", f"{c}_high"]
        elif c not in SPREAD:
            out.append(c)
    return out


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO,
               columns: Sequence[str] = ()) -> int:
    """Stream ``rows`` to ``out``; returns how many were written.

    ``columns``: the header to write when there is no row (a 0-byte CSV breaks pandas and
    most CSV readers), and the first columns otherwise.
    """
    n = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(json_safe(row), default=str) + "\n")
            n += 1
        return n
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        csv.writer(out, lineterminator="\n").writerow(flat_columns(columns))
        return 0
    head = flat(first)
    if any(isinstance(first.get(k), dict) for k in SPREAD):  # spread columns vary: collect first
        flat_rows: Iterable[dict[str, Any]] = [head, *map(flat, rows)]
        names = list(dict.fromkeys(k for r in flat_rows for k in r))
    else:  # a table: every row has the same columns, so stream
        flat_rows = itertools.chain([head], map(flat, rows))
        names = list(head)
    names = list(dict.fromkeys([c for c in flat_columns(columns) if c in names] + names))
    writer = csv.DictWriter(out, fieldnames=names, restval="", lineterminator="\n")
    writer.writeheader()
    for r in flat_rows:
        writer.writerow({k: "" if v is None else v for k, v in r.items()})
        n += 1
    return n


def write_parquet(rows: Iterable[dict[str, Any]], path, columns: Sequence[str] = ()) -> int:
    """``rows`` as a Parquet file, flattened as in CSV (``flat``); returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat_rows = [flat(r) for r in rows]
    names = list(dict.fromkeys([c for c in flat_columns(columns)] + [k for r in flat_rows for k in r]))
    table = pa.Table.from_pylist([{k: r.get(k) for k in names} for r in flat_rows]) if flat_rows else \
        pa.table({k: pa.array([], pa.string()) for k in names})
    pq.write_table(table, path)
    return len(flat_rows)
