"""Cheap availability checks for the ``hf`` specs: file-system look-ups, no transformers import.

``cvb list vlms`` runs these for every spec, so they only ask whether the packages are
installed and, when the hub is switched off (``HF_HUB_OFFLINE=1``), whether the checkpoint is
already in the local Hugging Face cache.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def offline() -> bool:
    """The hub is switched off (read at call time, so a test or a user may set it late)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_cache_dir() -> Path:
    """Where ``huggingface_hub`` keeps downloaded models (same precedence as the library)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def cached_repo_dir(model_id: str) -> Path:
    return hub_cache_dir() / ("models--" + model_id.replace("/", "--"))


def cached_commit(model_id: str, revision: str | None = None) -> str | None:
    """The commit hash the cache holds for ``revision`` (default ``main``), if any."""
    repo = cached_repo_dir(model_id)
    rev = revision or "main"
    ref_file = repo / "refs" / rev
    if ref_file.is_file():
        commit = ref_file.read_text().strip()
    elif (repo / "snapshots" / rev).is_dir():  # a commit hash given as revision
        commit = rev
    else:
        return None
    return commit if (repo / "snapshots" / commit / "config.json").is_file() else None


def download_hint(model_id: str) -> str:
    return (f"download it where the hub is reachable with `huggingface-cli download {model_id}` "
            f"(or `hf download {model_id}`) into the Hugging Face cache ({hub_cache_dir()}), "
            f"or pass a local folder: --vlm hf:/path/to/checkpoint")


def packages_status() -> str | None:
    missing = [p for p in ("torch", "transformers") if importlib.util.find_spec(p) is None]
    if missing:
        return f"needs {' and '.join(missing)}: pip install {' '.join(missing)}"
    return None


def hf_status() -> str | None:
    """Check of the generic ``hf:MODEL`` spec (the model is only known at create time)."""
    return packages_status()


def missing_offline(model_id: str, revision: str | None = None) -> str | None:
    """Why a hub model cannot load here: the hub is switched off and it is not cached."""
    if offline() and cached_commit(model_id, revision) is None:
        return f"{model_id} is not in the local cache and HF_HUB_OFFLINE is set; {download_hint(model_id)}"
    return None


def model_status(model_id: str) -> str | None:
    """Check of an alias spec: packages, and the weights when the hub is switched off."""
    return packages_status() or missing_offline(model_id)


def model_notice(model_id: str) -> str | None:
    """What ``cvb list vlms`` says of a usable alias whose weights are not downloaded yet."""
    from .aliases import DOWNLOAD_GB

    if cached_commit(model_id) is not None:
        return None
    size = DOWNLOAD_GB.get(model_id)
    amount = f"about {size:g} GB" if size else "its weights"
    return f"not in the local cache ({hub_cache_dir()}): downloads {amount} on first use"
