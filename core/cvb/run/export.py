"""Writing store rows as CSV or JSON lines (``cvb export``)."""

from __future__ import annotations

import csv
import itertools
import json
from typing import Any, Iterable, TextIO

from ..jsonsafe import json_safe


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: a ``metrics`` dict becomes ``metric.NAME`` columns, other dicts/lists JSON."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "metrics" and isinstance(value, dict):
            out.update({f"metric.{m}": v for m, v in value.items()})
        elif isinstance(value, (dict, list)):
            out[key] = json.dumps(value, default=str)
        else:
            out[key] = value
    return out


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> int:
    """Stream ``rows`` to ``out``; returns how many were written."""
    n = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(json_safe(row), default=str) + "\n")
            n += 1
        return n
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    head = _flat(first)
    if isinstance(first.get("metrics"), dict):  # cells: metric columns vary, collect them first
        flat: Iterable[dict[str, Any]] = [head, *map(_flat, rows)]
        columns = list(dict.fromkeys(k for r in flat for k in r))
    else:  # a table: every row has the same columns, so stream
        flat = itertools.chain([head], map(_flat, rows))
        columns = list(head)
    writer = csv.DictWriter(out, fieldnames=columns, restval="")
    writer.writeheader()
    for r in flat:
        writer.writerow(r)
        n += 1
    return n
