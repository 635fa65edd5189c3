"""Cells -> one report model (plain, JSON-ready dicts) that every renderer reads.

Building the numbers once and rendering them many ways (terminal, Markdown, CSV, JSON, HTML)
keeps the formats from disagreeing.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..analysis.bd import METHODS, bd_metric, bd_metric_replicates, bd_rate
from ..analysis.correlation import metric_correlations
from ..analysis.stats import ALPHA, CONFIDENCE, paired_bootstrap, percentile_interval
from ..analysis.curves import (
    codec_curves, group_cells, higher_is_better, metric_names, num, ordered_unique, reference_cell,
    sorted_cells,
)
from ..analysis.gap import adapted_vlms_missing, adapter_gains, clean_drift, gap_rows, gap_summary
from ..errors import UsageError
from ..identity import scoring_of

REPORT_VERSION = 1


def run_codec_order(store) -> list[str]:
    """The codecs as the store's runs named them (``cvb run -c A,B``: A first), earliest run
    first: the order ``runs.options`` records."""
    out: list[str] = []
    for run in store.export_rows("runs"):
        for name in (run.get("options") or {}).get("codecs") or {}:
            if name not in out:
                out.append(name)
    return out


def check_anchor(cells: Sequence[Mapping], anchor: str | None) -> None:
    """A named anchor nowhere in the cells is a usage error (a typo), found before any
    resampling; the closest codec present is suggested."""
    from ..errors import did_you_mean

    all_codecs = ordered_unique(c["codec"] for c in cells if c["codec"] != "none")
    if anchor and cells and anchor not in all_codecs:
        raise UsageError(
            f"anchor codec {anchor!r} is not in the results{did_you_mean(anchor, all_codecs)}; "
            f"codecs present: {', '.join(all_codecs) or '(none)'}"
        )


def check_names(cells: Sequence[Mapping], anchor: str | None, adapted: Mapping[str, str] | None) -> None:
    """``--anchor`` and ``--adapted`` against the cells: a name in no cell is a usage error with
    the closest names, found before any resampling (``cvb report`` calls this first)."""
    from ..errors import did_you_mean

    check_anchor(cells, anchor)
    missing = adapted_vlms_missing(cells, dict(adapted or {}))
    if missing:
        present = ordered_unique(c["vlm"] for c in cells)
        raise UsageError(
            f"--adapted names VLMs with no results: {', '.join(missing)}{did_you_mean(missing[0], present)}; "
            f"VLMs present: {', '.join(present) or '(none)'}"
        )


def _resolve_anchor(requested: str | None, codecs: list[str], codec_order: Sequence[str]) -> str | None:
    """The anchor asked for; else the first of ``codec_order`` (the codecs as the runs named them:
    ``-c jpeg,elic`` makes jpeg the baseline) in the section; else its first codec."""
    if requested:
        return requested
    return next((c for c in codec_order if c in codecs), codecs[0] if codecs else None)


def bd_interval(base: Any, curve: Any, method: str, replicates: tuple[Mapping | None, Mapping | None] | None,
                confidence: float, sign: float = 1.0) -> dict:
    """``{"ci", "p", "significant"}`` of the BD-metric over the bootstrap replicates of both
    curves' cells (the same image resamples for every cell, so each replicate is one consistent
    pair of curves): the cells' own method (``stats.paired_bootstrap``), so an interval that
    excludes 0 and p < 0.05 go together."""
    none = {"ci": None, "p": None, "significant": None}
    anchor_replicates, test_replicates = replicates or (None, None)
    if not anchor_replicates or not test_replicates:
        return none
    keys_a = [(c["codec"], str(c["level"])) for c in base.cells]
    keys_t = [(c["codec"], str(c["level"])) for c in curve.cells]
    found_a = [anchor_replicates.get(k) for k in keys_a]
    found_t = [test_replicates.get(k) for k in keys_t]
    reps_a = [r for r in found_a if r is not None]
    reps_t = [r for r in found_t if r is not None]
    if len(reps_a) < len(found_a) or len(reps_t) < len(found_t):
        return none
    import numpy as np

    b = min(len(r) for r in reps_a + reps_t)  # replicate b of every cell: one pair of curves
    values = sign * bd_metric_replicates(base.bpp, np.array([r[:b] for r in reps_a]), curve.bpp,
                                         np.array([r[:b] for r in reps_t]), method)
    got = paired_bootstrap(values, confidence)
    return {"ci": got["delta_ci"], "p": got["p"], "significant": got["significant"]}


def _bd_rows(cells: Sequence[Mapping], anchor: str | None, method: str,
             replicates: Mapping | None = None, confidence: float = CONFIDENCE) -> list[dict]:
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
            if metric["value"] is not None:
                metric.update(bd_interval(base, curve, method, (replicates, replicates), confidence))
            rate = bd_rate(base.bpp, base.scores, curve.bpp, curve.scores, method, labels).as_dict()
        rows.append({"codec": codec, "anchor": anchor, "points": len(curve.cells),
                     "bd_metric": metric, "bd_rate": rate})
    return rows


def _clean_cell(cell: Mapping, metrics: Sequence[str], stats: Mapping | None = None,
                clean: float = math.nan) -> dict:
    """A cell with numeric fields as floats (NaN for missing) and every metric key present.

    ``stats`` (from ``cvb.report.uncertainty``) adds ``ci`` and, for compressed cells, ``delta``
    (score minus the uncompressed score), ``delta_ci``, ``test``, ``p`` and ``significant``.
    """
    m = cell.get("metrics") or {}
    info = dict((stats or {}).get((cell["codec"], str(cell.get("level"))), {}))
    score = num(cell.get("score"))
    extra: dict = {"ci": info.pop("ci", None), "ci_method": info.pop("ci_method", None)}
    if cell["codec"] != "none":
        p = info.pop("p", None)
        significant = info.pop("significant", None)  # the method's own verdict, else p < alpha
        if significant is None and p is not None and not math.isnan(p):
            significant = bool(p < ALPHA)
        extra.update(delta=score - clean, delta_ci=info.pop("delta_ci", None),
                     test=info.pop("test", None), p=p, significant=significant, **info)
    return {
        "task": cell["task"], **scoring_of(cell["task"]), "vlm": cell["vlm"], "codec": cell["codec"],
        "level": str(cell.get("level")), "bpp": num(cell.get("bpp")),
        "score": num(cell.get("score")), "score_metric": cell.get("score_metric") or "score",
        "higher_is_better": higher_is_better(cell),
        "n": int(cell.get("n") or 0), "n_failed": int(cell.get("n_failed") or 0),
        "metrics": {k: num(m.get(k)) for k in metrics},
        "details": dict(cell.get("details") or {}),
        "error": cell.get("error") or None,
        **extra,
    }


def build_report(
    cells: Sequence[Mapping],
    anchor: str | None = None,
    interp: str = "pchip",
    adapted: Mapping[str, str] | None = None,
    stats: Mapping | None = None,
    provenance: Mapping | None = None,
    inference: Mapping | None = None,
    conditions: Mapping[tuple, Mapping[str | None, int]] | None = None,
    scores_only: bool = False,
    codec_order: Sequence[str] = (),
) -> dict:
    """The whole report: one section per task x VLM, in the store's order.

    ``anchor`` None picks, in each section, the first codec of ``codec_order`` (the codecs in
    the order the store's runs named them, ``run_codec_order``) present there, else the
    section's first codec: the baseline is the user's choice, never a codec the core knows by
    name. A named anchor, or an adapted VLM, that is nowhere in the cells is a usage error (a typo).
    ``stats``: ``{(task, vlm): SectionStats}`` from ``cvb.report.uncertainty.report_stats``
    (intervals, tests, BD intervals); ``provenance``: what made the numbers (``cvb.report.provenance``);
    ``inference``: the verdict method (``uncertainty.Options.describe()``; default: read from ``stats``);
    ``conditions``: what each adapted cell's answers were conditioned on (``gap_rows``).
    ``scores_only``: the score tables' fields alone, no BD-metrics, correlations or gaps (``cvb
    run``'s summary: it prints only those tables, and then never imports scipy).
    """
    if interp not in METHODS:
        raise UsageError(f"unknown interpolation {interp!r}; choose one of {', '.join(METHODS)}")
    adapted = dict(adapted or {})
    check_names(cells, anchor, adapted)
    metrics = metric_names(cells)
    gaps = [] if scores_only else gap_rows(cells, adapted, conditions)
    gains = [] if scores_only else adapter_gains(cells, adapted, interp)
    drifts = [] if scores_only else clean_drift(cells, adapted)
    sections = []
    stats = stats or {}
    for (task, vlm), group in group_cells(cells).items():
        codecs = list(codec_curves(group))
        ref = reference_cell(group)
        st = stats.get((task, vlm))
        cell_stats = st.cells if st else {}
        reps = st.replicates if st else None
        clean = num(ref.get("score")) if ref else math.nan
        adapter_rows = [g for g in gains if g["task"] == task and g["vlm"] == vlm]
        for g in adapter_rows:
            _adapter_ci(g, group, cells, stats, interp)
        # the score's name and direction from a scored cell (an unscored one has neither)
        first = next((c for c in group if c.get("score_metric")), group[0])
        section_anchor = _resolve_anchor(anchor, codecs, codec_order)
        section_gaps = [g for g in gaps if g["task"] == task and g["vlm"] == vlm]
        for g in section_gaps:
            _gap_ci(g, stats, higher_is_better(first))
        sections.append({
            "task": task, **scoring_of(task), "vlm": vlm,
            "score_metric": first.get("score_metric") or "score",
            "higher_is_better": higher_is_better(first),
            "anchor": section_anchor,
            "codecs": codecs,
            "reference": _clean_cell(ref, metrics, cell_stats, clean) if ref else None,
            "cells": [_clean_cell(c, metrics, cell_stats, clean) for c in sorted_cells(group)],
            "bd": [] if scores_only else _bd_rows(group, section_anchor, interp, reps),
            "uncertainty": _uncertainty(st),
            "warnings": list(st.warnings) if st else [],
            "correlation": [] if scores_only else metric_correlations(group, metrics),
            "gap": section_gaps,
            "adapter_bd": adapter_rows,
            "gap_summary": gap_summary(section_gaps, adapter_rows),
            "clean_drift": next((_drift_ci(d, stats) for d in drifts if d["task"] == task and d["vlm"] == vlm), None),
            "n_failed": sum(int(c.get("n_failed") or 0) for c in group),
        })
    if inference is None and stats:
        from .uncertainty import INFERENCES

        st = next(iter(stats.values()))
        inference = {"method": st.inference, "name": INFERENCES.get(st.inference, st.inference),
                     "unit": "image", "resamples": st.resamples, "seed": st.seed, "confidence": st.confidence}
    return {
        "cvb_report": REPORT_VERSION, "interp": interp, "anchor": anchor,
        "adapted": adapted, "metrics": metrics, "confidence": CONFIDENCE,
        "inference": dict(inference) if inference else None,
        "provenance": dict(provenance) if provenance else None, "sections": sections,
    }


def _uncertainty(st) -> dict | None:
    """A section's resampling: method, resamples, seed, and why there are no intervals."""
    if st is None:
        return None
    from .uncertainty import INFERENCES

    return {"method": st.inference, "name": INFERENCES.get(st.inference, st.inference),
            "resamples": st.resamples, "seed": st.seed, "confidence": st.confidence, "reason": st.reason}


def _gap_ci(row: dict, stats: Mapping, hib: bool) -> None:
    """Intervals of one level's gaps (``total_ci``, ``information_ci``, ``generalization_ci``)
    from the replicates of the base VLM's clean and compressed cells and the adapted VLM's
    compressed cell, all rescored on the same resamples."""
    base_st = stats.get((row["task"], row["vlm"]))
    ad_st = stats.get((row["task"], row.get("adapted_vlm")))
    if row.get("reason") or not base_st or not ad_st:
        return
    key = (row["codec"], str(row["level"]))
    reps = [base_st.replicates.get(("none", "-")), base_st.replicates.get(key), ad_st.replicates.get(key)]
    if any(r is None for r in reps):
        return
    m = min(len(r) for r in reps)
    clean, comp, adap = (r[:m] for r in reps)
    sign = 1.0 if hib else -1.0
    for name, values in (("total", clean - comp), ("information", clean - adap),
                         ("generalization", adap - comp)):
        lo, hi = percentile_interval(sign * values, CONFIDENCE)
        row[f"{name}_ci"] = None if math.isnan(lo) else [lo, hi]


def _drift_ci(row: dict, stats: Mapping) -> dict:
    """``row`` with ``drift_ci``: the adapted minus the base clean score on the same resamples."""
    base_st = stats.get((row["task"], row["vlm"]))
    ad_st = stats.get((row["task"], row["adapted_vlm"]))
    base_reps, ad_reps = (st.replicates.get(("none", "-")) if st else None for st in (base_st, ad_st))
    row = dict(row, drift_ci=None)
    if row["reason"] is None and base_reps is not None and ad_reps is not None:
        m = min(len(base_reps), len(ad_reps))
        sign = 1.0 if row["higher_is_better"] else -1.0
        lo, hi = percentile_interval(sign * (ad_reps[:m] - base_reps[:m]), CONFIDENCE)
        row["drift_ci"] = None if math.isnan(lo) else [lo, hi]
    return row


def _adapter_ci(row: dict, group: Sequence[Mapping], cells: Sequence[Mapping], stats: Mapping,
                interp: str) -> None:
    """The adapter gain's interval: both VLMs were resampled with the same draws of the task's
    images, so replicate b of the base curve and of the adapted curve form one pair."""
    bd = row.get("bd_metric") or {}
    base_st = stats.get((row["task"], row["vlm"]))
    ad_st = stats.get((row["task"], row.get("adapted_vlm")))
    if bd.get("value") is None or not base_st or not ad_st:
        return
    base = codec_curves(group).get(row["codec"])
    adapted = codec_curves([c for c in cells if c["task"] == row["task"]
                            and c["vlm"] == row["adapted_vlm"]]).get(row["codec"])
    if base is None or adapted is None:
        return
    sign = 1.0 if higher_is_better(base.cells[0]) else -1.0
    bd.update(bd_interval(base, adapted, interp, (base_st.replicates, ad_st.replicates),
                          CONFIDENCE, sign))

