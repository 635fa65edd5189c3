"""Analysis of benchmark results: BD-metric/BD-rate, gap decomposition, correlations.

Everything here works on plain data (lists of numbers, lists of cell dicts as returned by
``Store.cells()``), so it is usable and testable without a results store.

Names load on first use (PEP 562): ``cvb.analysis.curves`` (grouping cells) imports neither
numpy nor scipy, and ``cvb run``'s summary needs nothing more.
"""

from importlib import import_module
from typing import Any

__all__ = ["METHODS", "BDResult", "bd_metric", "bd_rate", "correlate", "metric_correlations",
           "Gap", "decompose", "gap_rows"]
_WHERE = {"METHODS": ".bd", "BDResult": ".bd", "bd_metric": ".bd", "bd_rate": ".bd",
          "correlate": ".correlation", "metric_correlations": ".correlation",
          "Gap": ".gap", "decompose": ".gap", "gap_rows": ".gap"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)
