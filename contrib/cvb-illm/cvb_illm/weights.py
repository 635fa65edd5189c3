"""Where MS-ILLM's released weights live (no torch import: used by the status check)."""

from __future__ import annotations

import os
from pathlib import Path

#: quality -> the bpp target of neuralcompression's released checkpoint
TARGETS = {1: "0.035", 2: "0.07", 3: "0.14", 4: "0.3", 5: "0.45", 6: "0.9"}
WEIGHTS = {"url": "https://dl.fbaipublicfiles.com/NeuralCompression/2023-muckley-msillm/"}


def weights_path(quality: int) -> Path:
    """``torch.hub.load_state_dict_from_url``'s cache file for a quality's checkpoint."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints" / f"msillm_target_{TARGETS[quality]}bpp.ckpt"
