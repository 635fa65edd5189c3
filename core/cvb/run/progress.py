"""Progress bars of a run: one per stage (compress, metrics, each VLM's inference).

Counts, rate and ETA through rich; ``--quiet`` swaps in a recorder that draws nothing, so the
runner never checks whether bars are on.
"""

from __future__ import annotations

from typing import Any


class Bar:
    """A handle on one stage's bar; ``done`` counts what this run finished."""

    def __init__(self, owner: "Progress", task_id: Any):
        self._owner, self._id, self.done = owner, task_id, 0

    def advance(self, n: int = 1) -> None:
        if n:
            self.done += n
            self._owner._advance(self._id, n)


class Progress:
    """Rich bars drawn on ``console`` (stderr when stdout carries JSON)."""

    def __init__(self, console: Any = None, enabled: bool = True):
        self._rich = None
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._rich = RichProgress(
                TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>10}"), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), console=console, transient=False)

    def __enter__(self) -> "Progress":
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._rich is not None:
            self._rich.stop()

    def bar(self, name: str, total: int) -> Bar:
        task_id = None
        if self._rich is not None:
            task_id = self._rich.add_task(name, total=total, rate="")
        return Bar(self, task_id)

    def _advance(self, task_id: Any, n: int) -> None:
        if self._rich is None:
            return
        self._rich.update(task_id, advance=n)
        task = next(t for t in self._rich.tasks if t.id == task_id)
        speed = task.finished_speed or task.speed
        self._rich.update(task_id, rate=f"{speed:.1f}/s" if speed else "")

    def log(self, message: str) -> None:
        if self._rich is not None:
            self._rich.console.print(message, markup=False, highlight=False)
