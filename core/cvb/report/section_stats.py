"""What resampling one task x VLM gives the report (``cvb.report.uncertainty`` computes it,
``cvb.report.stats_cache`` keeps it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..analysis import stats

if TYPE_CHECKING:
    import numpy as np


@dataclass
class SectionStats:
    """What ``build_report`` needs from resampling one task x VLM."""

    cells: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicates: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    reason: str | None = None  # why there are no intervals
    resamples: int = 0
    warnings: list[str] = field(default_factory=list)  # e.g. cells whose answers are mostly empty
    seed: int = stats.DEFAULT_SEED
    confidence: float = stats.CONFIDENCE
    inference: str = "bootstrap"  # the method asked for (``Options.inference``)
