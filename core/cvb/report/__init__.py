"""``cvb report``: tables, BD-metrics, correlations, gap decomposition, plots, HTML.

``build_report(cells)`` makes one JSON-ready model; ``tables``, ``plots`` and ``html`` render it;
``write_report`` puts every format in a folder.
"""

from ..jsonsafe import json_safe
from .build import build_report
from .write import write_report

__all__ = ["build_report", "json_safe", "write_report"]
