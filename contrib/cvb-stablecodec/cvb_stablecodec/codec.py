"""StableCodec on cvb's ``ResearchCodec``: ``hooks.py`` builds the checkout's ``StableCodec``
as its ``src/compress.py`` does and writes the bitstream with the repo's own ``write_body``.

StableCodec's code runs on CUDA only: its constructor calls ``.cuda()`` and ``.to("cuda")``
(src/StableCodec.py lines 23, 30-33, 110), ``model.make_1step_sched`` puts the scheduler on
"cuda", ``latent_codec`` builds its masks on "cuda" by default. So ``device`` defaults to
``auto`` and anything but a CUDA device is refused here, with the reason, before a worker
starts (a CPU run would otherwise die deep inside the repository's constructor)."""

from __future__ import annotations

from pathlib import Path

from cvb.errors import UnavailableError
from cvb.codecs.research import ResearchCodec
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

    def __init__(self, *, device: object = "auto", **options: object):
        super().__init__(device=device, **options)
        if not self.device.startswith("cuda"):
            raise UnavailableError(
                f"stablecodec: device={self.device} refused: StableCodec's code moves its models to CUDA "
                f"unconditionally (src/StableCodec.py .cuda() at lines 23 and 110, .to(\"cuda\") at 30-31, "
                f"device=\"cuda\" at 33; src/model.py; src/latent_codec.py), so it needs an NVIDIA GPU "
                f"(device=cuda or auto on a machine with one)")

    def checkpoint_name(self, level: str) -> str:
        return CHECKPOINTS[level]

    def settings(self) -> dict:
        return {"sd_path": str(self.checkpoints / SD_TURBO), "elic_path": str(self.checkpoints / ELIC)}
