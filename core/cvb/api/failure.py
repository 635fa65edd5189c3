"""``Failure``: one unit of a run that failed and was stored with its error, as ``cvb run`` lists it.

The runner and the store list failures as dicts (``Store.failures``, ``cvb export --what
failures``); the API gives its callers this typed value, built from exactly those keys, and
``as_dict`` turns it back into the dict ``cvb run --json`` prints under ``failures``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping


@dataclass(frozen=True)
class Failure:
    """A unit that failed: ``stage`` says which kind, the rest which one and why."""

    #: "image" (unreadable), "compress", "metric", "predict" or "score"
    stage: str
    task: str | None
    #: None for the stages before the VLM (image, compress, metric)
    vlm: str | None
    codec: str | None
    level: str | None
    #: the image key, compressed image, "METRIC KEY" or sample id that failed (None: a whole cell)
    item: str | None
    error: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Failure":
        """The failure of a runner or store row."""
        extra = sorted(set(row) - {f.name for f in fields(cls)})
        if extra:  # the runner grew a key: give it a field (and a word in docs/api.md)
            raise TypeError(f"Failure has no field for the failure key(s) {', '.join(extra)}")
        return cls(**row)

    def as_dict(self) -> dict[str, Any]:
        """The failure as ``cvb run --json`` lists it under ``failures``."""
        return asdict(self)
