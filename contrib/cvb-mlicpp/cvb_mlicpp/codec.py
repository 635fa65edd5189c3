"""MLIC++ on cvb's ``ResearchCodec``: the checkout's ``MLICPlusPlus(config=model_config())``,
coded with its own ``compress``/``decompress`` (CompressAI's entropy coder) in the user's
environment. ``hooks.py`` builds it the way MLIC++'s ``playground/test.py`` does."""

from __future__ import annotations

from pathlib import Path

from cvb.codecs.research import ResearchCodec

from .plugin import DEFAULT_LEVELS, ENV, INSTALL_HINT

#: level -> the lambda of the released MSE checkpoints (for the README and `cvb list`)
LAMBDAS = {"1": 0.0018, "2": 0.0035, "3": 0.0067, "4": 0.0130, "5": 0.0250, "6": 0.0483}


class MLICPPCodec(ResearchCodec):
    name = "mlicpp"
    default_levels = DEFAULT_LEVELS
    level_min, level_max = 1, 6
    env_prefix = ENV
    install_hint = INSTALL_HINT
    module, model_class = "models", "MLICPlusPlus"  # built in hooks.py from config.config.model_config()
    pad_multiple = 64  # utils/testing.py pads to 64
    hooks = Path(__file__).with_name("hooks.py")

    def checkpoint_name(self, level: str) -> str:
        return f"mlicpp-{level}.pth.tar"
