"""How well each image-quality metric predicts the task score (the paper's finding 5).

Across the compressed cells of one task x VLM (every codec and level), Pearson's r (linear
agreement) and Spearman's rho (monotone agreement, insensitive to the metric's scale) between
the task score and each metric. The uncompressed reference is left out: its metrics are those
of an image compared with itself (PSNR infinite), not a point on any rate curve.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .curves import is_reference, metric_names, num

MIN_CELLS = 3  # with two points any two series correlate perfectly


def _undefined(metric: str, n: int, reason: str) -> dict:
    nan = math.nan
    return {"metric": metric, "n": n, "pearson": nan, "pearson_p": nan,
            "spearman": nan, "spearman_p": nan, "reason": reason}


def correlate(scores: Sequence[float], values: Sequence[float], metric: str = "metric") -> dict:
    """Pearson and Spearman between two series, over the pairs where both are finite."""
    pairs = [(float(s), float(v)) for s, v in zip(scores, values)
             if math.isfinite(num(s)) and math.isfinite(num(v))]
    n = len(pairs)
    if n < MIN_CELLS:
        return _undefined(metric, n, f"needs >= {MIN_CELLS} cells with a finite score and {metric}, got {n}")
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(set(xs)) == 1:
        return _undefined(metric, n, "the score is constant across cells")
    if len(set(ys)) == 1:
        return _undefined(metric, n, f"{metric} is constant across cells")
    from scipy import stats

    pr = stats.pearsonr(xs, ys)
    sr = stats.spearmanr(xs, ys)
    return {"metric": metric, "n": n,
            "pearson": float(pr.statistic), "pearson_p": float(pr.pvalue),
            "spearman": float(sr.statistic), "spearman_p": float(sr.pvalue), "reason": None}


def metric_correlations(cells: Sequence[Mapping], metrics: Sequence[str] | None = None) -> list[dict]:
    """One row per metric for the cells of one task x VLM (reference cell excluded)."""
    compressed = [c for c in cells if not is_reference(c)]
    names = list(metrics) if metrics is not None else metric_names(compressed)
    scores = [num(c.get("score")) for c in compressed]
    return [
        correlate(scores, [num((c.get("metrics") or {}).get(m)) for c in compressed], m)
        for m in names
    ]
