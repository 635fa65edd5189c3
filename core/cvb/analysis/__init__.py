"""Analysis of benchmark results: BD-metric/BD-rate, gap decomposition, correlations.

Everything here works on plain data (lists of numbers, lists of cell dicts as returned by
``Store.cells()``), so it is usable and testable without a results store.
"""

from .bd import METHODS, BDResult, bd_metric, bd_rate
from .correlation import correlate, metric_correlations
from .gap import Gap, decompose, gap_rows

__all__ = ["METHODS", "BDResult", "bd_metric", "bd_rate", "correlate", "metric_correlations",
           "Gap", "decompose", "gap_rows"]
