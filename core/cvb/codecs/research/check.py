"""The cheap ``check`` of a research-codec package: is the checkout there, are the weights?

Light on purpose (a plugin's ``register_codecs`` imports it when cvb lists codecs): it looks
only at environment variables and files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ...specs import Option


def checkout_status(env_prefix: str, repo_name: str, marker: str, files: Iterable[str],
                    install_hint: str) -> str | None:
    """None when ``$PREFIX_REPO`` holds ``marker`` and ``$PREFIX_CHECKPOINTS`` every file in
    ``files``; otherwise what is missing, and how to fix it."""
    repo, checkpoints = os.environ.get(f"{env_prefix}_REPO"), os.environ.get(f"{env_prefix}_CHECKPOINTS")
    if not repo or not (Path(repo) / marker).is_file():
        return f"{env_prefix}_REPO does not name a {repo_name} checkout ({marker}); {install_hint}"
    missing = [f for f in files if not checkpoints or not (Path(checkpoints) / f).is_file()]
    if missing:
        return (f"checkpoints missing in {env_prefix}_CHECKPOINTS={checkpoints or '(unset)'}: "
                f"{', '.join(missing)}")
    return None


def research_options(env_prefix: str, repo: str, checkpoints: str, device: str = "",
                     **extra: str) -> dict[str, str]:
    """The ``options`` of a research codec's spec: the settings every such codec shares (checkout,
    interpreter, weights folder, device, timeout), described once, with ``extra`` in between."""
    return {
        "repo": f"{repo} (default ${env_prefix}_REPO)",
        "python": f"the interpreter of its environment (default ${env_prefix}_PYTHON, else cvb's own)",
        "checkpoints": f"{checkpoints} (default ${env_prefix}_CHECKPOINTS)",
        **extra,
        "device": "cpu (default), cuda, cuda:N or auto" + (f"; {device}" if device else ""),
        "timeout": Option("seconds one encode or decode may take (default 600)", affects_results=False),
    }
