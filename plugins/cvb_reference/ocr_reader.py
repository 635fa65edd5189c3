"""``ocr-reader``: answers text-reading questions with the text RapidOCR reads.

A lightweight *reference model*, not a VLM: it reads, it does not understand the question.

* OPEN / CAPTION: every recognised line, in reading order, joined by spaces. OCRBench-style
  scoring (is the reference a substring of the answer?) then credits it whenever the asked-for
  text was read, whatever part of the text the question wanted.
* YES/NO: "Is the word 'X' written in the image?" -> "yes" when X is found in the text (see
  ``contains``); without a quoted target, a question about text in general ("Is there any
  text?") -> "yes" when anything was read; any other question -> whether its object phrase
  appears in the text (best effort).
* CHOICE: the option best found in the text (highest ``match_score``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Any, Sequence

from cvb.options import as_float, as_int, reject_unknown
from cvb.prompts import option_letters
from cvb.types import Answer, AnswerKind, Query

from . import deps
from .base import ImageCache, answer_each, per_image
from .ocr_engine import (BOX_THRESH, MIN_SCORE, REC_HEIGHT, UPSCALE_BELOW, OcrEngine, TextLine,
                         joined)
from .questions import has_text_cue, object_phrase, quoted_target
from .threads import DEFAULT_THREADS

#: a target counts as written when some stretch of the text matches it this well (1 = exact);
#: 0.8 forgives one wrong character in five, a typical OCR slip on a clean word
FUZZY_MATCH = 0.8
ALGORITHM = "1"


def squash(text: str) -> str:
    """Lowercase letters and digits only: OCR often drops or invents spaces and punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\W_]+", "", text)


def match_score(target: str, text: str) -> float:
    """How well ``target`` occurs in ``text``, in [0, 1]: 1 for an exact (squashed) substring,
    else the best difflib ratio over windows of ``text`` as long as the target (+-1 char)."""
    t, s = squash(target), squash(text)
    if not t:
        return 0.0
    if t in s:
        return 1.0
    if not s:
        return 0.0
    best = 0.0
    n = len(t)
    for size in {max(1, n - 1), n, n + 1}:
        for start in range(0, max(1, len(s) - size + 1)):
            ratio = difflib.SequenceMatcher(None, t, s[start:start + size]).ratio()
            if ratio > best:
                best = ratio
    return best


def contains(text: str, target: str, threshold: float = FUZZY_MATCH) -> bool:
    return match_score(target, text) >= threshold


class OcrReader:
    """VLM-protocol wrapper around ``OcrEngine``; the engine loads on the first answer."""

    name = "ocr-reader"

    def __init__(self, min_score: float | str = MIN_SCORE, match: float | str = FUZZY_MATCH,
                 batch_size: int | str = 8, threads: int | str = DEFAULT_THREADS, **unknown: Any):
        reject_unknown(self.name, unknown, ("min_score", "match", "batch_size", "threads"))
        self.min_score = as_float(self.name, "min_score", min_score, 0.0)
        self.match = as_float(self.name, "match", match, 0.0)
        self.batch_size = as_int(self.name, "batch_size", batch_size, 1)
        self.threads = as_int(self.name, "threads", threads, 0)
        self.version = (f"{self.name}/{ALGORITHM} PP-OCRv4 box_thresh={BOX_THRESH:g} "
                        f"upscale_below={UPSCALE_BELOW} rec_height={REC_HEIGHT} min_score={self.min_score:g} "
                        f"match={self.match:g} "
                        f"[{deps.versions(*deps.OCR_MODULES)}]")
        self.engine = OcrEngine(min_score=self.min_score, threads=self.threads)
        self._lines: ImageCache[list[TextLine]] = ImageCache(64)

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        deps.require(*deps.OCR_MODULES)
        lines = per_image(queries, self._lines, lambda imgs: [self.engine.read(im) for im in imgs])

        def one(i: int, q: Query) -> Answer:
            got = lines[i]
            if isinstance(got, BaseException):
                raise got
            return self.answer_from(q, got)

        return answer_each(queries, one)

    def close(self) -> None:
        self.engine.close()
        self._lines.clear()

    def answer_from(self, query: Query, lines: Sequence[TextLine]) -> Answer:
        text = joined(lines)
        meta: dict[str, Any] = {"model": self.name, "lines": len(lines)}
        if query.kind == AnswerKind.YESNO:
            target = quoted_target(query.prompt)
            if target:
                score = match_score(target, text)
                return Answer(text="yes" if score >= self.match else "no",
                              meta={**meta, "target": target, "match": round(score, 3)})
            if has_text_cue(query.prompt):  # "Is there any text in the image?"
                return Answer(text="yes" if text else "no", meta=meta)
            phrase = object_phrase(query.prompt)
            found = bool(phrase) and contains(text, phrase, self.match)
            return Answer(text="yes" if found else "no", meta={**meta, "target": phrase})
        if query.kind == AnswerKind.CHOICE and query.options:
            scores = [match_score(o, text) for o in query.options]
            best = max(range(len(scores)), key=lambda k: scores[k])
            return Answer(text=option_letters(len(query.options))[best],
                          meta={**meta, "scores": [round(s, 3) for s in scores]})
        return Answer(text=text, meta=meta)
