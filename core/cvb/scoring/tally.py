"""Streamed scoring: a cell's predictions fed to the task's rule one sample at a time.

A task may offer ``scorer()`` (see ``cvb.protocols.Scorer``): an object ``cvb run`` feeds each
sample of a cell, in the task's sample order, with its prediction and the prediction on the
uncompressed image, and asks for the ``TaskScore`` at the end. Such a scorer keeps only what
its rule needs (counts for an accuracy or an F1, an image's pair for MME, the captions for
CIDEr), so scoring a cell of a million answers never holds them all. A task without
``scorer()`` keeps working: :func:`scorer_for` wraps its whole-set ``score`` (then the cell's
answers are collected first, as before).

:class:`Tally` is the scorer most rules need: each sample becomes a small hashable *record*
(what the rule reads of it: a category, a parsed label, a group key...) and the rule's
``finish`` turns the count of each distinct record into the score. Computing the whole-set
``score`` through the same tally (:func:`score_whole`) keeps one piece of code per rule, so a
streamed score and a whole-set one are the same numbers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Hashable, Mapping, Sequence

from ..types import Sample, TaskScore

__all__ = ["Tally", "WholeSet", "scorer_for", "score_whole"]


class Tally:
    """A scorer that counts records: ``record(sample, prediction, reference)`` -> a hashable
    (None where the sample has no prediction; ``reference``: the uncompressed image's), and
    ``finish(counts)`` -> the TaskScore, ``counts`` a ``Counter`` of records in first-seen
    order. Memory grows with the number of *distinct* records only.

    ``values`` (optional): ``values(records, counts)`` -> the score's value for every row of
    ``counts`` (a numpy array, one row per set of samples, one column per record of the list
    ``records``), the same numbers ``finish(...).value`` gives row by row. ``cvb report`` scores
    a cell's 1000 resamples with it in one call (e.g. POPE's F1); it checks it against
    ``finish`` first and, without it, calls ``finish`` once per resample."""

    def __init__(self, record: Callable[[Sample, str | None, str | None], Hashable],
                 finish: Callable[[Counter], TaskScore],
                 values: Callable[[list, Any], Any] | None = None):
        self._record, self._finish = record, finish
        self.values = values
        self.counts: Counter = Counter()

    def record(self, sample: Sample, prediction: str | None, reference: str | None = None) -> Hashable:
        """The record ``add`` counts for this sample (``cvb report`` resamples these counts)."""
        return self._record(sample, prediction, reference)

    def add(self, sample: Sample, prediction: str | None, reference: str | None = None) -> None:
        self.counts[self.record(sample, prediction, reference)] += 1

    def result(self) -> TaskScore:
        return self._finish(self.counts)


class WholeSet:
    """The scorer of a task that only has ``score(samples, predictions, reference)``: collects
    the cell (every sample, its prediction) and calls ``score`` at the end.

    ``samples``: the cell's samples, already kept elsewhere (``cvb run`` gives its spool on disk,
    every sample of the task in order, as ``add`` is then fed them): for a cell of more than
    ``IN_MEMORY`` samples only the texts are collected, in temporary files (``cvb.text_spool``),
    and ``score`` gets read-only views, so a cell of 100k answers is scored in flat memory (at
    some CPU: each sample is read back from the spool). Otherwise lists and dicts, as before."""

    #: cells up to this many samples are collected in memory (a few MB; no CPU spent on reading
    #: them back), larger ones in temporary files
    IN_MEMORY = 10_000

    def __init__(self, task: Any, samples: Sequence[Sample] | None = None):
        self.task = task
        self._kept: list[Sample] | None = None  # the samples, when this collects them
        self._put: Callable[[str, str], None]
        self._put_reference: Callable[[str, str], None]
        self._spools: tuple[Any, ...] = ()  # temporary files to close after scoring
        self.samples: Sequence[Sample]
        self.predictions: Mapping[str, str]
        self.reference: Mapping[str, str]
        if samples is not None and len(samples) > self.IN_MEMORY:
            from ..text_spool import SpooledTexts

            predictions, reference = SpooledTexts(), SpooledTexts()
            self.samples, self.predictions, self.reference = samples, predictions, reference
            self._put, self._put_reference = predictions.put, reference.put
            self._spools = (predictions, reference)
        else:
            kept: list[Sample] = []
            in_memory: dict[str, str] = {}
            in_memory_reference: dict[str, str] = {}
            self.samples, self.predictions, self.reference = kept, in_memory, in_memory_reference
            self._kept = kept
            self._put, self._put_reference = in_memory.__setitem__, in_memory_reference.__setitem__

    def add(self, sample: Sample, prediction: str | None, reference: str | None = None) -> None:
        if self._kept is not None:
            self._kept.append(sample)
        if prediction is not None:
            self._put(sample.id, prediction)
        if reference is not None:
            self._put_reference(sample.id, reference)

    def result(self) -> TaskScore:
        try:
            return self.task.score(self.samples, self.predictions, reference=self.reference)
        finally:
            for spool in self._spools:
                spool.close()


def scorer_for(task: Any, samples: Sequence[Sample] | None = None) -> Any:
    """The task's own streamed scorer (``task.scorer()``), or a :class:`WholeSet` around its
    ``score`` for a task without one (``samples``: see :class:`WholeSet`)."""
    make = getattr(task, "scorer", None)
    return make() if callable(make) else WholeSet(task, samples)


def score_whole(scorer: Any, samples: Sequence[Sample], predictions: Mapping[str, str],
                reference: Mapping[str, str] | None = None) -> TaskScore:
    """A whole-set score through a streamed scorer: what a task's ``score`` returns when its
    rule is written as a scorer (one piece of code for both ways of scoring)."""
    ref = reference or {}
    for s in samples:
        scorer.add(s, predictions.get(s.id), ref.get(s.id))
    return scorer.result()
