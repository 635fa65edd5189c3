"""Uncertainty of benchmark scores: intervals and paired tests against the uncompressed cell.

Pure functions over numbers (numpy, scipy); ``cvb.report.uncertainty`` feeds them the stored
per-sample predictions. Which interval and which test each score gets, and why, is in
``docs/analysis.md`` ("Uncertainty"):

* the report's verdict, for every score: a **paired cluster bootstrap** over images (every
  question of a drawn image comes along; compressed and uncompressed cells rescored on the
  *same* resample). ``percentile_interval`` and ``bootstrap_p`` share one tail rule
  (``tail_p``), so the interval of a difference excludes 0 exactly when p < alpha
  (``paired_bootstrap``): interval, p-value and star never contradict each other;
* questions as independent (``--inference mcnemar``, plain accuracies): the **Wilson** score
  interval, the exact **McNemar** test and its matching exact interval of the change
  (``mcnemar_interval``);
* BD-metrics: the same resamples give one curve per codec each time; the BD-metric of each
  resample gives its interval and p-value.

Resampling uses ``numpy.random.default_rng(seed)`` with a fixed default seed, so a report is
reproducible to the last digit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    import numpy as np

CONFIDENCE = 0.95


def alpha_of(confidence: float) -> float:
    """The significance level of a confidence level, rounded (``1 - 0.95`` is 0.0500...04 in
    floating point, which would star a p-value of exactly 0.05)."""
    return round(1 - confidence, 12)


ALPHA = alpha_of(CONFIDENCE)
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20260401


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` (fractions in [0, 1])."""
    from scipy.stats import binomtest

    if n <= 0:
        return (math.nan, math.nan)
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def mcnemar(reference: Sequence[float] | np.ndarray, compressed: Sequence[float] | np.ndarray) -> dict:
    """Exact McNemar test of paired 0/1 verdicts (same samples, same order).

    ``b``: right on the uncompressed image, wrong on the compressed one; ``c``: the reverse.
    Under "compression changes nothing" each discordant pair is a fair coin, so the two-sided
    p-value is the binomial test of ``b`` out of ``b + c`` at 1/2 (the exact form statsmodels'
    ``mcnemar(exact=True)`` computes). No discordant pair gives p = 1.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=float)
    cmp_ = np.asarray(compressed, dtype=float)
    if ref.shape != cmp_.shape:
        raise ValueError(f"{ref.size} reference verdicts for {cmp_.size} compressed ones")
    return mcnemar_counts(int(np.sum((ref == 1) & (cmp_ == 0))), int(np.sum((ref == 0) & (cmp_ == 1))))


def mcnemar_counts(b: int, c: int) -> dict:
    """McNemar's exact test from its discordant pair counts (see ``mcnemar``)."""
    from scipy.stats import binomtest

    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"test": "mcnemar", "b": b, "c": c, "p": p}


def cluster_resamples(groups: Sequence[Sequence[int]], n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED) -> list[np.ndarray]:
    """``n_resamples`` bootstrap draws of sample indices, drawing whole groups (images).

    Questions about one image are not independent (POPE asks six about each), so the unit
    drawn with replacement is the image and all its questions come along.
    """
    import numpy as np

    arrays = [np.asarray(g, dtype=np.int64) for g in groups if len(g)]
    return [np.concatenate([arrays[i] for i in row]) for row in cluster_draws(len(arrays), n_resamples, seed)]


def cluster_draws(n_groups: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The groups drawn by each resample of ``cluster_resamples``: ``(n_resamples, n_groups)``
    group numbers (resample ``r`` is the concatenation of groups ``draws[r]``, in that order)."""
    import numpy as np

    if n_groups <= 0:
        return np.empty((0, 0), dtype=np.int64)
    return np.random.default_rng(seed).integers(0, n_groups, size=(n_resamples, n_groups))


def draw_counts(draws: np.ndarray) -> np.ndarray:
    """How often each resample drew each group: ``(n_resamples, n_groups)`` counts, as floats.

    Any total over a resample is then a matrix product: with ``per_group`` the per-group sums
    of a per-sample quantity, ``draw_counts(draws) @ per_group`` is its sum over every
    resample at once (exactly the sum over the concatenated samples for integer counts, which
    float64 holds exactly)."""
    import numpy as np

    n_resamples, n_groups = draws.shape
    flat = (draws + n_groups * np.arange(n_resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=n_resamples * n_groups).reshape(n_resamples, n_groups).astype(float)


def tail_p(k: int, r: int) -> float:
    """Two-sided bootstrap p-value when ``k`` of ``r`` resampled differences lie on the far side
    of 0: ``2 (k + 1) / (r + 1)``, at most 1 (the ``+1`` keeps a finite bootstrap from claiming
    p = 0). The one expression behind both ``bootstrap_p`` and ``percentile_interval``."""
    return min(1.0, 2.0 * (k + 1) / (r + 1))


def _tail_rank(r: int, confidence: float) -> int:
    """How many order statistics each tail of ``r`` values leaves out: the ``j`` with
    ``tail_p(k, r) < 1 - confidence`` exactly for ``k < j`` (0: too few values for an interval)."""
    alpha = alpha_of(confidence)
    j = 0
    while j < r and tail_p(j, r) < alpha:
        j += 1
    return j


def percentile_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the finite ``values``: the ``j``-th smallest and the
    ``j``-th largest value, ``j`` from ``_tail_rank`` (``j = 25`` for 1000 values at 95 %).

    Built from the same tail counts as ``bootstrap_p``, so for paired differences the interval
    excludes 0 exactly when ``bootstrap_p < 1 - confidence``: interval, p-value and the star of
    significance can never contradict each other. NaN when there are too few values."""
    import numpy as np

    v = np.sort(np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float))
    j = _tail_rank(v.size, confidence)
    if j == 0:
        return (math.nan, math.nan)
    return (float(v[j - 1]), float(v[v.size - j]))


def bootstrap_p(deltas: Iterable[float]) -> float:
    """Two-sided bootstrap p-value of "the paired difference is 0".

    ``tail_p`` of the smaller count of resampled differences on either side of 0 (a difference of
    exactly 0 counts on both sides): ``2 (k + 1) / (R + 1)``, never 0, at most 1.
    """
    import numpy as np

    d = np.asarray([x for x in deltas if x is not None and math.isfinite(x)], dtype=float)
    if d.size == 0:
        return math.nan
    return tail_p(int(min(np.sum(d <= 0), np.sum(d >= 0))), int(d.size))


def paired_bootstrap(deltas: Iterable[float], confidence: float = CONFIDENCE) -> dict:
    """Interval, p-value and verdict of one paired difference from its bootstrap replicates:
    ``{"delta_ci", "p", "significant"}``; ``significant`` is ``p < 1 - confidence``, which is
    exactly "``delta_ci`` excludes 0" (``percentile_interval``)."""
    d = [x for x in deltas if x is not None and math.isfinite(x)]
    lo, hi = percentile_interval(d, confidence)
    p = bootstrap_p(d)
    return {"delta_ci": None if math.isnan(lo) else [lo, hi], "p": p,
            "significant": None if math.isnan(p) else bool(p < alpha_of(confidence))}


def mcnemar_interval(b: int, c: int, n: int, scale: float, confidence: float = CONFIDENCE) -> list | None:
    """The change of an accuracy (``scale x (c - b) / n``) as exact McNemar sees it: the
    Clopper-Pearson interval of the share ``b / (b + c)`` of the discordant pairs (the
    binomial McNemar's test is), mapped to the change. It excludes 0 when that binomial test
    rejects 1/2 (conditional on ``b + c``, questions taken as independent)."""
    from scipy.stats import binomtest

    m = b + c
    if n <= 0:
        return None
    if m == 0:
        return [0.0, 0.0]
    ci = binomtest(b, m, 0.5).proportion_ci(confidence_level=confidence, method="exact")
    return [scale * m / n * (1 - 2 * float(ci.high)), scale * m / n * (1 - 2 * float(ci.low))]


__all__ = ["ALPHA", "CONFIDENCE", "alpha_of", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "bootstrap_p", "cluster_draws",
           "cluster_resamples", "draw_counts", "mcnemar", "mcnemar_counts", "mcnemar_interval", "paired_bootstrap",
           "percentile_interval",
           "tail_p", "wilson"]
