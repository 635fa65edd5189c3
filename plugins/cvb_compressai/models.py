"""The learned codecs cvb offers, as plain data (imported by plugin.py: nothing heavy here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    name: str  # cvb codec name = compressai zoo name
    max_quality: int  # zoo qualities are 1..max_quality, 1 = lowest rate
    summary: str

    @property
    def default_levels(self) -> tuple[str, ...]:
        """The four lowest-rate models, as the paper used."""
        return tuple(str(q) for q in range(1, 5))


MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("bmshj2018-factorized", 8, "Balle 2018 factorized prior (CompressAI zoo)"),
    ModelInfo("bmshj2018-hyperprior", 8, "Balle 2018 scale hyperprior (CompressAI zoo)"),
    ModelInfo("mbt2018-mean", 8, "Minnen 2018 mean-scale hyperprior (CompressAI zoo)"),
    ModelInfo("mbt2018", 8, "Minnen 2018 joint autoregressive + hyperprior (CompressAI zoo)"),
    ModelInfo("cheng2020-anchor", 6, "Cheng 2020 anchor, GMM-free variant (CompressAI zoo)"),
    ModelInfo("cheng2020-attn", 6, "Cheng 2020 with attention (CompressAI zoo)"),
    ModelInfo("elic2022", 6, "ELIC 2022 (CompressAI architecture; weights user-supplied)"),
)}

METRICS = ("mse", "ms-ssim")
ELIC_VARIANTS = ("chandelier", "official")
