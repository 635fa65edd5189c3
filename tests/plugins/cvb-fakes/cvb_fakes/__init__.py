"""Fakes that let `cvb run` be tested without weights or binaries.

Tests register them in-process (``build_registry``); subprocess tests start the real CLI
through ``python -m cvb_fakes.cli`` (same registry, no install). ``pip install -e`` of this
folder registers them through the entry point instead, like any third-party plugin.
Calls are counted in ``CALLS`` and, across processes, appended to the file named by
``$CVB_FAKES_LOG`` (one line per event: ``encode LEVEL``, ``create NAME``, ``load NAME``).
"""

from .components import CALLS, build_registry, log_events, make_images

__all__ = ["CALLS", "build_registry", "log_events", "make_images"]
