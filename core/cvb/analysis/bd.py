"""Bjontegaard deltas between two rate-score curves: BD-metric and BD-rate.

The definitions follow the ``bjontegaard`` package (Herglotz et al., FAU), which is the
reference implementation of the three interpolation methods of the Bjontegaard literature:

* ``pchip``: piecewise cubic Hermite (monotone, no overshoot; the recommended default),
* ``akima``: Akima spline (linear when a curve has only two points),
* ``cubic``: one least-squares cubic polynomial per curve (the original VCEG-M33 method).

Unlike that package, undefined results are not warnings: they come back as NaN with a
``reason`` a report can print instead of a number, because a benchmark matrix routinely holds
curves that cannot be compared (a codec that never reaches the anchor's rates, one level).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import numpy as np

METHODS = ("pchip", "akima", "cubic")
# The fewest points each interpolation needs: a cubic fit through fewer than four points is
# underdetermined; PCHIP and Akima degrade to a straight line with two.
MIN_POINTS = {"pchip": 2, "akima": 2, "cubic": 4}


@dataclass(frozen=True)
class BDResult:
    """One Bjontegaard delta: ``value`` is NaN exactly when ``reason`` says why.

    ``kind`` is ``"bd-metric"`` (mean score difference, test minus anchor, in score units) or
    ``"bd-rate"`` (mean bitrate difference at equal score, in percent; negative means the
    test needs fewer bits). ``interval`` is the overlap integrated over (bpp for BD-metric,
    score for BD-rate) and ``overlap`` its share of the union of both curves' ranges; the
    ``bjontegaard`` package warns below 0.75, a report may show it.
    """

    kind: str
    value: float
    method: str
    reason: str | None = None
    interval: tuple[float, float] | None = None
    overlap: float = math.nan

    @property
    def defined(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "value": None if math.isnan(self.value) else self.value,
            "method": self.method,
            "reason": self.reason,
            "interval": list(self.interval) if self.interval else None,
            "overlap": None if math.isnan(self.overlap) else self.overlap,
        }


class _Undefined(Exception):
    """Internal: carries the reason a delta cannot be computed."""


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r}; choose one of {', '.join(METHODS)}")


def _curve(rates: Sequence[float], scores: Sequence[float] | np.ndarray, label: str,
           method: str) -> tuple[np.ndarray, np.ndarray]:
    """Finite points with bpp > 0, sorted by rate, repeated rates merged (mean score).

    Returns ``(log10 rates, scores)``. A repeated rate would make the interpolant ill-defined
    (two ordinates at one abscissa); the mean is the least surprising merge.
    """
    import numpy as np

    r = np.asarray(rates, dtype=float).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if r.shape != s.shape:
        raise ValueError(f"{label}: {r.size} rates but {s.size} scores")
    keep = np.isfinite(r) & np.isfinite(s) & (r > 0)
    r, s = r[keep], s[keep]
    order = np.argsort(r, kind="stable")
    r, s = r[order], s[order]
    uniq, inverse = np.unique(r, return_inverse=True)
    if uniq.size < r.size:
        s = np.bincount(inverse, weights=s) / np.bincount(inverse)
        r = uniq
    need = MIN_POINTS[method]
    if r.size < need:
        dropped = int((~keep).sum())
        extra = f" ({dropped} non-finite or bpp <= 0 dropped)" if dropped else ""
        raise _Undefined(
            f"{label} needs >= {need} points with distinct bpp for {method} interpolation, "
            f"got {r.size}{extra}"
        )
    return np.log10(r), s


def _interpolant(x: np.ndarray, y: np.ndarray, method: str) -> Any:
    """An object with ``.integrate(a, b)``; ``x`` strictly increasing."""
    import scipy.interpolate as si

    if method == "pchip":
        return si.PchipInterpolator(x, y)
    if method == "akima":
        if x.size > 2:
            return si.Akima1DInterpolator(x, y)
        return si.make_interp_spline(x, y, k=1)
    return _Cubic(x, y)


class _Cubic:
    """Least-squares cubic polynomial, integrated exactly."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        import numpy as np

        if np.ndim(y) == 1:
            self._antiderivative = np.polyint(np.polyfit(x, y, 3))
        else:  # one polynomial per column
            self._antiderivative = np.stack([np.polyint(c) for c in np.polyfit(x, y, 3).T], axis=1)

    def integrate(self, a: float, b: float) -> float | np.ndarray:
        import numpy as np

        if self._antiderivative.ndim == 1:
            return float(np.polyval(self._antiderivative, b) - np.polyval(self._antiderivative, a))
        c = self._antiderivative  # (5, B): Horner's rule per column, as np.polyval
        va, vb = np.zeros(c.shape[1]), np.zeros(c.shape[1])
        for row in c:
            va, vb = va * a + row, vb * b + row
        return vb - va


def _mean_difference(xa: np.ndarray, ya: np.ndarray, xt: np.ndarray, yt: np.ndarray,
                     method: str) -> tuple[Any, tuple[float, float], float] | None:
    """Mean of (f_test - f_anchor) over the overlap of both x ranges, with the overlap."""
    import numpy as np

    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    if not hi > lo:
        return None
    union = max(xa[-1], xt[-1]) - min(xa[0], xt[0])
    fa, ft = _interpolant(xa, ya, method), _interpolant(xt, yt, method)
    if np.ndim(ya) == 1:
        avg = (float(ft.integrate(lo, hi)) - float(fa.integrate(lo, hi))) / (hi - lo)
    else:  # one column per replicate (``bd_metric_replicates``)
        gap = np.asarray(ft.integrate(lo, hi), dtype=float) - np.asarray(fa.integrate(lo, hi), dtype=float)
        avg = gap / (hi - lo)
    return avg, (lo, hi), (hi - lo) / union


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def bd_metric(
    rate_anchor: Sequence[float],
    score_anchor: Sequence[float] | np.ndarray,
    rate_test: Sequence[float],
    score_test: Sequence[float] | np.ndarray,
    method: str = "pchip",
    labels: tuple[str, str] = ("anchor", "test"),
) -> BDResult:
    """Mean vertical distance (test minus anchor) between score-vs-log10(bpp) curves.

    The average is taken over the bpp range both curves cover, so the number is "score
    points gained at equal rate" (the paper's BD-POPE, BD-OCRBench, ...). Same value as
    ``bjontegaard.bd_psnr`` with the same ``method``. ``labels`` name the two curves in a
    reason (a report passes the codec names).
    """
    _check_method(method)
    try:
        xa, ya = _curve(rate_anchor, score_anchor, labels[0], method)
        xt, yt = _curve(rate_test, score_test, labels[1], method)
    except _Undefined as exc:
        return BDResult("bd-metric", math.nan, method, str(exc))
    got = _mean_difference(xa, ya, xt, yt, method)
    if got is None:
        return BDResult(
            "bd-metric", math.nan, method,
            f"no overlap in bpp: [{_fmt(10 ** xa[0])}, {_fmt(10 ** xa[-1])}] vs "
            f"[{_fmt(10 ** xt[0])}, {_fmt(10 ** xt[-1])}]",
        )
    avg, (lo, hi), overlap = got
    return BDResult("bd-metric", avg, method, None, (10 ** lo, 10 ** hi), overlap)


def bd_metric_replicates(
    rate_anchor: Sequence[float],
    scores_anchor: "np.ndarray",
    rate_test: Sequence[float],
    scores_test: "np.ndarray",
    method: str = "pchip",
) -> np.ndarray:
    """``bd_metric(...).value`` of many score curves on the same rates at once (bootstrap
    replicates): ``scores_*`` are ``(points, B)``, the result ``(B,)`` (NaN where undefined).

    The rates, hence which points count and how they are merged, are shared by all columns, so
    one interpolant over all columns does the work of B; a column with a non-finite score
    (which drops that point) goes through ``bd_metric`` on its own. Same numbers as calling
    ``bd_metric`` per column (tested)."""
    import numpy as np

    _check_method(method)
    sa = np.asarray(scores_anchor, dtype=float)
    st = np.asarray(scores_test, dtype=float)
    out = np.full(sa.shape[1], np.nan)
    finite = np.isfinite(sa).all(axis=0) & np.isfinite(st).all(axis=0)
    for b in np.flatnonzero(~finite):
        out[b] = bd_metric(rate_anchor, sa[:, b], rate_test, st[:, b], method).value
    if not finite.any():
        return out
    try:
        xa, ya = _curves(rate_anchor, sa[:, finite], method)
        xt, yt = _curves(rate_test, st[:, finite], method)
    except _Undefined:
        return out
    got = _mean_difference(xa, ya, xt, yt, method)
    if got is not None:
        out[finite] = got[0]
    return out


def _curves(rates: Sequence[float], scores: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """``_curve`` of the columns of ``scores`` (all finite) on one set of rates."""
    import numpy as np

    r = np.asarray(rates, dtype=float).ravel()
    if r.shape[0] != scores.shape[0]:
        raise ValueError(f"{r.size} rates but {scores.shape[0]} scores")
    keep = np.isfinite(r) & (r > 0)
    r, s = r[keep], scores[keep]
    order = np.argsort(r, kind="stable")
    r, s = r[order], s[order]
    uniq, inverse = np.unique(r, return_inverse=True)
    if uniq.size < r.size:
        sums = np.zeros((uniq.size, s.shape[1]))
        np.add.at(sums, inverse, s)
        s = sums / np.bincount(inverse)[:, None]
        r = uniq
    if r.size < MIN_POINTS[method]:
        raise _Undefined("too few points")
    return np.log10(r), s


def _by_score(x: np.ndarray, y: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Swap axes for BD-rate: the score must be strictly monotone in the rate."""
    import numpy as np

    d = np.diff(y)
    if not (np.all(d > 0) or np.all(d < 0)):
        raise _Undefined(
            f"non-monotone score curve for BD-rate ({label}: "
            f"{', '.join(_fmt(v) for v in y)} with rising bpp)"
        )
    if d[0] < 0:
        x, y = x[::-1], y[::-1]
    return y, x


def bd_rate(
    rate_anchor: Sequence[float],
    score_anchor: Sequence[float],
    rate_test: Sequence[float],
    score_test: Sequence[float],
    method: str = "pchip",
    labels: tuple[str, str] = ("anchor", "test"),
) -> BDResult:
    """Average bitrate difference at equal score, in percent (negative = test saves bits).

    log10(bpp) is interpolated as a function of the score over the score range both curves
    cover; the mean log-difference d becomes ``(10**d - 1) * 100``. Same value as
    ``bjontegaard.bd_rate``. Needs each score curve strictly monotone in bpp: a flat or
    zig-zag curve has no single "rate at this score".
    """
    _check_method(method)
    try:
        xa, ya = _curve(rate_anchor, score_anchor, labels[0], method)
        xt, yt = _curve(rate_test, score_test, labels[1], method)
        sa, la = _by_score(xa, ya, labels[0])
        st, lt = _by_score(xt, yt, labels[1])
    except _Undefined as exc:
        return BDResult("bd-rate", math.nan, method, str(exc))
    got = _mean_difference(sa, la, st, lt, method)
    if got is None:
        return BDResult(
            "bd-rate", math.nan, method,
            f"no overlap in score: [{_fmt(sa[0])}, {_fmt(sa[-1])}] vs "
            f"[{_fmt(st[0])}, {_fmt(st[-1])}]",
        )
    avg, interval, overlap = got
    return BDResult("bd-rate", (10 ** avg - 1) * 100, method, None, interval, overlap)
