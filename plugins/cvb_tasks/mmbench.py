"""MMBench (English, dev): multiple choice with 2-4 options, accuracy; CircularEval optional.

Data: ``lmms-lab/MMBench`` config ``en`` split ``dev``. The hub copy (like VLMEvalKit's TSV)
also holds MMBench's own rotated copies of each question at ``index + k * 1_000_000``; cvb keeps
only the originals (index < 1e6) and, with ``circular=true``, builds the rotations itself, so
the same code serves copies that have them and copies that do not. The peer protocols
(``protocol=lmms-eval`` / ``vlmevalkit``) keep every row and evaluate circularly from the copies,
as those toolkits do.
"""

from __future__ import annotations

import math
from typing import Iterator, Mapping, Sequence

from cvb.errors import UsageError
from cvb.options import as_bool
from cvb.types import AnswerKind, Sample

from .base import HubTask, spread
from .choice import ChoiceScorer, judge_choice, rotations

CIRCULAR_OFFSET = 1_000_000


def _present(value) -> bool:
    """A cell that holds an option (or hint): not null, NaN, empty or "nan". The text "None" IS
    an option (an MMBench answer can be literally "None"); it must not end the option list."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip() not in ("", "nan")


class MmbenchTask(HubTask):
    name = "mmbench"
    version = "1"
    dataset_id = "lmms-lab/MMBench"
    config = "en"
    hub_split = "dev"

    def __init__(self, arg: str | None = None, *, path: str | None = None, split: str | None = None,
                 circular: bool | str = False, protocol: str = "cvb", judge: str | None = None):
        super().__init__(arg, path=path, split=split, protocol=protocol, judge=judge)
        self.circular = as_bool(self.name, "circular", circular)
        if self.circular and self.rules is not None:
            raise UsageError(f"mmbench: circular=true builds cvb's own rotations; protocol={self.protocol} "
                             "evaluates circularly from the rotated copies in the data (index + k x 1e6) "
                             "as that peer does: leave circular out")

    def required_columns(self) -> tuple[str, ...]:
        return ("index", "question", "answer", "A", "B", "image")

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = self.meta_rows()
        if self.rules is not None:
            return self._peer_samples(rows, limit)
        originals = []
        for i, r in enumerate(rows):
            try:
                if int(r["index"]) >= CIRCULAR_OFFSET:
                    continue
            except (TypeError, ValueError):
                pass
            originals.append(i)
        # every question expands to its rotations (1 sample without circular)
        n_opts = {i: len(self._options(rows[i])) for i in originals}
        width = {i: (n_opts[i] if self.circular else 1) for i in originals}
        groups, start = [], 0
        for i in originals:  # group j = the rotation slots of question j (virtual indices)
            groups.append(list(range(start, start + width[i])))
            start += width[i]
        chosen_slots = set(spread(groups, limit))
        chosen = [q for q, g in zip(originals, groups) if g[0] in chosen_slots]
        return (s for i, src in self.image_sources(chosen, lambda i: f"mmbench-{rows[i]['index']}")
                for s in self._rotated(rows[i], src))

    def _rotated(self, r: Mapping, src) -> list[Sample]:
        """One question's samples: its rotations with ``circular``, else itself."""
        idx = str(r["index"])
        options = self._options(r)
        answer = str(r["answer"]).strip().upper()
        question = str(r["question"]).strip()
        if _present(r.get("hint")):
            question = f"{str(r['hint']).strip()}\n{question}"
        variants = rotations(options, answer) if self.circular else [(tuple(options), answer)]
        return [self.ask(Sample(
            id=idx if k == 0 else f"{idx}@{k}",
            image=src,
            question=question,
            kind=AnswerKind.CHOICE,
            answer=ans,
            options=opts,
            category=str(r.get("category") or ""),
            meta={"group": idx, "rotation": k},
        ), r) for k, (opts, ans) in enumerate(variants)]

    def _peer_samples(self, rows: Sequence[dict], limit: int | None) -> Iterator[Sample]:
        """Every row as the data has it, its rotated copies (index + k x 1e6) included, kept
        whole with their question: lmms-eval and VLMEvalKit evaluate circularly from these."""
        by_question: dict[int, list[int]] = {}
        for i, r in enumerate(rows):
            by_question.setdefault(int(r["index"]) % CIRCULAR_OFFSET, []).append(i)
        chosen = spread(list(by_question.values()), limit)
        return (self._peer_sample(rows[i], src)
                for i, src in self.image_sources(chosen, lambda i: f"mmbench-{int(rows[i]['index'])}"))

    def _peer_sample(self, r: Mapping, src) -> Sample:
        idx = int(r["index"])
        return self.ask(Sample(
            id=str(idx),
            image=src,
            question=str(r["question"]),
            kind=AnswerKind.CHOICE,
            answer=str(r["answer"]).strip().upper(),
            options=tuple(self._options(r)),
            category=str(r.get("category") or ""),
            meta={"group": str(idx % CIRCULAR_OFFSET), "rotation": idx // CIRCULAR_OFFSET},
        ), r)

    @staticmethod
    def _options(row: Mapping) -> list[str]:
        """Options A, B, ... up to the first missing one (MMBench has 2 to 4)."""
        opts = []
        for letter in "ABCD":
            if letter not in row or not _present(row[letter]):
                break
            opts.append(str(row[letter]).strip())
        return opts

    def cvb_judge(self, sample: Sample, prediction: str) -> float:
        return judge_choice(sample, prediction)

    def cvb_scorer(self) -> ChoiceScorer:
        return ChoiceScorer(circular=self.circular)
