"""MME (14 yes/no subtasks, two questions per image): acc + acc+ per subtask, summed.

Data: ``lmms-lab/MME`` split ``test`` (2374 questions on 1187 images). ``question_id`` is the
image's file name (``code_reasoning/0020.png``), shared by its two questions, so it is the image
key and the pairing key; ``--limit`` keeps pairs whole so acc+ stays meaningful.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from cvb.scoring import MME_GROUPS, mme_scores, parse_yes_no
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, missing_count, prediction_for, spread

#: MME questions end with this; lmms-eval swaps it for its own suffix, so does cvb's prompt.
MME_SUFFIX = " Please answer yes or no."


class MmeTask(HubTask):
    name = "mme"
    version = "1"
    dataset_id = "lmms-lab/MME"
    hub_split = "test"

    def required_columns(self) -> tuple[str, ...]:
        return ("question_id", "question", "answer", "category", "image")

    def samples(self, limit: int | None = None) -> list[Sample]:
        rows = self.meta_rows()
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(str(r["question_id"]), []).append(i)
        chosen = spread(list(groups.values()), limit)
        sources = self.shared_sources(rows, chosen, lambda r: str(r["question_id"]))
        out = []
        for i in chosen:
            r = rows[i]
            key = str(r["question_id"])
            nth = groups[key].index(i)
            question = str(r["question"]).strip()
            if question.endswith(MME_SUFFIX.strip()):
                question = question[: -len(MME_SUFFIX.strip())].rstrip()
            out.append(self.ask(Sample(
                id=f"{key}#{nth}",
                image=sources[key],
                question=question,
                kind=AnswerKind.YESNO,
                answer=str(r["answer"]).strip().lower().rstrip("."),
                category=str(r["category"]),
                meta={"pair": key},
            ), r))
        return out

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return 1.0 if parse_yes_no(prediction) == sample.answer else 0.0

    def cvb_score(self, samples: Sequence[Sample], predictions: Mapping[str, str]) -> TaskScore:
        records = [{"image": s.meta.get("pair", s.image.key), "category": s.category,
                    "correct": self.cvb_judge(s, prediction_for(s, predictions)) == 1.0} for s in samples]
        result = mme_scores(records)
        details: dict[str, float] = {"perception": result["perception"], "cognition": result["cognition"],
                                     "missing": missing_count(samples, predictions),
                                     "questions": float(len(samples))}
        for cat, m in result["categories"].items():
            details[f"score/{cat}"] = m["score"]
            details[f"acc/{cat}"] = m["acc"]
            details[f"acc_plus/{cat}"] = m["acc_plus"]
        return TaskScore(value=result["total"], metric="total", details=details)


MME_CATEGORIES = MME_GROUPS["perception"] + MME_GROUPS["cognition"]
