"""SEED-Bench-IMG: 4-way multiple choice on images, accuracy.

Data: ``lmms-lab/SEED-Bench`` split ``test`` (19k questions); the image part is the rows with
``data_type == "image"`` (14,233 questions, question types 1-9). ``image`` is a list of images
(one for image questions); ``data_id`` names the image file and keys it.
"""

from __future__ import annotations

from typing import Iterator


from cvb.types import AnswerKind, Sample

from .base import HubTask, spread
from .choice import ChoiceScorer, judge_choice

#: SEED-Bench's evaluation dimensions for images (question_type_id 1-9).
SEED_IMAGE_TYPES = {
    1: "Scene Understanding", 2: "Instance Identity", 3: "Instance Attributes",
    4: "Instance Location", 5: "Instances Counting", 6: "Spatial Relation",
    7: "Instance Interaction", 8: "Visual Reasoning", 9: "Text Understanding",
}


def _image_key(row) -> str:
    """SEED-Bench names each picture by its file (``data_id``); questions share pictures."""
    return str(row.get("data_id") or f"question-{row['question_id']}")


class SeedBenchTask(HubTask):
    name = "seedbench"
    version = "1"
    dataset_id = "lmms-lab/SEED-Bench"
    hub_split = "test"

    def required_columns(self) -> tuple[str, ...]:
        return ("question_id", "question", "answer", "choice_a", "choice_b", "choice_c", "choice_d",
                "data_type", "image")

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows()
        keep = [i for i, r in enumerate(rows) if str(r["data_type"]).lower() == "image"]
        chosen = spread([[i] for i in keep], limit)
        return (self._sample(rows[i], src)
                for i, src in self.image_sources(chosen, lambda i: _image_key(rows[i]), first_image=True))

    def _sample(self, r, src) -> Sample:
        qtype = r.get("question_type_id")
        try:
            category = SEED_IMAGE_TYPES.get(int(qtype), str(qtype))
        except (TypeError, ValueError):
            category = str(qtype or "")
        return self.ask(Sample(
            id=str(r["question_id"]),
            image=src,
            question=str(r["question"]).strip(),
            kind=AnswerKind.CHOICE,
            answer=str(r["answer"]).strip().upper(),
            options=tuple(str(r[f"choice_{c}"]) for c in "abcd"),
            category=category,
        ), r)

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return judge_choice(sample, prediction)

    def cvb_scorer(self) -> ChoiceScorer:
        return ChoiceScorer()
