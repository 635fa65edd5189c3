"""MME (14 yes/no subtasks, two questions per image): acc + acc+ per subtask, summed.

Data: ``lmms-lab/MME`` split ``test`` (2374 questions on 1187 images). ``question_id`` is the
image's file name (``code_reasoning/0020.png``), shared by its two questions, so it is the image
key and the pairing key; ``--limit`` keeps pairs whole so acc+ stays meaningful.
"""

from __future__ import annotations

from typing import Iterator

from collections import Counter

from cvb.scoring.tally import Tally
from cvb.scoring import parse_yes_no
from .rules import MME_GROUPS, mme_scores, mme_totals_many
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, spread, text_of

#: MME questions end with this; lmms-eval swaps it for its own suffix, so does cvb's prompt.
MME_SUFFIX = " Please answer yes or no."


class MmeTask(HubTask):
    name = "mme"
    version = "1"
    dataset_id = "lmms-lab/MME"
    hub_split = "test"

    def required_columns(self) -> tuple[str, ...]:
        return ("question_id", "question", "answer", "category", "image")

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows()
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(str(r["question_id"]), []).append(i)
        chosen = spread(list(groups.values()), limit)
        return (self._sample(rows[i], src, groups[src.key].index(i))
                for i, src in self.image_sources(chosen, lambda i: str(rows[i]["question_id"])))

    def _sample(self, r, src, nth: int) -> Sample:
        key = str(r["question_id"])
        question = str(r["question"]).strip()
        if question.endswith(MME_SUFFIX.strip()):
            question = question[: -len(MME_SUFFIX.strip())].rstrip()
        return self.ask(Sample(
            id=f"{key}#{nth}",
            image=src,
            question=question,
            kind=AnswerKind.YESNO,
            answer=str(r["answer"]).strip().lower().rstrip("."),
            category=str(r["category"]),
            meta={"pair": key},
        ), r)

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return 1.0 if parse_yes_no(prediction) == sample.answer else 0.0

    def cvb_scorer(self) -> Tally:
        """Keeps a count per (image pair, category, right, missing): an image's pair, no text."""
        return Tally(lambda s, pred, _ref: (s.meta.get("pair", s.image.key), s.category,
                                            self.cvb_judge(s, text_of(pred)) == 1.0, pred is None),
                     _mme_finish, _mme_values)


def _mme_values(records: list, counts):
    """``_mme_finish``'s value (the total) of every row of counts at once (``cvb report``)."""
    return mme_totals_many([(pair, cat, ok) for pair, cat, ok, _miss in records], counts)


def _mme_finish(counts: Counter) -> TaskScore:
    result = mme_scores({"image": pair, "category": cat, "correct": ok}
                        for (pair, cat, ok, _miss), k in counts.items() for _ in range(k))
    details: dict[str, float] = {"perception": result["perception"], "cognition": result["cognition"],
                                 "missing": float(sum(k for (*_, miss), k in counts.items() if miss)),
                                 "questions": float(sum(counts.values()))}
    for cat, m in result["categories"].items():
        details[f"score/{cat}"] = m["score"]
        details[f"acc/{cat}"] = m["acc"]
        details[f"acc_plus/{cat}"] = m["acc_plus"]
    return TaskScore(value=result["total"], metric="total", details=details)


MME_CATEGORIES = MME_GROUPS["perception"] + MME_GROUPS["cognition"]
