"""Progress of a run or a bench: one bar per stage (compress, metrics, each VLM's inference).

Progress always goes to **stderr**, so ``cvb run > log`` keeps the results table clean and
``--json`` output parses. On a terminal: rich bars with counts, rate and ETA. When stderr is not
a terminal (a log file, CI, ``nohup``): plain lines, one per stage every ``interval`` seconds and
when a stage finishes, e.g. ``compress: 96/144 (67%), 4.6/s, eta 0:00:10``. ``--quiet`` swaps in
a recorder that draws nothing, so the runner never checks whether bars are on.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any

PLAIN_INTERVAL_S = 10.0


class Bar:
    """A handle on one stage's bar; ``done`` counts what this run finished."""

    def __init__(self, owner: "Progress", task_id: Any):
        self._owner, self._id, self.done = owner, task_id, 0

    def advance(self, n: int = 1) -> None:
        if n:
            self.done += n
            self._owner._advance(self._id, n)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


class _Plain:
    """Periodic plain lines for a stderr that is not a terminal."""

    def __init__(self, stream, interval: float):
        self.stream, self.interval = stream, interval
        self.stages: list[dict] = []

    def add(self, name: str, total: int) -> int:
        now = time.monotonic()
        self.stages.append({"name": name, "total": total, "done": 0, "start": now, "last": now})
        return len(self.stages) - 1

    def advance(self, i: int, n: int) -> None:
        st = self.stages[i]
        st["done"] += n
        now = time.monotonic()
        if st["done"] >= st["total"] or now - st["last"] >= self.interval:
            st["last"] = now
            self.stream.write(self.line(st, now) + "\n")
            self.stream.flush()

    @staticmethod
    def line(st: dict, now: float) -> str:
        done, total = st["done"], st["total"]
        elapsed = max(now - st["start"], 1e-9)
        rate = done / elapsed
        text = f"{st['name']}: {done}/{total}"
        if total:
            text += f" ({100 * done / total:.0f}%)"
        text += f", {rate:.1f}/s, elapsed {timedelta(seconds=round(elapsed))}"
        if done < total and rate > 0:
            text += f", eta {timedelta(seconds=round((total - done) / rate))}"
        return text

    def log(self, message: str) -> None:
        self.stream.write(message + "\n")
        self.stream.flush()


class Progress:
    """Bars (terminal) or periodic lines (anything else) on stderr; nothing when disabled.

    ``console``: a rich console to draw on (default: one on stderr); its ``is_terminal`` picks
    bars or lines.
    """

    def __init__(self, console: Any = None, enabled: bool = True, interval: float = PLAIN_INTERVAL_S):
        self._rich = None
        self._plain = None
        if not enabled:
            return
        console = console or stderr_console()
        if not console.is_terminal:
            self._plain = _Plain(console.file if console.file is not None else sys.stderr, interval)
            return
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
        elif self._plain is not None:
            task_id = self._plain.add(name, total)
        return Bar(self, task_id)

    def _advance(self, task_id: Any, n: int) -> None:
        if self._plain is not None:
            self._plain.advance(task_id, n)
        if self._rich is None:
            return
        self._rich.update(task_id, advance=n)
        task = next(t for t in self._rich.tasks if t.id == task_id)
        speed = task.finished_speed or task.speed
        self._rich.update(task_id, rate=f"{speed:.1f}/s" if speed else "")

    def log(self, message: str) -> None:
        if self._rich is not None:
            self._rich.console.print(message, markup=False, highlight=False)
        elif self._plain is not None:
            self._plain.log(message)
