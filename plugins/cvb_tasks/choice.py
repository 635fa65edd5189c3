"""Multiple-choice scoring shared by SEED-Bench and MMBench, circular evaluation included."""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

from cvb.scoring import extract_choice, letter_of
from cvb.types import Sample, TaskScore

from .base import missing_count, prediction_for


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


def choice_score(samples: Sequence[Sample], predictions: Mapping[str, str], circular: bool = False) -> TaskScore:
    """Accuracy x100 (per category in the details).

    With ``circular`` the unit is a question (``meta["group"]``): right only if every one of its
    rotations is right. Unparsed answers (no option letter or text found) count wrong.
    """
    unparsed = 0
    correct_by_group: dict[str, bool] = {}
    category_of: dict[str, str] = {}
    for s in samples:
        pred = prediction_for(s, predictions)
        letter = extract_choice(pred, s.options)
        unparsed += letter is None
        group = str(s.meta.get("group", s.id)) if circular else s.id
        correct_by_group[group] = correct_by_group.get(group, True) and letter == s.answer
        category_of[group] = s.category
    n = len(correct_by_group)
    acc = 100.0 * sum(correct_by_group.values()) / n if n else 0.0
    details: dict[str, float] = {"acc": acc, "questions": float(n), "samples": float(len(samples)),
                                 "unparsed": float(unparsed), "missing": missing_count(samples, predictions)}
    per_cat: dict[str, list[bool]] = defaultdict(list)
    for g, ok in correct_by_group.items():
        per_cat[category_of[g]].append(ok)
    for cat in sorted(per_cat):
        if cat:
            details[f"acc/{cat}"] = 100.0 * sum(per_cat[cat]) / len(per_cat[cat])
    return TaskScore(value=acc, metric="circular_acc" if circular else "acc", details=details,
                     accuracy_scale=None if circular else 100.0)
