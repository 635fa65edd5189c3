"""One rich console for the CLI (stderr stays free for errors)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def console():
    from ..run.progress import safe_console

    return safe_console()
