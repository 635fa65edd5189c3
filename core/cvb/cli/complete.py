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


def _items(ctx, key: str) -> list[str]:
    """The comma-separated values typed so far for parameter ``key`` (a tuple or a string)."""
    value = ctx.params.get(key)
    if not value:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [v.strip() for item in values for v in str(item).split(",") if v.strip()]


def _typed(ctx) -> dict[str, list[str]]:
    """Components named on the command line so far, by category (run, compress, check)."""
    out = {"codec": _items(ctx, "codecs"), "vlm": _items(ctx, "vlms"), "task": _items(ctx, "tasks"),
           "metric": _items(ctx, "metrics")}
    category, name = ctx.params.get("category"), ctx.params.get("name")
    if "category" in ctx.params and not category and len(ctx.args) >= 2:  # left unparsed before `-o <TAB>`
        category, name = ctx.args[0], ctx.args[1]
    if category in out and name:  # cvb check CATEGORY NAME
        out[category] = [name]
    return out


def component_name(ctx, param, incomplete: str):
    """``cvb check codec <TAB>``: names of the category given just before."""
    category = ctx.params.get("category")
    return names(category)(ctx, param, incomplete) if category else []


def levels(ctx, param, incomplete: str):
    """``-l``: ``CODEC=`` for each codec typed; after ``CODEC=``, its default levels (the whole
    list, or the level that completes the last comma item); with one codec, its levels."""
    from click.shell_completion import CompletionItem

    from ..plugins import get_registry
    from ..specs import CodecSpec

    codecs = [c for c in _typed(ctx)["codec"] if c != "none"]
    name, sep, rest = incomplete.rpartition("=")
    if not sep:
        name, rest = (codecs[0] if len(codecs) == 1 else ""), incomplete
    try:
        if not name:
            return [CompletionItem(f"{c}=") for c in codecs if c.startswith(incomplete)]
        spec = get_registry().spec("codec", name.split(":", 1)[0])
        defaults = list(spec.levels) if isinstance(spec, CodecSpec) else []
    except Exception:  # noqa: BLE001 - completion must never print a traceback into a shell
        return []
    lead = f"{name}=" if sep else ""
    head, comma, last = rest.rpartition(",")
    if not comma and not last:
        return [CompletionItem(lead + ",".join(defaults))] + [CompletionItem(lead + lv) for lv in defaults]
    prefix = lead + head + ("," if comma else "")
    return [CompletionItem(prefix + lv) for lv in defaults if lv.startswith(last)]


def options(ctx, param, incomplete: str):
    """``-o``: ``TARGET.`` for each category and each component typed; after ``TARGET.``, the
    options its plugin declares, as ``TARGET.KEY=``."""
    from click.shell_completion import CompletionItem

    from ..plugins import get_registry

    typed = _typed(ctx)
    target, dot, key = incomplete.partition(".")
    try:
        reg = get_registry()
        if not dot:
            checked = "category" in ctx.params  # cvb check: only the component checked
            targets = [c for c in ("codec", "vlm", "task", "metric") if typed[c] or not checked]
            targets += [n.split(":", 1)[0] for ns in typed.values() for n in ns]
            return [CompletionItem(f"{t}.") for t in dict.fromkeys(targets) if t.startswith(target)]
        if target in typed:  # a category: the options of its typed components
            specs = [reg.spec(target, n.split(":", 1)[0]) for n in typed[target]]
        else:
            specs = [reg.spec(c, target) for c, ns in typed.items() if target in [n.split(":", 1)[0] for n in ns]]
        keys = sorted({k for s in specs for k in s.options})
    except Exception:  # noqa: BLE001 - completion must never print a traceback into a shell
        return []
    return [CompletionItem(f"{target}.{k}=", help=None) for k in keys if k.startswith(key)]


def store_labels(column: str) -> Callable:
    """``cvb report -t <TAB>`` / ``--vlm``: the task or VLM labels in the store named by
    ``--store`` (or the default store)."""

    def complete(ctx, param, incomplete: str):
        from click.shell_completion import CompletionItem

        try:
            from ..run.store import Store
            from .output import default_store

            path = ctx.params.get("store_path") or default_store(for_reading=True)
            with Store(path, create=False) as store:
                found = sorted({c[column] for c in store.cells()})
        except Exception:  # noqa: BLE001 - no store yet: nothing to offer
            return []
        return [CompletionItem(n) for n in found if n.startswith(incomplete)]

    return complete
