"""DiffEIC on cvb's ``ResearchCodec``: ``hooks.py`` builds the checkout's model as its
``inference_partition.py`` does (Stable Diffusion 2.1 weights + one level's LFGCM/control
checkpoint) and keeps the bitstream file the model's ``apply_condition_compress`` writes."""

from __future__ import annotations

from pathlib import Path

from cvb.errors import UnavailableError
from cvb.codecs.research import ResearchCodec
from cvb.types import CodecKind

from .plugin import DEFAULT_LEVELS, ENV, FOLDERS, INSTALL_HINT, SD_CKPT, missing_sd


class DiffEICCodec(ResearchCodec):
    name = "diffeic"
    kind = CodecKind.GENERATIVE
    default_levels = DEFAULT_LEVELS
    level_min, level_max = 1, 5
    env_prefix = ENV
    install_hint = INSTALL_HINT
    pad_multiple = 64  # inference_partition.py: pad(img, scale=64)
    hooks = Path(__file__).with_name("hooks.py")
    setting_defaults = {"steps": 50, "seed": 231}

    def __init__(self, **options: object):
        super().__init__(**options)
        reason = missing_sd(self.repo)  # checked here, not after minutes of model building
        if reason:
            raise UnavailableError(f"diffeic: {reason}")

    def checkpoint_name(self, level: str) -> str:
        return f"{FOLDERS[level]}/lc.ckpt"

    def settings(self) -> dict:
        return {**super().settings(), "sd_ckpt": str(self.repo / SD_CKPT),
                "config": "configs/model/diffeic.yaml"}
