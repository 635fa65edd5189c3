"""POPE (object hallucination, yes/no): F1 of "yes" answers, as lmms-eval's ``pope`` task.

Data: ``lmms-lab/POPE`` (default config, split ``test``): 9000 questions on 500 COCO val2014
images, 3000 per sampling strategy in the ``category`` column (random / popular / adversarial).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from cvb.counted import CountedScore, safe_ratio
from cvb.scoring import _as_label, parse_yes_no, pope_metrics
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, missing_count, prediction_for, spread

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

    def samples(self, limit: int | None = None) -> list[Sample]:
        rows = self.meta_rows()
        keep = [i for i, r in enumerate(rows) if self.split == "all" or r["category"] == self.split]
        chosen = spread([[i] for i in keep], limit)
        sources = self.shared_sources(rows, chosen, _image_key)
        out = []
        for i in chosen:
            r = rows[i]
            out.append(self.ask(Sample(
                id=f"{r['category']}-{r['question_id']}",
                image=sources[_image_key(r)],
                question=str(r["question"]).strip(),
                kind=AnswerKind.YESNO,
                answer=str(r["answer"]).strip().lower(),
                category=str(r["category"]),
            ), r))
        return out

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return 1.0 if parse_yes_no(prediction) == sample.answer else 0.0

    def cvb_score(self, samples: Sequence[Sample], predictions: Mapping[str, str]) -> TaskScore:
        return pope_score(samples, predictions)

    def cvb_score_counts(self, samples: Sequence[Sample], predictions: Mapping[str, str]) -> CountedScore:
        return pope_counts(samples, predictions)


def pope_counts(samples: Sequence[Sample], predictions: Mapping[str, str]) -> CountedScore:
    """``pope_score``'s headline as (true positive, false positive, false negative) per sample."""
    rows = []
    for s in samples:
        pred_yes = parse_yes_no(prediction_for(s, predictions)) == "yes"
        gt_yes = _as_label(str(s.answer)) == "yes"
        rows.append((float(pred_yes and gt_yes), float(pred_yes and not gt_yes), float(gt_yes and not pred_yes)))
    return CountedScore(rows, _f1_percent)


def _f1_percent(totals):
    """100 x F1 of (tp, fp, fn) totals, as ``cvb.scoring.pope_metrics`` computes it."""
    tp, fp, fn = totals[:, 0], totals[:, 1], totals[:, 2]
    precision, recall = safe_ratio(tp, tp + fp), safe_ratio(tp, tp + fn)
    return 100.0 * safe_ratio(2 * precision * recall, precision + recall)


def _image_key(row) -> str:
    """POPE names each picture by its COCO file name (``image_source``)."""
    return str(row["image_source"])


def pope_score(samples: Sequence[Sample], predictions: Mapping[str, str]) -> TaskScore:
    """Headline F1 x100 over all samples; the same numbers per POPE category in the details."""
    parsed = [parse_yes_no(prediction_for(s, predictions)) for s in samples]
    gts = [str(s.answer) for s in samples]
    overall = pope_metrics(parsed, gts)
    details = {k: 100.0 * v for k, v in overall.items()}
    details["unparsed"] = float(sum(p is None for p in parsed))
    details["missing"] = missing_count(samples, predictions)
    details["questions"] = float(len(samples))
    categories = sorted({s.category for s in samples})
    if len(categories) > 1:
        for cat in categories:
            idx = [i for i, s in enumerate(samples) if s.category == cat]
            m = pope_metrics([parsed[i] for i in idx], [gts[i] for i in idx])
            for k, v in m.items():
                details[f"{k}/{cat}"] = 100.0 * v
    return TaskScore(value=details["f1"], metric="f1", details=details)
