"""What ``cvb report``'s statistics read of a task x VLM's stored answers, in bulk.

A study's store holds millions of answers; reading them as one Python tuple per answer and
cell cost most of a full report (76 s for 8.5 million). Here SQLite aggregates each task x VLM
in one pass (``Store.answer_summaries``): per cell the number of answers, of empty ones, the
sample ids and the stored 0/1 verdicts as one string each, which numpy compares at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..analysis import stats
from ..run.store import ID_SEP

Key = tuple[str, str]  # (codec, level)


@dataclass(frozen=True)
class StoredCell:
    """One cell's stored answers: counts, sample ids and verdicts (see ``Store.answer_summaries``)."""

    answered: int = 0
    empty: int = 0
    ids_joined: str = ""
    verdicts: str = ""  # "1" / "0" (a failed sample: "0") / "x" (no 0/1 verdict), one per id

    def ids(self) -> list[str]:
        return self.ids_joined.split(ID_SEP) if self.ids_joined else []


def read_section(store, stored_as: str, vlm: str, keys: list[Key]) -> dict[Key, StoredCell]:
    """The stored answers of cells ``keys`` of ``stored_as`` x ``vlm`` (a cell without any: empty)."""
    got = store.answer_summaries(stored_as, vlm)
    return {k: StoredCell(*got[k]) if k in got else StoredCell() for k in keys}


def empty_counts(cells: Mapping[Key, StoredCell]) -> dict[Key, tuple[int, int]]:
    return {k: (c.answered, c.empty) for k, c in cells.items()}


def _paired(ref: StoredCell, cell: StoredCell) -> tuple[str, str]:
    """Both cells' verdicts on the samples they share, in one order."""
    if cell.ids_joined == ref.ids_joined:  # the usual case: same samples, same order
        return ref.verdicts, cell.verdicts
    mine = dict(zip(cell.ids(), cell.verdicts))
    pairs = [(v, mine[sid]) for sid, v in zip(ref.ids(), ref.verdicts) if sid in mine]
    return "".join(a for a, _ in pairs), "".join(b for _, b in pairs)


def stored_mcnemar(ref: StoredCell, cell: StoredCell) -> dict | None:
    """McNemar's test of ``cell`` against ``ref`` from the verdicts the run stored (a failed
    sample counts as wrong), on the samples both have; None when they share none or a verdict
    is not 0 or 1."""
    a, b = _paired(ref, cell)
    if not a or "x" in a or "x" in b:
        return None
    import numpy as np

    right_ref = np.frombuffer(a.encode("ascii"), dtype=np.uint8) == ord("1")
    right = np.frombuffer(b.encode("ascii"), dtype=np.uint8) == ord("1")
    return stats.mcnemar_counts(int(np.sum(right_ref & ~right)), int(np.sum(~right_ref & right)))


def empty_answers_note(counts: Mapping[tuple[str, str], tuple[int, int]]) -> str | None:
    """A warning naming the cells where more than half of the answers are empty, or None.

    ``counts``: ``{(codec, level): (answered, empty)}`` (``Store.answer_counts``)."""
    mostly_empty = [f"{codec} {level}: {empty}/{answered}" for (codec, level), (answered, empty) in counts.items()
                    if answered and empty > answered / 2]
    if not mostly_empty:
        return None
    return (f"most answers are empty in {len(mostly_empty)} cell(s) ({', '.join(mostly_empty)}): "
            f"the model may not answer this prompt, and scores then compare empty strings")
