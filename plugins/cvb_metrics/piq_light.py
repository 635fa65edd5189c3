"""piq's SSIM and MS-SSIM functions without ``import piq``.

piq's package ``__init__`` imports every metric it has, among them the VGG-based ones, and so
torchvision and, through it, ``torch._dynamo``: over a second of CPU in every process that
measures SSIM (each ``-j`` worker), for code SSIM never runs. Its ``ssim`` and ``ms_ssim``
modules need only torch, so they are loaded here as submodules of a stand-in ``piq`` package
that is removed again at once: a later ``import piq`` (LPIPS, DISTS) runs piq's real
``__init__``, which finds these submodules already loaded. The functions are piq's own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


def piq_module(name: str) -> Any:
    """``piq.<name>`` (e.g. ``ssim``, ``ms_ssim``), importing only what it imports itself."""
    full = f"piq.{name}"
    if full in sys.modules:
        return sys.modules[full]
    if "piq" in sys.modules:  # the real package is loaded already
        return importlib.import_module(full)
    spec = importlib.util.find_spec("piq")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'piq'", name="piq")
    stand_in = types.ModuleType("piq")
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules["piq"] = stand_in
    try:
        return importlib.import_module(full)
    finally:
        if sys.modules.get("piq") is stand_in:
            del sys.modules["piq"]
