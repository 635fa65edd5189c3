"""Judging one prediction against ground truth, or against another prediction (consistency).

Both local tasks use these, so "correct" and "the same answer" mean one thing everywhere: the
shared rules of :mod:`cvb.scoring` (yes/no parsing, option-letter extraction, OCRBench substring
match, GQA-style normalised exact match) applied per answer kind.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from cvb.scoring import extract_choice, parse_yes_no, vqa_normalize, words
from cvb_tasks import gqa_match, ocrbench_match
from cvb.types import AnswerKind


#: generation budget per answer kind, handed to the runner as ``Sample.meta["max_new_tokens"]``
#: (the convention of the other built-in tasks): short answers are cut early, captions are not
MAX_NEW_TOKENS = {AnswerKind.YESNO: 16, AnswerKind.CHOICE: 16, AnswerKind.OPEN: 32,
                  AnswerKind.CAPTION: 64}


def is_correct(kind: AnswerKind, prediction: str | None, answer: Any,
               options: Sequence[str] = (), ocr: bool = False) -> bool:
    """Whether ``prediction`` is right. A missing prediction (a failed sample) is wrong.

    ``answer`` is "yes"/"no" for yes/no, the option letter for choice, and a string or a list of
    accepted strings for open questions (OCRBench's substring rule when ``ocr``, else normalised
    exact match).
    """
    if prediction is None:
        return False
    if kind == AnswerKind.YESNO:
        return parse_yes_no(prediction) == answer
    if kind == AnswerKind.CHOICE:
        return extract_choice(prediction, options) == answer
    if ocr:
        return ocrbench_match(prediction, answer)
    return gqa_match(prediction, answer)


def same_answer(kind: AnswerKind, a: str | None, b: str | None, options: Sequence[str] = ()) -> bool:
    """Whether two predictions give the same answer.

    Yes/no and choice compare what the answers *mean* (``"Yes."`` equals ``"yes"``, ``"B"``
    equals ``"(B) cat"``); where either cannot be parsed, and for open text and captions, the
    texts must be equal after normalisation (lowercase, punctuation and extra spaces removed).
    """
    if a is None or b is None:
        return False
    if kind == AnswerKind.YESNO:
        pa, pb = parse_yes_no(a), parse_yes_no(b)
        if pa is not None and pb is not None:
            return pa == pb
    elif kind == AnswerKind.CHOICE:
        pa, pb = extract_choice(a, options), extract_choice(b, options)
        if pa is not None and pb is not None:
            return pa == pb
    return vqa_normalize(a) == vqa_normalize(b)


def word_f1(a: str | None, b: str | None) -> float:
    """SQuAD-style word-overlap F1 of two texts in [0, 1]: graded agreement for free text."""
    if a is None or b is None:
        return 0.0
    wa, wb = words(a), words(b)
    if not wa and not wb:
        return 1.0
    common = sum((Counter(wa) & Counter(wb)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(wa), common / len(wb)
    return 2 * precision * recall / (precision + recall)


def percent(hits: int | float, total: int) -> float:
    return 100.0 * hits / total if total else float("nan")
