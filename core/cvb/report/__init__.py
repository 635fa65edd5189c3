"""``cvb report``: tables, BD-metrics, correlations, gap decomposition, plots, HTML.

``build_report(cells)`` makes one JSON-ready model; ``tables``, ``plots`` and ``html`` render it;
``write_report`` puts every format in a folder.

Names load on first use (PEP 562): importing a light submodule (``tables``) does not import
numpy, so ``cvb run``'s summary of a finished matrix stays light.
"""

from importlib import import_module
from typing import Any

__all__ = ["build_report", "json_safe", "write_report"]
_WHERE = {"build_report": ".build", "json_safe": "..jsonsafe", "write_report": ".write"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)
