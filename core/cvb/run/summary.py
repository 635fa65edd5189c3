"""The end of a run: its cells with the change against the uncompressed reference, as a rich
table or JSON, and the list of what failed."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from .plan import NONE, Plan
from .store import Store


def plan_cells(store: Store, plan: Plan) -> list[dict[str, Any]]:
    """Store.cells() of this run's matrix, each with ``delta``: score minus the ``none`` cell's."""
    wanted = {(c.name, lv) for c, lv in plan.cells()}
    out = []
    for t in plan.tasks:
        for v in plan.vlms:
            cells = [c for c in store.cells(task=t.label, vlm=v.label) if (c["codec"], c["level"]) in wanted]
            ref = next((c["score"] for c in cells if c["codec"] == NONE), None)
            for c in cells:
                c["delta"] = None if c["score"] is None or ref is None else c["score"] - ref
                out.append(c)
    return out


def _num(x: float | None, spec: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, spec)


def print_cells(console, cells: Sequence[dict[str, Any]], metric_names: Sequence[str]) -> None:
    from rich.markup import escape  # labels like hf:X[mode=logits] are text, not markup
    from rich.table import Table

    score_metrics = {c["score_metric"] for c in cells if c.get("score_metric")}
    one_metric = next(iter(score_metrics)) if len(score_metrics) == 1 else None
    # a column that would repeat one value on every row goes into the title instead
    shared = {k: cells[0][k] for k in ("task", "vlm") if cells and len({c[k] for c in cells}) == 1}
    title = "cvb run" + "".join(f", {k} {v}" for k, v in shared.items()) + " (delta = score - uncompressed)"
    table = Table(title=escape(title))
    for col in ("task", "vlm"):
        if col not in shared:
            table.add_column(escape(col), overflow="fold", min_width=8)
    for col in ("codec", "level", "bpp", *metric_names, one_metric or "score", "delta", "n", "fail"):
        table.add_column(escape(col), justify="left" if col in ("codec", "level") else "right")
    for c in cells:
        delta = c.get("delta")
        shown = "" if c["codec"] == NONE else _num(delta, "+.2f")
        if delta and c["codec"] != NONE and c.get("higher_is_better") is not None:
            if (delta < 0) == bool(c["higher_is_better"]):
                shown = f"[red]{shown}[/]"
        score = _num(c["score"], ".2f")
        if c["score"] is None and c.get("error"):
            score = "[red]error[/]"
        elif not one_metric and c.get("score_metric"):
            score += f" {c['score_metric']}"
        table.add_row(*[escape(c[k]) for k in ("task", "vlm") if k not in shared], escape(c["codec"]),
                      escape(c["level"]),
                      _num(c["bpp"], ".3f"),
                      *[_num(c["metrics"].get(m), ".4g") for m in metric_names], score, shown,
                      str(c["n"]), str(c["n_failed"]) if c["n_failed"] else "")
    console.print(table)


def print_failures(console, failures: Sequence[dict[str, Any]], limit: int = 20) -> None:
    counts = ", ".join(f"{n} {stage}" for stage, n in sorted(failure_counts(failures).items()))
    console.print(f"[red]{len(failures)} failure(s)[/]: {counts}")
    for f in failures[:limit]:
        where = " ".join(str(x) for x in (f["task"], f["vlm"], f["codec"], f["level"], f["item"]) if x)
        console.print(f"  {f['stage']}: {where}: {f['error']}", markup=False, highlight=False)
    if len(failures) > limit:
        console.print(f"  ... and {len(failures) - limit} more (`cvb export --what failures`, or --json)")


def failure_counts(failures: Iterable[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in failures:
        out[f["stage"]] = out.get(f["stage"], 0) + 1
    return out
