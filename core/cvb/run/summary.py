"""The end of a run: its cells with the change against the uncompressed reference, as a rich
table or JSON, and the list of what failed."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..identity import answers_label
from ..report.stored_answers import empty_answers_note
from .plan import NONE, Plan
from .store import Store


def plan_cells(store: Store, plan: Plan) -> list[dict[str, Any]]:
    """Store.cells() of this run's matrix, each with ``delta``: score minus the ``none`` cell's."""
    wanted = {(c.name, lv) for c, lv in plan.cells()}
    out = []
    for t in plan.tasks:
        for v in plan.vlms:
            out += with_delta([c for c in store.cells(task=t.label, vlm=v.label) if (c["codec"], c["level"]) in wanted])
    return out


def with_delta(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``cells`` (Store.cells() rows), each given ``delta``: its score minus the score of the
    uncompressed (``none``) cell of its task x VLM; None where either has no score."""
    refs = {(c["task"], c["vlm"]): c["score"] for c in cells if c["codec"] == NONE}
    for c in cells:
        ref = refs.get((c["task"], c["vlm"]))
        c["delta"] = None if c["score"] is None or ref is None else c["score"] - ref
    return cells


def cell_warnings(store: Store, cells: Sequence[dict[str, Any]]) -> list[str]:
    """``task x vlm: warning`` for every task x VLM of ``cells`` whose answers are mostly empty;
    counted in the store (no answer is read into memory)."""
    from ..analysis.curves import group_cells

    out = []
    for (task, vlm), group in group_cells(cells).items():
        stored_as = answers_label(task)
        note = empty_answers_note({(c["codec"], str(c["level"])): store.answer_counts(
            stored_as, vlm, c["codec"], str(c["level"])) for c in group})
        if note:
            out.append(f"{task} x {vlm}: {note}")
    return out


def print_cells(console, cells: Sequence[dict[str, Any]], metric_names: Sequence[str]) -> None:
    """The run's cells as ``cvb report``'s score tables (same headings, same decimals), one
    per task x VLM, each fitting the console's width."""
    from ..report.build import build_report
    from ..report.tables import cells_table, fit_columns, rich_table

    report = build_report(cells, scores_only=True)  # no BD-metrics or correlations: no scipy
    for section in report["sections"]:
        for part in fit_columns(cells_table(section, list(metric_names)), console.width):
            console.print(rich_table(part))


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
