"""``cvb list codecs|vlms|tasks|metrics``: what is registered and whether it runs here."""

from __future__ import annotations

import re
from typing import Any

import click

from .options import Choice

_PLURAL = {"codecs": "codec", "vlms": "vlm", "tasks": "task", "metrics": "metric"}


_LEVEL = re.compile(r"\blevels?\s*=?\s*([^;(]+)")


def level_meaning(spec) -> str:
    """What a codec's level means, for `cvb list codecs`: the unit and range its summary gives
    (``level = quality 1..100``), and the direction its default levels show (they are listed
    lowest rate first, so ``47,40,33,26`` means lower = more bits)."""
    m = _LEVEL.search(spec.summary or "")
    unit = m.group(1).strip().rstrip(",") if m else ""
    unit = re.sub(r"\s*\((?:higher|lower) = more bits\)", "", unit)
    direction = ""
    try:
        values = [float(v) for v in spec.levels]
    except (TypeError, ValueError):
        values = []
    if len(values) > 1 and values != sorted(values, reverse=True):
        direction = "higher = more bits" if values == sorted(values) else ""
    elif len(values) > 1:
        direction = "lower = more bits"
    return ", ".join(p for p in (unit, direction) if p)


def describe(spec, owner: str) -> dict:
    """The row `cvb list` prints for one spec (status checks are cheap by contract)."""
    reason = spec.status()
    row = {
        "name": spec.name + (f":{spec.arg}" if spec.arg else ""),
        "kind": spec.kind,
        "summary": spec.summary,
        "plugin": owner,
        "usable": reason is None,
        "status": "ok" if reason is None else reason,
    }
    note = spec.note() if reason is None and hasattr(spec, "note") else None
    if note:
        row["note"] = note
    if hasattr(spec, "levels"):
        row["levels"] = list(spec.levels)
        row["level_meaning"] = level_meaning(spec)
    if hasattr(spec, "splits"):
        row["splits"] = list(spec.splits)
    if hasattr(spec, "higher_is_better"):
        row["higher_is_better"] = spec.higher_is_better
    if spec.options:
        row["options"] = dict(spec.options)
        speed = sorted(k for k in spec.options if not spec.affects_results(k))
        if speed:  # not part of its identity: changing them never redoes stored work
            row["speed_options"] = speed
    return row


def catalogue_rows(reg, category: str, source: str) -> list[dict]:
    """The rows of the catalogue a component reaches (``Spec.catalogue``), e.g. every task of
    lmms-eval behind ``lmms-eval:NAME``; a UsageError naming the sources there are."""
    from ..errors import UsageError
    from ..specs import resolve

    sources = {s.name: s for s in reg.specs(category) if getattr(s, "catalogue", None)}
    spec = sources.get(source)
    if spec is None:
        known = ", ".join(sorted(sources)) or "none installed"
        raise UsageError(f"no {category} source {source!r}; sources: {known}")
    reason = spec.status()
    if reason is not None:
        raise UsageError(f"{category} source {source!r} is not usable here: {reason}")
    owner = reg.owner(category, spec.name)
    return [{"plugin": owner, **row} for row in resolve(spec.catalogue)()]


@click.command("list")
@click.argument("what", type=Choice(sorted(_PLURAL)))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--source", default=None, metavar="NAME",
              help="List the members of a peer's catalogue that a component reaches by name instead "
                   "(e.g. `cvb list tasks --source lmms-eval`: every lmms-eval task, its kind, output "
                   "type, data availability and whether cvb runs it).")
def list_cmd(what: str, as_json: bool, source: str | None) -> None:
    """List registered codecs, VLMs, tasks or metrics and whether each is usable here.

    An unusable entry says why and how to fix it (a binary to install, a weights file
    to place under the torch hub cache, a package to pip install). A plugin that failed to
    load is listed by its entry-point name with its error, since what it provides is unknown.
    """
    from ..plugins import get_registry

    reg = get_registry()
    category = _PLURAL[what]
    if source is not None:
        _print_catalogue(catalogue_rows(reg, category, source), what, source, as_json)
        return
    rows = _component_rows(reg, category)
    if as_json:
        from .output import json_result

        click.echo(json_result({what: rows}))
        return
    _print_components(rows, what, category)


def _component_rows(reg: Any, category: str) -> list[dict]:
    """A row per registered component of ``category``, per name two plugins claim, and per
    plugin that failed to load (what it provides is unknown: its entry point names it)."""
    rows = [describe(s, reg.owner(category, s.name)) for s in reg.specs(category)]
    conflicts = {n: o for (c, n), o in reg.conflicts().items() if c == category}
    for name, owners in sorted(conflicts.items()):
        rows.append({"name": name, "kind": "", "summary": "", "plugin": " + ".join(owners),
                     "usable": False, "status": f"conflict: registered by {' and '.join(owners)}"})
    for info in reg.broken_plugins():
        rows.append({"name": info.name, "kind": "?", "summary": "", "plugin": info.name, "usable": False,
                     "broken_plugin": True,
                     "status": f"its plugin {info.label()} {info.problem} (what it provides is unknown)"})
    return rows


def _print_components(rows: list[dict], what: str, category: str) -> None:
    """The rows as a table, with the long fix-it sentences numbered below it, full width."""
    from rich.table import Table

    from .console import console

    from rich import box

    table = Table(title=f"cvb {what}", box=box.SIMPLE_HEAD, pad_edge=False)
    cols = ["name", "kind"]
    if category == "codec":
        cols.append("levels")
    if category == "task":
        cols.append("splits")
    narrow = console().width < 100  # an 80-column terminal: the plugin is in `cvb plugins` and --json
    cols += ([] if narrow and category == "codec" else ["plugin"]) + ["status"]
    for col in cols:  # names never broken mid-word; levels and splits wrap between words
        wraps = col in ("levels", "splits")
        table.add_column(col, no_wrap=not wraps, ratio=1 if wraps else None, min_width=16 if wraps else None)
    notes: list[tuple[str, str]] = []  # long fix-it sentences go below the table, full width
    for r in rows:
        table.add_row(*[_table_cell(r, col, notes) for col in cols])
    console().print(table)
    for i, (name, reason) in enumerate(notes, 1):
        console().print(f"[yellow][{i}][/] [bold]{name}[/]: {reason}", highlight=False)
    if not rows:
        console().print(f"no {what} registered; `cvb plugins` shows what is installed")


def _table_cell(r: dict, col: str, notes: list[tuple[str, str]]) -> str:
    """Row ``r``'s text in column ``col``; a status with more to say adds it to ``notes`` and
    shows its number."""
    from rich.markup import escape

    v = r.get(col, "")
    if isinstance(v, list):
        v = ",".join(v) if col != "splits" else ", ".join(v)
    if col == "levels" and r.get("level_meaning"):  # what the numbers mean, under them
        v = f"{v} [dim]({escape(r['level_meaning'])})[/]"
    if col == "status":
        if r["usable"] and r.get("note"):
            notes.append((r["name"], r["note"]))
            v = f"[green]ok[/], not cached [{len(notes)}]"
        elif r["usable"]:
            v = "[green]ok[/]"
        else:
            notes.append((r["name"], r["status"]))
            v = f"[yellow]unusable [{len(notes)}][/]"
    return str(v)


def _print_catalogue(rows: list[dict], what: str, source: str, as_json: bool) -> None:
    if as_json:
        from .output import json_result

        click.echo(json_result({"source": source, what: rows}, default=str))
        return
    from rich.table import Table

    from .console import console

    extra = [k for k in dict.fromkeys(k for r in rows for k in r)
             if k not in ("name", "kind", "summary", "plugin", "usable", "status")]
    table = Table(title=f"cvb {what} from {source}")
    for col in ["name", "kind", *extra, "status"]:
        table.add_column(col, overflow="fold", no_wrap=col == "name")
    for r in rows:
        status = "[green]ok[/]" + r["status"][2:] if r.get("usable") else f"[yellow]{r.get('status', '')}[/]"
        table.add_row(*[str(r.get(c, "")) for c in ["name", "kind", *extra]], status)
    console().print(table)
    usable = sum(1 for r in rows if r.get("usable"))
    console().print(f"{usable} of {len(rows)} runnable here as `cvb run --task NAME[:LOCAL_COPY]`")
