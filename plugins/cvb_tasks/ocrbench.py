"""OCRBench (v1): 1000 OCR questions in 10 categories, scored by answer-in-prediction, /1000.

Data: ``echo840/OCRBench`` split ``test`` (the copy lmms-eval uses): columns ``dataset``
(source set, e.g. ``HME100k``), ``question``, ``question_type`` (the category), ``answer``
(a list of accepted strings), ``image``. The headline is the number of right answers scaled
to 1000 questions, so a ``--limit`` subset reads on the same scale as the full benchmark.
"""

from __future__ import annotations

from typing import Iterator

from collections import Counter

from cvb.scoring.tally import Tally
from .rules import OCRBENCH_CATEGORIES, OCRBENCH_RECOGNITION, ocrbench_match
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, spread, text_of


class OcrBenchTask(HubTask):
    name = "ocrbench"
    version = "1"
    dataset_id = "echo840/OCRBench"
    hub_split = "test"

    def required_columns(self) -> tuple[str, ...]:
        return ("dataset", "question", "question_type", "answer", "image")

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows()
        chosen = spread([[i] for i in range(len(rows))], limit)
        # no image id in the data: each image is named by a hash of its bytes
        return (self._sample(i, rows[i], src) for i, src in self.image_sources(chosen, lambda i: None))

    def _sample(self, i: int, r, src) -> Sample:
        answers = r["answer"]
        answers = [str(a) for a in answers] if isinstance(answers, (list, tuple)) else [str(answers)]
        return self.ask(Sample(
            id=f"ocrbench-{i}",
            image=src,
            question=str(r["question"]).strip(),
            kind=AnswerKind.OPEN,
            answer=answers,
            category=str(r["question_type"]),
            meta={"source": str(r["dataset"])},
        ), r)

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return 1.0 if ocrbench_match(prediction, sample.answer, sample.meta.get("source")) else 0.0

    def cvb_scorer(self) -> Tally:
        """Keeps a count per (category, right, missing)."""
        return Tally(lambda s, pred, _ref: (s.category, int(self.cvb_judge(s, text_of(pred))), pred is None),
                     _ocrbench_finish)


def _ocrbench_finish(counts: Counter) -> TaskScore:
    right: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    for (cat, hit, _), k in counts.items():
        asked[cat] += k
        right[cat] += k * hit
    n = sum(asked.values())
    total = sum(right.values())
    details: dict[str, float] = {"correct": float(total), "questions": float(n),
                                 "recognition": float(sum(right[c] for c in OCRBENCH_RECOGNITION)),
                                 "missing": float(sum(k for (*_, miss), k in counts.items() if miss))}
    for cat in sorted(asked, key=lambda c: (OCRBENCH_CATEGORIES.index(c) if c in OCRBENCH_CATEGORIES else 99, c)):
        details[f"correct/{cat}"] = float(right[cat])
        details[f"questions/{cat}"] = float(asked[cat])
    value = 1000.0 * total / n if n else 0.0
    return TaskScore(value=value, metric="score/1000", details=details, accuracy_scale=1000.0)
