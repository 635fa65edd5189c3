"""What a run records about itself, so a number in the store can be traced to what made it."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import __version__


def git_commit() -> str | None:
    """Commit of the cvb source tree when it is a git checkout (editable installs), else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def prompt_info() -> dict[str, Any]:
    from ..prompts import SUFFIX

    suffixes = {getattr(k, "value", str(k)): v for k, v in SUFFIX.items()}
    blob = json.dumps(suffixes, sort_keys=True).encode()
    return {"suffix": suffixes, "sha256": hashlib.sha256(blob).hexdigest()}


def collect(registry, argv: Sequence[str], options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cvb_version": __version__,
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "argv": list(argv),
        "options": dict(options),
        "plugins": [{"name": i.name, "distribution": i.distribution, "version": i.version,
                     "error": i.error} for i in registry.plugins.values()],
        "prompts": prompt_info(),
    }
