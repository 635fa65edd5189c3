"""TCM on cvb's ``ResearchCodec``: the model class from the user's LIC_TCM checkout, coded with
its own ``compress``/``decompress`` (CompressAI's entropy coder) in the user's environment."""

from __future__ import annotations

from pathlib import Path

from cvb.codecs.research import ResearchCodec

from .plugin import DEFAULT_LEVELS, ENV, INSTALL_HINT

#: level -> the lambda of LIC_TCM's released checkpoint (for the README and `cvb list`)
LAMBDAS = {"1": 0.0025, "2": 0.0035, "3": 0.0067, "4": 0.013, "5": 0.025, "6": 0.05}


class TCMCodec(ResearchCodec):
    name = "tcm"
    default_levels = DEFAULT_LEVELS
    level_min, level_max = 1, 6
    env_prefix = ENV
    install_hint = INSTALL_HINT
    module, model_class = "models.tcm", "TCM"
    # as LIC_TCM's eval.py builds it for the released N=64 checkpoints
    model_kwargs = {"config": [2, 2, 2, 2, 2, 2], "head_dim": [8, 16, 32, 32, 16, 8],
                    "drop_path_rate": 0.0, "N": 64, "M": 320}
    pad_multiple = 128  # eval.py pads to 128; hooks.py makes each side at least 256 (128 crashes TCM)
    hooks = Path(__file__).with_name("hooks.py")

    def checkpoint_name(self, level: str) -> str:
        return f"tcm-{level}.pth.tar"
