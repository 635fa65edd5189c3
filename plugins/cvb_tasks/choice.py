"""Multiple-choice scoring shared by SEED-Bench and MMBench, circular evaluation included."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from cvb.scoring import extract_choice, letter_of
from cvb.types import Sample, TaskScore

from .base import text_of


def judge_choice(sample: Sample, prediction: str) -> float:
    return 1.0 if extract_choice(prediction, sample.options) == sample.answer else 0.0


def rotations(options: Sequence[str], answer: str) -> list[tuple[tuple[str, ...], str]]:
    """Every cyclic shift of the options with the answer letter moved along (shift 0 first).

    Shift r puts original option r first: for A-D with answer B, shift 1 gives B,C,D,A and
    the answer becomes A. MMBench's CircularEval asks all of them.
    """
    n = len(options)
    ans = ord(answer) - ord("A")
    out = []
    for r in range(n):
        rotated = tuple(options[(i + r) % n] for i in range(n))
        out.append((rotated, letter_of((ans - r) % n)))
    return out


class ChoiceScorer:
    """Accuracy x100 (per category in the details), streamed: a count per (category, right)
    or, with ``circular``, one entry per question.

    With ``circular`` the unit is a question (``meta["group"]``): right only if every one of its
    rotations is right. Unparsed answers (no option letter or text found) count wrong.
    """

    def __init__(self, circular: bool = False):
        self.circular = circular
        self.unparsed = self.missing = self.samples = 0
        #: unit -> [all right so far, category]: a question's rotations (circular), else per
        #: (category, right) a count under the key (category, right)
        self.units: dict = {}

    def add(self, sample: Sample, prediction: str | None, reference: str | None = None) -> None:
        letter = extract_choice(text_of(prediction), sample.options)
        ok = letter == sample.answer
        self.unparsed += letter is None
        self.missing += prediction is None
        self.samples += 1
        if self.circular:
            unit = self.units.setdefault(str(sample.meta.get("group", sample.id)), [True, ""])
            unit[0] = unit[0] and ok
            unit[1] = sample.category
        else:
            key = (sample.category, ok)
            self.units[key] = self.units.get(key, 0) + 1

    def result(self) -> TaskScore:
        per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category -> [right, questions]
        if self.circular:
            for ok, cat in self.units.values():
                per_cat[cat][0] += ok
                per_cat[cat][1] += 1
        else:
            for (cat, ok), k in self.units.items():
                per_cat[cat][0] += k * ok
                per_cat[cat][1] += k
        n = sum(q for _, q in per_cat.values())
        right = sum(r for r, _ in per_cat.values())
        acc = 100.0 * right / n if n else 0.0
        details: dict[str, float] = {"acc": acc, "questions": float(n), "samples": float(self.samples),
                                     "unparsed": float(self.unparsed), "missing": float(self.missing)}
        for cat in sorted(per_cat):
            if cat:
                details[f"acc/{cat}"] = 100.0 * per_cat[cat][0] / per_cat[cat][1]
        return TaskScore(value=acc, metric="circular_acc" if self.circular else "acc", details=details,
                         accuracy_scale=None if self.circular else 100.0)
