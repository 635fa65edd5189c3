"""Bootstrap replicates of a score from the record counts of the task's ``Tally`` scorer.

A ``cvb.scoring.tally.Tally`` score is a function of how often each per-sample record occurs, so a
resample's score needs no rescoring: each sample's record is computed once, a resample's counts
are a row of one matrix product (``Resamples.totals``), and the tally turns each row into the
score. What one task x VLM of a study costs, and what is done about it:

* the records: the same sample with the same answer (and uncompressed answer) has the same
  record in every cell of the section, so each distinct (sample, answer, reference) is recorded
  once per section (compressed cells mostly repeat the answers of the uncompressed one), and
  finding a cell's known ones is a sorted-array search;
* the full-set score of every cell, checked against the store: once the tally has reproduced
  the task's own ``score`` on a cell of the section (its full set and the first resamples),
  the other cells' full-set scores come from their counts too, not from ``score``;
* the scores of the 1000 resamples: a tally with ``values`` (``Tally.values``, e.g. POPE's
  F1) computes them for all rows at once; otherwise ``finish`` runs once per row.

Every shortcut is checked where the report first uses it (the counts must give the task's
score on the full set and on the first resamples), else the report falls back to calling
``score`` per resample, with a warning. Records keep each cell's first-seen order, so a tally
without ``values`` sees exactly the counts it would see streaming the cell.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Mapping, Sequence

import numpy as np

_TOL = {"rel_tol": 1e-9, "abs_tol": 1e-9}


class TallyResampler:
    """The task's tally for one task x VLM (its samples, its resamples ``draws``)."""

    def __init__(self, task: Any, samples: Sequence, draws: Any):
        from ..scoring.tally import Tally

        make = getattr(task, "scorer", None)
        tally = make() if callable(make) else None
        self.tally = tally if isinstance(tally, Tally) else None
        self.name = getattr(task, "name", type(task).__name__)
        self.samples, self.draws = samples, draws
        self.records: list = []  # column -> record, over the section
        self._column: dict[Any, int] = {}
        self.checked = False  # reproduced the task's score on a cell (full set and resamples)
        self.values_checked = False
        self._reference: Any = None
        self._texts: dict[Any, int] = {}  # answer text (or None) -> number
        self._keys = np.empty(0, dtype=np.int64)  # sorted (text number x samples + sample index)
        self._cols = np.empty(0, dtype=np.int64)  # the column of each key

    def columns(self, answers: Mapping[str, str], reference: Mapping[str, str] | None) -> np.ndarray:
        """Each sample's record (as a column number) for one cell's answers; the tally's
        ``record`` runs only for a (sample, answer) not seen in an earlier cell of the section
        (with the same ``reference``)."""
        n = len(self.samples)
        if reference is not self._reference:  # another uncompressed cell: nothing can be reused
            self._reference, self._texts = reference, {}
            self._keys, self._cols = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        texts = self._texts
        number = np.fromiter((texts.setdefault(answers.get(s.id), len(texts)) for s in self.samples),
                             dtype=np.int64, count=n)
        key = number * n + np.arange(n, dtype=np.int64)
        pos = np.searchsorted(self._keys, key)
        known = pos < len(self._keys)
        known[known] = self._keys[pos[known]] == key[known]
        if not known.all():
            ref = reference or {}
            new = np.unique(key[~known])
            cols = np.empty(len(new), dtype=np.int64)
            text_of = list(texts)
            assert self.tally is not None, "used for a task with a tally"
            for j, k in enumerate(new.tolist()):
                i = k % n
                s = self.samples[i]
                rec = self.tally.record(s, text_of[k // n], ref.get(s.id))
                c = self._column.get(rec)
                if c is None:
                    c = self._column[rec] = len(self.records)
                    self.records.append(rec)
                cols[j] = c
            keys = np.concatenate([self._keys, new])
            order = np.argsort(keys, kind="stable")
            self._keys, self._cols = keys[order], np.concatenate([self._cols, cols])[order]
            pos = np.searchsorted(self._keys, key)
        return self._cols[pos]

    @staticmethod
    def _order(col: np.ndarray) -> np.ndarray:
        """The cell's columns in first-seen order (the order its streamed tally counts them)."""
        uniq, first = np.unique(col, return_index=True)
        return uniq[np.argsort(first, kind="stable")]

    def result(self, col: np.ndarray, idx: np.ndarray | None = None):
        """The tally's TaskScore of the samples ``idx`` (default: all) of a cell."""
        counts = np.bincount(col if idx is None else col[idx], minlength=len(self.records))
        return self._finish(self._order(col), counts)

    def _finish(self, order: np.ndarray, counts: np.ndarray):
        assert self.tally is not None, "used for a task with a tally"
        self.tally.counts = Counter({self.records[k]: int(counts[k]) for k in order if counts[k]})
        return self.tally.result()

    def replicates(self, col: np.ndarray, whole: float, score_of: Callable[[np.ndarray], float]) -> np.ndarray | None:
        """The score of every resample of a cell, or None when the counts disagree with the
        task's score (``whole``: its full-set score, ``score_of(idx)``: its score of a resample)."""
        draws = self.draws
        checks = [] if self.checked else draws.checks
        if not math.isclose(float(self.result(col).value), whole, **_TOL) or not all(
                math.isclose(float(self.result(col, idx).value), score_of(idx), **_TOL) for idx in checks):
            return None
        self.checked = True
        order = self._order(col)
        one_hot = np.zeros((len(col), len(order)))
        local = np.empty(len(self.records), dtype=np.int64)
        local[order] = np.arange(len(order))
        one_hot[np.arange(len(col)), local[col]] = 1.0
        counts = draws.totals(one_hot)  # (resamples, the cell's records): exact integers
        values = self._values(order, counts, col)
        if values is not None:
            return values
        return np.array([float(self._finish(order, self._spread(order, row)).value) for row in counts])

    def _values(self, order: np.ndarray, counts: np.ndarray, col: np.ndarray) -> np.ndarray | None:
        """All rows' scores from the tally's ``values`` when it has one and it agrees with its
        ``finish`` (on the full set and the first resamples, once per section)."""
        many = getattr(self.tally, "values", None)
        if many is None:
            return None
        records = [self.records[k] for k in order]
        got = np.asarray(many(records, counts), dtype=float)
        if not self.values_checked:
            full = np.bincount(col, minlength=len(self.records))[order]
            rows = [full] + [counts[r] for r in range(min(len(self.draws.checks), len(counts)))]
            wanted = [float(self._finish(order, self._spread(order, row)).value) for row in rows]
            mine = np.asarray(many(records, np.array(rows, dtype=float)), dtype=float)
            if got.shape != (len(counts),) or not all(math.isclose(a, b, **_TOL) for a, b in zip(mine, wanted)):
                raise ValueError("its values() disagree with its finish()")
            self.values_checked = True
        return got

    def _spread(self, order: np.ndarray, row: np.ndarray) -> np.ndarray:
        full = np.zeros(len(self.records))
        full[order] = row
        return full
