"""An optional Task hook: a score computed from per-sample counts summed over the samples.

Many headline scores are functions of a few totals: an F1 of true positives, false positives
and false negatives, an accuracy of right answers and questions. A task whose score is one
may say so with a ``score_counts`` method beside ``score``::

    def score_counts(self, samples, predictions, reference=None) -> CountedScore | None:
        rows = [...]                      # one row of counts per sample, in ``samples`` order
        return CountedScore(rows, f1_of_totals)

``counts`` holds one row per sample (numbers, the same length for every sample) and ``value``
maps totals to the headline: given an array of shape ``(R, k)`` (R sets of column totals) it
returns the R scores, exactly as ``score(...).value`` would for samples with those totals
(same formula, same order of operations). Returning None says "not for this configuration"
(another protocol, a judge model).

``cvb report`` uses it to rescore a cell on 1000 bootstrap resamples with one matrix product
instead of 1000 calls of ``score`` (POPE's F1: ~25 s -> well under a second per cell). It is
trusted only after ``value`` reproduces the task's own ``score`` on the full set and on a few
resamples; a task without the hook, or whose hook disagrees, gets its ``score`` called on
every resample, as before. The hook never changes what ``cvb run`` stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # numpy is imported by the code that calls ``value``, not here
    import numpy as np

    from .types import Sample


@dataclass(frozen=True)
class CountedScore:
    """Per-sample counts and the headline score as a function of their column totals."""

    counts: Sequence[Sequence[float]]
    value: Callable[["np.ndarray"], "np.ndarray"]


def counted_score(task: Any, samples: Sequence["Sample"], predictions: Mapping[str, str],
                  reference: Mapping[str, str] | None = None) -> CountedScore | None:
    """The task's ``score_counts`` for these predictions, or None when it has none (or declines)."""
    hook = getattr(task, "score_counts", None)
    if hook is None:
        return None
    got = hook(samples, predictions, reference=reference)
    if got is not None and not isinstance(got, CountedScore):
        raise TypeError(f"{type(task).__name__}.score_counts returned {type(got).__name__}, "
                        f"not cvb.counted.CountedScore or None")
    return got


def safe_ratio(num: "np.ndarray", den: "np.ndarray") -> "np.ndarray":
    """``num / den`` where ``den`` is not 0, else 0.0 (the ``a / b if b else 0`` of score rules)."""
    import numpy as np

    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


__all__ = ["CountedScore", "counted_score", "safe_ratio"]
