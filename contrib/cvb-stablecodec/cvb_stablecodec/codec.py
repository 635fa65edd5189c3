"""StableCodec on cvb's ``ResearchCodec``: ``hooks.py`` builds the checkout's ``StableCodec``
as its ``src/compress.py`` does and writes the bitstream with the repo's own ``write_body``."""

from __future__ import annotations

from pathlib import Path

from cvb.research import ResearchCodec
from cvb.types import CodecKind

from .plugin import CHECKPOINTS, DEFAULT_LEVELS, ELIC, ENV, INSTALL_HINT, SD_TURBO


class StableCodecCodec(ResearchCodec):
    name = "stablecodec"
    kind = CodecKind.GENERATIVE
    default_levels = DEFAULT_LEVELS
    level_min, level_max = 1, 5
    env_prefix = ENV
    install_hint = INSTALL_HINT
    pad_multiple = 256  # compress.py pads to 256 (reflect)
    hooks = Path(__file__).with_name("hooks.py")

    def checkpoint_name(self, level: str) -> str:
        return CHECKPOINTS[level]

    def settings(self) -> dict:
        return {"sd_path": str(self.checkpoints / SD_TURBO), "elic_path": str(self.checkpoints / ELIC)}
