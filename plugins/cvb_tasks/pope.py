"""POPE (object hallucination, yes/no): F1 of "yes" answers, as lmms-eval's ``pope`` task.

Data: ``lmms-lab/POPE`` (default config, split ``test``): 9000 questions on 500 COCO val2014
images, 3000 per sampling strategy in the ``category`` column (random / popular / adversarial).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterator

from cvb.scoring.tally import Tally
from cvb.scoring import parse_yes_no
from .rules import pope_counts_metrics, pope_f1_many
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, spread, text_of

POPE_SPLITS = ("all", "random", "popular", "adversarial")


class PopeTask(HubTask):
    name = "pope"
    version = "1"
    dataset_id = "lmms-lab/POPE"
    hub_split = "test"
    splits = POPE_SPLITS
    default_split = "all"

    def required_columns(self) -> tuple[str, ...]:
        return ("question_id", "question", "answer", "category", "image_source", "image")

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows()
        keep = [i for i, r in enumerate(rows) if self.split == "all" or r["category"] == self.split]
        chosen = spread([[i] for i in keep], limit)
        return (self._sample(rows[i], src) for i, src in self.image_sources(chosen, lambda i: _image_key(rows[i])))

    def _sample(self, r, src) -> Sample:
        return self.ask(Sample(
            id=f"{r['category']}-{r['question_id']}",
            image=src,
            question=str(r["question"]).strip(),
            kind=AnswerKind.YESNO,
            answer=str(r["answer"]).strip().lower(),
            category=str(r["category"]),
        ), r)

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return 1.0 if parse_yes_no(prediction) == sample.answer else 0.0

    def cvb_scorer(self) -> Tally:
        return pope_scorer()


def _image_key(row) -> str:
    """POPE names each picture by its COCO file name (``image_source``)."""
    return str(row["image_source"])


def pope_scorer() -> Tally:
    """Headline F1 x100 over all samples; the same numbers per POPE category in the details.
    Keeps a count per (category, parsed answer, truth)."""
    return Tally(lambda s, pred, _ref: (s.category, parse_yes_no(text_of(pred)), str(s.answer), pred is None),
                 _pope_finish, _pope_values)


def _pope_values(records: list, counts):
    """``_pope_finish``'s value (F1 x100) of every row of counts at once (``cvb report``)."""
    return 100.0 * pope_f1_many([(parsed, gt) for _cat, parsed, gt, _miss in records], counts)


def _pope_finish(counts: Counter) -> TaskScore:
    overall: Counter = Counter()
    by_cat: dict[str, Counter] = defaultdict(Counter)
    unparsed = missing = questions = 0
    for (cat, parsed, gt, miss), k in counts.items():
        overall[(parsed, gt)] += k
        by_cat[cat][(parsed, gt)] += k
        unparsed += k * (parsed is None)
        missing += k * miss
        questions += k
    details = {k: 100.0 * v for k, v in pope_counts_metrics(overall).items()}
    details["unparsed"] = float(unparsed)
    details["missing"] = float(missing)
    details["questions"] = float(questions)
    categories = sorted(by_cat)
    if len(categories) > 1:
        for cat in categories:
            for name, v in pope_counts_metrics(by_cat[cat]).items():
                details[f"{name}/{cat}"] = 100.0 * v
    return TaskScore(value=details["f1"], metric="f1", details=details)
