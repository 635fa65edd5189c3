"""Cells -> one report model (plain, JSON-ready dicts) that every renderer reads.

Building the numbers once and rendering them many ways (terminal, Markdown, CSV, JSON, HTML)
keeps the formats from disagreeing.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..analysis.bd import METHODS, bd_metric, bd_rate
from ..analysis.correlation import metric_correlations
from ..analysis.curves import (
    codec_curves, group_cells, higher_is_better, metric_names, num, ordered_unique, reference_cell,
    sorted_cells,
)
from ..analysis.gap import adapted_vlms_missing, adapter_gains, gap_rows, gap_summary
from ..errors import UsageError

REPORT_VERSION = 1
DEFAULT_ANCHOR = "jpeg"


def _resolve_anchor(requested: str | None, codecs: list[str]) -> str | None:
    if requested:
        return requested
    if DEFAULT_ANCHOR in codecs:
        return DEFAULT_ANCHOR
    return codecs[0] if codecs else None


def _bd_rows(cells: Sequence[Mapping], anchor: str | None, method: str) -> list[dict]:
    curves = codec_curves(cells)
    if anchor is None:
        return []
    rows = []
    base = curves.get(anchor)
    for codec, curve in curves.items():
        if codec == anchor:
            continue
        if base is None:
            reason = f"anchor codec {anchor!r} has no cells for this task x VLM"
            metric = {"kind": "bd-metric", "value": None, "method": method, "reason": reason,
                      "interval": None, "overlap": None}
            rate = dict(metric, kind="bd-rate")
        else:
            labels = (anchor, codec)
            metric = bd_metric(base.bpp, base.scores, curve.bpp, curve.scores, method, labels).as_dict()
            rate = bd_rate(base.bpp, base.scores, curve.bpp, curve.scores, method, labels).as_dict()
        rows.append({"codec": codec, "anchor": anchor, "points": len(curve.cells),
                     "bd_metric": metric, "bd_rate": rate})
    return rows


def _clean_cell(cell: Mapping, metrics: Sequence[str]) -> dict:
    """A cell with numeric fields as floats (NaN for missing) and every metric key present."""
    m = cell.get("metrics") or {}
    return {
        "task": cell["task"], "vlm": cell["vlm"], "codec": cell["codec"],
        "level": str(cell.get("level")), "bpp": num(cell.get("bpp")),
        "score": num(cell.get("score")), "score_metric": cell.get("score_metric") or "score",
        "higher_is_better": higher_is_better(cell),
        "n": int(cell.get("n") or 0), "n_failed": int(cell.get("n_failed") or 0),
        "metrics": {k: num(m.get(k)) for k in metrics},
        "details": dict(cell.get("details") or {}),
        "error": cell.get("error") or None,
    }


def build_report(
    cells: Sequence[Mapping],
    anchor: str | None = None,
    interp: str = "pchip",
    adapted: Mapping[str, str] | None = None,
) -> dict:
    """The whole report: one section per task x VLM, in the store's order.

    ``anchor`` None picks ``jpeg`` where present, else the first codec of each section. A named
    anchor, or an adapted VLM, that is nowhere in the cells is a usage error (a typo).
    """
    if interp not in METHODS:
        raise UsageError(f"unknown interpolation {interp!r}; choose one of {', '.join(METHODS)}")
    adapted = dict(adapted or {})
    all_codecs = ordered_unique(c["codec"] for c in cells if c["codec"] != "none")
    if anchor and cells and anchor not in all_codecs:
        raise UsageError(
            f"anchor codec {anchor!r} is not in the results; codecs present: "
            f"{', '.join(all_codecs) or '(none)'}"
        )
    missing = adapted_vlms_missing(cells, adapted)
    if missing:
        present = ordered_unique(c["vlm"] for c in cells)
        raise UsageError(
            f"--adapted names VLMs with no results: {', '.join(missing)}; VLMs present: "
            f"{', '.join(present) or '(none)'}"
        )
    metrics = metric_names(cells)
    gaps = gap_rows(cells, adapted)
    gains = adapter_gains(cells, adapted, interp)
    sections = []
    for (task, vlm), group in group_cells(cells).items():
        codecs = list(codec_curves(group))
        ref = reference_cell(group)
        # the score's name and direction from a scored cell (an unscored one has neither)
        first = next((c for c in group if c.get("score_metric")), group[0])
        section_anchor = _resolve_anchor(anchor, codecs)
        sections.append({
            "task": task, "vlm": vlm,
            "score_metric": first.get("score_metric") or "score",
            "higher_is_better": higher_is_better(first),
            "anchor": section_anchor,
            "codecs": codecs,
            "reference": _clean_cell(ref, metrics) if ref else None,
            "cells": [_clean_cell(c, metrics) for c in sorted_cells(group)],
            "bd": _bd_rows(group, section_anchor, interp),
            "correlation": metric_correlations(group, metrics),
            "gap": [g for g in gaps if g["task"] == task and g["vlm"] == vlm],
            "adapter_bd": [g for g in gains if g["task"] == task and g["vlm"] == vlm],
            "gap_summary": gap_summary([g for g in gaps if g["task"] == task and g["vlm"] == vlm],
                                       [g for g in gains if g["task"] == task and g["vlm"] == vlm]),
            "n_failed": sum(int(c.get("n_failed") or 0) for c in group),
        })
    return {
        "cvb_report": REPORT_VERSION, "interp": interp, "anchor": anchor,
        "adapted": adapted, "metrics": metrics, "sections": sections,
    }

