"""``check_task``: the rules every cvb task must keep (see docs/conformance.md).

Samples come in a fixed order (two listings agree) and ``limit`` takes a prefix; sample ids
are unique, kinds valid, choice questions have options, images load as RGB; ``judge`` is in
[0, 1] or None; ``score`` returns a ``TaskScore``, is a pure function of the predictions (the
same number twice, whatever the order of the mapping, inputs left untouched) and tells right
answers from wrong ones; an optional streamed ``scorer()`` gives ``score``'s numbers when fed
one sample at a time. ``reference`` (the predictions on uncompressed images, for tasks that
score consistency) is given as the ground-truth answers; tasks that score against ground
truth ignore it.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any, Mapping

from .results import Report
from .spec_agreement import spec_agreement
from .subjects import start

DEFAULT_SAMPLES = 24


def check_task(task: Any, *, limit: int = DEFAULT_SAMPLES, options: Mapping[str, Any] | None = None,
               registry=None) -> Report:
    """Run every task rule on ``task`` (a registered reference such as ``"sample"`` or
    ``"pope:/data/POPE"``, or an object) over its first ``limit`` samples."""
    from ..types import AnswerKind, Sample, TaskScore

    report, subj = start("task", task, options, registry)
    if subj is None:
        return report
    t = subj.obj
    with report.rule("name and version") as r:
        assert isinstance(t.name, str) and t.name, "name must be a non-empty string"
        assert isinstance(t.version, str) and t.version.strip(), "version must be a non-empty string"
        r.detail = f"name={t.name} version={t.version}"
    spec_agreement(report, subj)
    samples: list = []
    with report.rule("samples come in a fixed order; limit takes a prefix") as r:
        first = list(t.samples(limit=limit))
        again = list(t.samples(limit=limit))
        assert first, "samples(limit) yielded nothing"
        assert [_key(s) for s in first] == [_key(s) for s in again], \
            "two listings differ: samples are not deterministic"
        unlimited = list(itertools.islice(t.samples(), len(first)))
        assert [s.id for s in unlimited] == [s.id for s in first], (
            f"samples(limit={limit}) is not a prefix of samples(): {[s.id for s in first[:3]]} vs "
            f"{[s.id for s in unlimited[:3]]}")
        half = list(t.samples(limit=max(1, len(first) // 2)))
        assert [s.id for s in half] == [s.id for s in first[:len(half)]], \
            "a smaller limit is not a prefix of a larger one"
        samples = first
        r.detail = f"{len(first)} samples"
    if not samples:
        return report
    with report.rule("samples are well formed") as r:
        assert all(isinstance(s, Sample) for s in samples), "samples must be cvb.types.Sample"
        ids = [s.id for s in samples]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        assert not dup, f"duplicate sample ids: {dup[:5]}"
        for s in samples:
            assert isinstance(s.kind, AnswerKind), f"sample {s.id}: kind {s.kind!r} is not an AnswerKind"
            if s.kind == AnswerKind.CHOICE:
                assert len(s.options) >= 2, f"sample {s.id}: a choice question needs options"
        kinds = sorted({s.kind.value for s in samples})
        r.detail = f"ids unique; kinds {', '.join(kinds)}"
    with report.rule("images load as RGB") as r:
        keys: dict[str, Any] = {}
        for s in samples:
            keys.setdefault(s.image.key, s)
        for key, s in list(keys.items())[:8]:
            image = s.image.load()
            assert image.mode == "RGB" and image.size[0] > 0 and image.size[1] > 0, \
                f"image {key}: {image.mode} {image.size}"
        r.detail = f"{min(len(keys), 8)} of {len(keys)} distinct images loaded"
    right = {s.id: _right_answer(s) for s in samples}
    wrong = {s.id: "zzz qqq" for s in samples}
    with report.rule("judge() is in [0, 1] or None") as r:
        values = [t.judge(s, right[s.id]) for s in samples]
        bad = [v for v in values if v is not None and not (isinstance(v, (int, float)) and 0 <= v <= 1)]
        assert not bad, f"judge returned {bad[:3]}"
        r.detail = f"{sum(v is None for v in values)} None, mean {_mean(values)}"
    with report.rule("score() is a pure function of the predictions") as r:
        kept_samples, kept_right = copy.deepcopy(samples), dict(right)
        one = t.score(samples, right, reference=dict(right))
        assert right == kept_right and [_key(s) for s in samples] == [_key(s) for s in kept_samples], \
            "score() changed its inputs"
        assert isinstance(one, TaskScore), f"score returned {type(one).__name__}, not cvb.types.TaskScore"
        assert isinstance(one.value, (int, float)) and not math.isnan(one.value), f"score value {one.value!r}"
        assert isinstance(one.metric, str) and one.metric, "TaskScore.metric must name the headline number"
        two = t.score(list(samples), dict(reversed(list(right.items()))), reference=dict(right))
        assert (one.value, dict(one.details)) == (two.value, dict(two.details)), \
            f"scoring the same predictions twice gave {one.value} and {two.value}"
        r.detail = f"{one.metric} = {one.value:g} on the ground truth"
    with report.rule("score() tells right answers from wrong ones") as r:
        good = t.score(samples, right, reference=dict(right))
        bad_score = t.score(samples, wrong, reference=dict(right))
        better = good.value > bad_score.value if good.higher_is_better else good.value < bad_score.value
        assert better, (
            f"the ground truth scores {good.value:g} and nonsense answers {bad_score.value:g} "
            f"({'higher' if good.higher_is_better else 'lower'} is better)")
        r.detail = f"ground truth {good.value:g}, nonsense {bad_score.value:g}"
    _check_scorer(t, samples, right, wrong, report)
    return report


def _check_scorer(t: Any, samples, right: Mapping[str, str], wrong: Mapping[str, str], report: Report) -> None:
    """The optional streamed scorer (``Task.scorer()``) gives ``score()``'s numbers when fed one
    sample at a time, as ``cvb run`` feeds it (missing predictions as None)."""
    rule = "scorer() gives score()'s numbers one sample at a time"
    if not callable(getattr(t, "scorer", None)):
        report.skip(rule, "no scorer(): cvb run scores this task with score() on each whole cell")
        return
    with report.rule(rule) as r:
        from ..protocols import Scorer

        # a mixed cell: right, wrong and missing answers
        mixed = {s.id: (right if i % 3 == 0 else wrong)[s.id] for i, s in enumerate(samples) if i % 3 != 2}
        for predictions in (right, mixed):
            scorer = t.scorer()
            assert isinstance(scorer, Scorer), f"scorer() returned {type(scorer).__name__}, without add() and result()"
            for s in samples:
                scorer.add(s, predictions.get(s.id), right.get(s.id))
            got, want = scorer.result(), t.score(samples, predictions, reference=dict(right))
            assert (got.value, got.metric, dict(got.details)) == (want.value, want.metric, dict(want.details)), \
                f"streamed {got.metric} = {got.value} {dict(got.details)}, score() {want.metric} = {want.value}"
        r.detail = "right and mixed answers: the same value and details"


def _key(sample) -> tuple:
    return (sample.id, sample.question, sample.kind, repr(sample.answer), tuple(sample.options), sample.image.key)


def _right_answer(sample) -> str:
    """The ground truth as a model would say it (the option letter for choice questions)."""
    from ..types import AnswerKind

    answer = sample.answer
    if isinstance(answer, (list, tuple)):
        answer = answer[0] if answer else ""
    answer = "" if answer is None else str(answer)
    if sample.kind == AnswerKind.CHOICE and answer in sample.options:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[sample.options.index(answer)]
    return answer


def _mean(values) -> str:
    nums = [v for v in values if v is not None]
    return f"{sum(nums) / len(nums):.3f}" if nums else "n/a"
