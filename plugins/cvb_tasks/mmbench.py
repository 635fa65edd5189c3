"""MMBench (English, dev): multiple choice with 2-4 options, accuracy; CircularEval optional.

Data: ``lmms-lab/MMBench`` config ``en`` split ``dev``. The hub copy (like VLMEvalKit's TSV)
also holds MMBench's own rotated copies of each question at ``index + k * 1_000_000``; cvb keeps
only the originals (index < 1e6) and, with ``circular=true``, builds the rotations itself, so
the same code serves copies that have them and copies that do not.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from cvb.options import as_bool
from cvb.types import AnswerKind, Sample, TaskScore

from .base import HubTask, image_source, spread
from .choice import choice_score, judge_choice, rotations

CIRCULAR_OFFSET = 1_000_000


def _present(value) -> bool:
    return value is not None and str(value).strip() not in ("", "nan", "None")


class MmbenchTask(HubTask):
    name = "mmbench"
    version = "1"
    dataset_id = "lmms-lab/MMBench"
    config = "en"
    hub_split = "dev"

    def __init__(self, arg: str | None = None, *, path: str | None = None, split: str | None = None,
                 circular: bool | str = False):
        super().__init__(arg, path=path, split=split)
        self.circular = as_bool(self.name, "circular", circular)

    def required_columns(self) -> tuple[str, ...]:
        return ("index", "question", "answer", "A", "B", "image")

    def samples(self, limit: int | None = None) -> list[Sample]:
        rows = self.meta_rows()
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
        cells = self.image_cells(chosen)
        out = []
        for i, cell in zip(chosen, cells):
            r = rows[i]
            idx = str(r["index"])
            src = image_source(f"mmbench-{idx}", cell)
            options = self._options(r)
            answer = str(r["answer"]).strip().upper()
            question = str(r["question"]).strip()
            if _present(r.get("hint")):
                question = f"{str(r['hint']).strip()}\n{question}"
            variants = rotations(options, answer) if self.circular else [(tuple(options), answer)]
            for k, (opts, ans) in enumerate(variants):
                out.append(Sample(
                    id=idx if k == 0 else f"{idx}@{k}",
                    image=src,
                    question=question,
                    kind=AnswerKind.CHOICE,
                    answer=ans,
                    options=opts,
                    category=str(r.get("category") or ""),
                    meta={"group": idx, "rotation": k, "max_new_tokens": 16},
                ))
        return out

    @staticmethod
    def _options(row: Mapping) -> list[str]:
        """Options A, B, ... up to the first missing one (MMBench has 2 to 4)."""
        opts = []
        for letter in "ABCD":
            if letter not in row or not _present(row[letter]):
                break
            opts.append(str(row[letter]).strip())
        return opts

    def judge(self, sample: Sample, prediction: str) -> float:
        return judge_choice(sample, prediction)

    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str],
              reference: Mapping[str, str] | None = None) -> TaskScore:
        return choice_score(samples, predictions, circular=self.circular)
