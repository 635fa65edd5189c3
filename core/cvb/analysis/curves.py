"""Cell dicts -> rate-score curves.

A *cell* is one (task, VLM, codec, level) result as ``Store.cells()`` returns it: ``task, vlm,
codec, level, bpp, metrics {name: mean}, score, score_metric, higher_is_better, details, n,
n_failed``. Codec ``"none"`` (level ``"-"``) is the uncompressed reference of its task x VLM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

REFERENCE_CODEC = "none"


def num(value: Any) -> float:
    """A cell value as float; missing (None) or unparsable becomes NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def higher_is_better(cell: Mapping) -> bool:
    """The score's direction; unknown (None, e.g. a cell that could not be scored) means higher."""
    value = cell.get("higher_is_better")
    return True if value is None else bool(value)


def is_reference(cell: Mapping) -> bool:
    return cell.get("codec") == REFERENCE_CODEC


@dataclass
class Curve:
    """One codec's points in one task x VLM, ordered by bpp (lowest rate first)."""

    codec: str
    cells: list[dict] = field(default_factory=list)

    @property
    def levels(self) -> list[str]:
        return [str(c.get("level")) for c in self.cells]

    @property
    def bpp(self) -> list[float]:
        return [num(c.get("bpp")) for c in self.cells]

    @property
    def scores(self) -> list[float]:
        return [num(c.get("score")) for c in self.cells]

    def metric(self, name: str) -> list[float]:
        return [num((c.get("metrics") or {}).get(name)) for c in self.cells]


def _bpp_key(cell: Mapping) -> tuple:
    """By measured bpp; cells without one (every image failed) by the codec's rate rank."""
    b = num(cell.get("bpp"))
    r = num(cell.get("rate_rank"))
    return (math.isnan(b), b if not math.isnan(b) else 0.0, r if not math.isnan(r) else 0.0,
            str(cell.get("level")))


def ordered_unique(values: Iterable) -> list:
    """Distinct values in order of first appearance (the store's order is the run's order)."""
    seen: dict = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def group_cells(cells: Sequence[Mapping]) -> dict[tuple[str, str], list[dict]]:
    """``{(task, vlm): [cells]}`` in order of first appearance."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for c in cells:
        groups.setdefault((c["task"], c["vlm"]), []).append(dict(c))
    return groups


def reference_cell(cells: Sequence[Mapping]) -> dict | None:
    """The uncompressed cell among one task x VLM's cells, if it was run."""
    for c in cells:
        if is_reference(c):
            return dict(c)
    return None


def codec_curves(cells: Sequence[Mapping]) -> dict[str, Curve]:
    """Every codec's curve among one task x VLM's cells (the reference excluded)."""
    curves: dict[str, Curve] = {}
    for c in cells:
        if not is_reference(c):
            curves.setdefault(c["codec"], Curve(c["codec"])).cells.append(dict(c))
    for curve in curves.values():
        curve.cells.sort(key=_bpp_key)
    return curves


def metric_names(cells: Iterable[Mapping]) -> list[str]:
    """Image-metric names in order of first appearance."""
    return ordered_unique(name for c in cells for name in (c.get("metrics") or {}))


def sorted_cells(cells: Sequence[Mapping]) -> list[dict]:
    """Reference first, then each codec (order of appearance) by increasing bpp."""
    ref = [dict(c) for c in cells if is_reference(c)]
    rest = [c for curve in codec_curves(cells).values() for c in curve.cells]
    return ref + rest
