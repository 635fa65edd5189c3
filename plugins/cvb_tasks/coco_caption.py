"""COCO captions (2017 val, 5000 images x 5 references): CIDEr-D (headline, x100) and BLEU.

Data: ``lmms-lab/COCO-Caption2017`` split ``val`` (``question_id`` = the image file name,
``answer`` = the list of reference captions), prompted as lmms-eval's ``coco2017_cap_val``.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from collections import Counter

from cvb.errors import UsageError
from cvb.scoring.tally import Tally
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, spread, text_of
from .captioneval import bleu, cider_d

PROMPT = "Provide a one-sentence caption for the provided image."


class CocoCaptionTask(HubTask):
    name = "coco-caption"
    version = "1"
    dataset_id = "lmms-lab/COCO-Caption2017"
    hub_split = "val"

    def __init__(self, arg: str | None = None, *, path: str | None = None, split: str | None = None,
                 ids: str | None = None, protocol: str = "cvb", judge: str | None = None):
        super().__init__(arg, path=path, split=split, protocol=protocol, judge=judge)
        self.ids = read_ids(ids, self.name) if ids else None

    def required_columns(self) -> tuple[str, ...]:
        return ("question_id", "answer", "image")

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows()
        keep: Sequence[int] = range(len(rows))
        if self.ids is not None:  # e.g. the Karpathy test split's file names
            keep = [i for i in keep if str(rows[i]["question_id"]) in self.ids]
            if not keep:
                raise UsageError(f"{self.name}: none of the {len(self.ids)} ids is in the data")
        chosen = spread([[i] for i in keep], limit)
        return (self.ask(Sample(id=src.key, image=src, question=PROMPT, kind=AnswerKind.CAPTION,
                                answer=[str(a) for a in rows[i]["answer"]]), rows[i])
                for i, src in self.image_sources(chosen, lambda i: str(rows[i]["question_id"])))

    def cvb_judge(self, sample: Sample, prediction: str) -> None:
        return None  # CIDEr's document frequencies come from the whole scored set

    def cvb_scorer(self) -> Tally:
        return caption_scorer()


def caption_scorer() -> Tally:
    """CIDEr-D x100 and BLEU over the cell; keeps each sample's caption and references only."""
    return Tally(lambda s, pred, _ref: (s.id, text_of(pred), tuple(s.answer), pred is None), _caption_finish)


def _caption_finish(counts: Counter) -> TaskScore:
    hyps = {sid: hyp for sid, hyp, _, _ in counts}
    refs = {sid: list(r) for sid, _, r, _ in counts}
    cider, _ = cider_d(hyps, refs)
    bleus = bleu(hyps, refs)
    details = {"cider": 100.0 * cider, "questions": float(sum(counts.values())),
               "missing": float(sum(k for (*_, miss), k in counts.items() if miss))}
    for k, b in enumerate(bleus, start=1):
        details[f"bleu{k}"] = 100.0 * b
    return TaskScore(value=details["cider"], metric="cider", details=details)


def read_ids(path: str, task: str) -> set[str]:
    """Image ids (COCO file names, ``question_id``), one per line; blank lines and # comments skipped."""
    try:
        with open(path, encoding="utf-8") as fh:
            ids = {line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#")}
    except OSError as exc:
        raise UsageError(f"{task}: cannot read ids file {path}: {exc.strerror or exc}") from None
    if not ids:
        raise UsageError(f"{task}: ids file {path} lists no ids")
    return ids
