"""GQA testdev-balanced: short open answers, normalised exact-match accuracy.

Data: ``lmms-lab/GQA`` in two configs, as lmms-eval loads it: ``testdev_balanced_instructions``
(12,578 questions: ``id``, ``imageId``, ``question``, ``answer``, ...) and
``testdev_balanced_images`` (398 images: ``id``, ``image``), both split ``testdev``. A local
copy is a directory holding both configs in the hub layout (or as save_to_disk directories).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator, Mapping

from cvb.errors import UsageError
from cvb.scoring.tally import Tally
from .rules import gqa_match
from cvb.types import AnswerKind, Sample, TaskScore

from . import hubdata
from .base import HubTask, check_columns, spread, text_of

INSTRUCTIONS = "testdev_balanced_instructions"
IMAGES = "testdev_balanced_images"


class GqaTask(HubTask):
    name = "gqa"
    version = "1"
    dataset_id = "lmms-lab/GQA"
    config = INSTRUCTIONS
    hub_split = "testdev"

    def required_columns(self) -> tuple[str, ...]:
        return ("id", "imageId", "question", "answer")

    def image_table(self):
        if getattr(self, "_images", None) is None:
            self._images = hubdata.load_split(self.dataset_id, IMAGES, self.hub_split, self.path, self.name)
            check_columns(self._images, ("id", "image"), self.name, f"{self.path or self.dataset_id} ({IMAGES})")
        return self._images

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows(image_columns=())
        chosen = spread([[i] for i in range(len(rows))], limit)
        images = self.image_table()
        row_of = {str(v): j for j, v in enumerate(images.column("id"))}
        absent = [w for w in dict.fromkeys(str(rows[i]["imageId"]) for i in chosen) if w not in row_of]
        if absent:
            raise UsageError(f"gqa: {len(absent)} images missing from {IMAGES}, e.g. {absent[:3]}")
        return (self._sample(rows[i], src) for i, src in self.image_sources(
            chosen, lambda i: str(rows[i]["imageId"]), cell_row=lambda i: row_of[str(rows[i]["imageId"])],
            table=images))

    def _sample(self, r, src) -> Sample:
        return self.ask(Sample(
            id=str(r["id"]),
            image=src,
            question=str(r["question"]).strip(),
            kind=AnswerKind.OPEN,
            answer=str(r["answer"]).strip(),
            category=_category(r),
        ), r)

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return 1.0 if gqa_match(prediction, sample.answer) else 0.0

    def cvb_scorer(self) -> Tally:
        """Keeps a count per (category, right, missing)."""
        return Tally(lambda s, pred, _ref: (s.category, self.cvb_judge(s, text_of(pred)), pred is None), _gqa_finish)


def _gqa_finish(counts: Counter) -> TaskScore:
    n = sum(counts.values())
    acc = 100.0 * sum(k * hit for (_, hit, _), k in counts.items()) / n if n else 0.0
    details: dict[str, float] = {"acc": acc, "questions": float(n),
                                 "missing": float(sum(k for (*_, miss), k in counts.items() if miss))}
    for cat in sorted({cat for cat, *_ in counts if cat}):
        sel = [(hit, k) for (c, hit, _), k in counts.items() if c == cat]
        details[f"acc/{cat}"] = 100.0 * sum(hit * k for hit, k in sel) / sum(k for _, k in sel)
    return TaskScore(value=acc, metric="acc", details=details, accuracy_scale=100.0)


def _category(row: Mapping) -> str:
    """GQA's structural type (query, verify, logical, choose, compare) when present."""
    types = row.get("types")
    if isinstance(types, Mapping) and types.get("structural"):
        return str(types["structural"])
    return ""
