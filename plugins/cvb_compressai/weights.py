"""Where pretrained weights live, computed without importing torch or compressai.

torch.hub caches a download of URL at ``<hub dir>/checkpoints/<basename of URL>``, with the
hub dir ``$TORCH_HOME/hub`` (TORCH_HOME defaulting to ``$XDG_CACHE_HOME/torch``, then
``~/.cache/torch``). A file placed there by hand loads offline: that is the supported way to
use pretrained codecs on a machine without internet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .zoo_urls import MODEL_FILES, url_of


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()`` as torch computes it from the environment (no set_dir())."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch"
    )
    return Path(os.path.expanduser(torch_home)) / "hub"


def checkpoints_dir() -> Path:
    return torch_hub_dir() / "checkpoints"


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained checkpoint: its expected cache path and, if it has one, its download URL."""

    path: Path
    url: str | None

    @property
    def present(self) -> bool:
        return self.path.is_file()

    def advice(self) -> str:
        source = f"download {self.url}" if self.url else "no public download; see docs/codecs.md"
        return f"place {self.path.name} at {self.path} ({source})"


def zoo_weights(model: str, metric: str, quality: int) -> WeightsFile:
    name = MODEL_FILES[model][metric][quality]
    return WeightsFile(checkpoints_dir() / name, url_of(model, metric, quality))


def elic_weights(variant: str, quality: int) -> WeightsFile:
    """compressai ships no ELIC weights: cvb looks for a file under this fixed name."""
    return WeightsFile(checkpoints_dir() / f"elic2022-{variant}-{quality}.pth.tar", None)


def missing_message(missing: list[WeightsFile], what: str) -> str | None:
    """One line for `cvb list`: which files to place where, and where to download them."""
    if not missing:
        return None
    if len(missing) == 1:
        where = missing[0].advice()
    else:
        folder = missing[0].path.parent
        names = ", ".join(w.path.name for w in missing)
        urls = {w.url.rsplit("/", 1)[0] for w in missing if w.url}
        source = (f"download each from {urls.pop()}/<file>" if len(urls) == 1 and all(w.url for w in missing)
                  else "no public download; see docs/codecs.md")
        where = f"place {names} in {folder} ({source})"
    return f"{what} weights not in the torch hub cache: {where}; or use option pretrained=false"
