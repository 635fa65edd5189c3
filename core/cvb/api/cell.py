"""``Cell``: one task x VLM x codec x level of a run's matrix, as ``cvb run`` prints it.

The store hands cells out as dicts (``Store.cells``, the keys ``cvb report`` reads); the API
gives its callers this typed, documented value instead, built from exactly those keys (a key
the store adds without a field here is an error, not a silent loss) and turned back into the
dict ``cvb run --json`` prints by ``as_dict``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping


@dataclass(frozen=True)
class Cell:
    """One scored cell: the answers of ``vlm`` on ``task`` for images compressed by ``codec``
    at ``level`` (``codec`` ``"none"``, ``level`` ``"-"``: the uncompressed reference)."""

    task: str
    #: the scoring protocol and judge model named by the task's label ("cvb", None by default)
    protocol: str | None
    judge: str | None
    vlm: str
    codec: str
    level: str
    #: grows with the level's bitrate: orders levels that have no bpp
    rate_rank: float | None
    #: mean bits per pixel over the cell's distinct images (24 for the uncompressed reference)
    bpp: float | None
    #: image-quality metrics, mean over the cell's distinct images ({"psnr": 31.2})
    metrics: Mapping[str, float]
    #: the headline score (None when it cannot be computed: see ``error``)
    score: float | None
    #: which of ``details`` the score is ("acc", "f1", "mme_score"...)
    score_metric: str | None
    higher_is_better: bool | None
    #: every number the task's scoring rule computed ({"acc": 87.5, "f1": 85.7, ...})
    details: Mapping[str, Any]
    #: samples in the cell, and how many of them have no usable answer
    n: int
    n_failed: int
    #: why the cell has no score, else None
    error: str | None
    #: ``score`` minus the uncompressed cell's score (None when either has none)
    delta: float | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Cell":
        """The cell of a store row (``Store.cells``, with its ``delta``: ``cvb.run.summary.with_delta``)."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(row) - known)
        if extra:  # the store grew a column: give it a field (and a line of docs/api.md)
            raise TypeError(f"Cell has no field for the store's cell key(s) {', '.join(extra)}")
        return cls(**row)

    def as_dict(self) -> dict[str, Any]:
        """The cell as ``cvb run --json`` prints it under ``cells``."""
        return asdict(self)
