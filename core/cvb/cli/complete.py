"""Shell completion of component names (codecs, VLMs, tasks, metrics) for click options.

click's completion machinery (``_CVB_COMPLETE=bash_source cvb``, see docs/cli.md) calls these
with what the user typed so far; they read the registry (names only: no plugin code, no torch)
and complete the last item of a comma list, so ``--codec jpeg,we<TAB>`` gives ``jpeg,webp``.
"""

from __future__ import annotations

from typing import Callable


def names(category: str, with_none: bool = False) -> Callable:
    """A ``shell_complete`` callback offering the registered names of ``category``."""

    def complete(ctx, param, incomplete: str):
        from click.shell_completion import CompletionItem

        from ..plugins import get_registry

        head, _, last = incomplete.rpartition(",")
        prefix = head + "," if head else ""
        try:
            specs = get_registry().specs(category)
        except Exception:  # noqa: BLE001 - completion must never print a traceback into a shell
            return []
        found = sorted({s.name + (":" if s.arg else "") for s in specs} | ({"none"} if with_none else set()))
        return [CompletionItem(prefix + n, help=None) for n in found if n.startswith(last)]

    return complete
