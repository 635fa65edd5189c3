"""RDEIC on cvb's ``ResearchCodec``: ``hooks.py`` builds the checkout's model as its
``inference.py`` does (one full checkpoint per level) and keeps the bitstream file the model's
``apply_condition_compress`` writes."""

from __future__ import annotations

from pathlib import Path

from cvb.research import ResearchCodec
from cvb.types import CodecKind

from .plugin import DEFAULT_LEVELS, ENV, INSTALL_HINT


class RDEICCodec(ResearchCodec):
    name = "rdeic"
    kind = CodecKind.GENERATIVE
    default_levels = DEFAULT_LEVELS
    level_min, level_max = 1, 5
    env_prefix = ENV
    install_hint = INSTALL_HINT
    pad_multiple = 64  # inference.py: pad(img, scale=64)
    hooks = Path(__file__).with_name("hooks.py")
    setting_defaults = {"steps": 2, "guidance": 1.0, "seed": 231}

    def checkpoint_name(self, level: str) -> str:
        return f"rdeic-{level}.ckpt"

    def settings(self) -> dict:
        return {**super().settings(), "config": "configs/model/rdeic.yaml"}
