"""Where the learned metrics' pretrained weights live, checked without importing torch.

LPIPS and DISTS load their backbones through ``torch.hub.load_state_dict_from_url``, which
reads ``<hub dir>/checkpoints/<file name of the URL>`` and downloads only when that file is
missing (no hash check on a cached file). So a file placed there by hand is the supported way
to run them offline, and its absence is what makes a metric unusable here. The names below
are the ones torchvision 0.28 and piq 0.8 use; ``tests/test_metrics.py`` checks that they
still match the installed libraries.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WeightsFile:
    """One downloadable checkpoint: the URL a library fetches and the file name it caches."""

    url: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def path(self) -> Path:
        return hub_checkpoints_dir() / self.filename


ALEXNET = WeightsFile("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")
VGG16 = WeightsFile("https://download.pytorch.org/models/vgg16-397923af.pth")
DISTS_HEADS = WeightsFile(
    "https://github.com/photosynthesis-team/piq/releases/download/v0.4.1/dists_weights.pt"
)

#: torchvision backbone of each LPIPS trunk this plugin offers
LPIPS_BACKBONES = {"alex": ALEXNET, "vgg": VGG16}
DISTS_FILES = (VGG16, DISTS_HEADS)


def torch_home() -> Path:
    """Same rule as ``torch.hub._get_torch_home``: $TORCH_HOME, else $XDG_CACHE_HOME/torch."""
    default = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", default)))


def hub_checkpoints_dir() -> Path:
    return torch_home() / "hub" / "checkpoints"


def missing_weights(files: tuple[WeightsFile, ...] | list[WeightsFile]) -> str | None:
    """None if every file is in the hub cache, else how to place each missing one."""
    missing = [f for f in files if not f.path().is_file()]
    if not missing:
        return None
    return "weights not in cache: " + "; ".join(
        f"place {f.filename} at {f.path()} (from {f.url})" for f in missing
    )


def missing_package(*packages: str) -> str | None:
    """None if every package is importable (found without importing it), else the pip fix."""
    absent = [p for p in packages if importlib.util.find_spec(p) is None]
    if not absent:
        return None
    return f"package{'s' if len(absent) > 1 else ''} not installed: pip install {' '.join(absent)}"


def lpips_heads_path(net: str) -> Path | None:
    """The linear heads that the ``lpips`` package ships (weights/v0.1/<net>.pth)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "weights" / "v0.1" / f"{net}.pth"


def lpips_status(net: str = "alex") -> str | None:
    if net not in LPIPS_BACKBONES:
        return f"unknown LPIPS net {net!r}; choose one of {', '.join(LPIPS_BACKBONES)}"
    reason = missing_package("lpips", "torchvision")
    if reason:
        return reason
    heads = lpips_heads_path(net)
    if heads is None or not heads.is_file():
        return f"the lpips package lacks its linear heads {heads}; reinstall lpips"
    return missing_weights([LPIPS_BACKBONES[net]])


def dists_status() -> str | None:
    return missing_package("piq", "torchvision") or missing_weights(DISTS_FILES)


def piq_status() -> str | None:
    return missing_package("piq", "torchvision")
