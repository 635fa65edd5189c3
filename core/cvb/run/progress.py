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
    return safe_console(stderr=True)


def safe_console(**kwargs):
    """A rich ``Console`` that, when its pipe closes (``cvb run 2>&1 | tee log`` and Ctrl-C
    kills ``tee`` too), drops what it would write instead of raising ``SystemExit(1)`` as rich
    does: the command still finishes its own way (an interrupted run records ``interrupted``
    and exits 130)."""
    from rich.console import Console

    class PipeSafeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            silence_broken_output()

    return PipeSafeConsole(**kwargs)


def silence_broken_output() -> None:
    """Point stdout and stderr at /dev/null: after their reader went away, every later write
    (and Python's flush at exit, which would turn the exit status into 120) goes nowhere."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
            pass
    os.close(devnull)


def rate_and_eta(done: float, total: float | None, elapsed: float | None) -> tuple[str, str]:
    """Rate and ETA from the units this stage finished over the time since it began: no
    burst of units finishing together (a pool returning a batch) reads as thousands per
    second, and a stage that finishes nothing for a while shows its rate falling."""
    if not elapsed or elapsed <= 0 or not done:
        return "", "-:--:--"
    rate = done / elapsed
    text = f"{rate:.1f}/s" if rate >= 0.95 else f"{elapsed / done:.1f}s each"
    if total is None or done >= total:
        return text, "0:00:00"
    return text, str(timedelta(seconds=round((total - done) / rate)))


def _rate_columns():
    """rich columns drawing ``rate_and_eta`` at every refresh (not only when a unit finishes,
    so a stalled stage does not freeze its last figures)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            return Text(f"{rate_and_eta(task.completed, task.total, task.elapsed)[0]:>11}")

    class Eta(ProgressColumn):
        def render(self, task):
            if task.finished:
                return Text("0:00:00")
            return Text(rate_and_eta(task.completed, task.total, task.elapsed)[1])

    return Rate(), Eta()


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
            self.log(self.line(st, now))

    @staticmethod
    def line(st: dict, now: float) -> str:
        done, total = st["done"], st["total"]
        elapsed = max(now - st["start"], 1e-9)
        rate, eta = rate_and_eta(done, total, elapsed)
        text = f"{st['name']}: {done}/{total}"
        if total:
            text += f" ({100 * done / total:.0f}%)"
        text += (f", {rate}" if rate else "") + f", elapsed {timedelta(seconds=round(elapsed))}"
        if done < total and rate:
            text += f", eta {eta}"
        return text

    def log(self, message: str) -> None:
        try:
            self.stream.write(message + "\n")
            self.stream.flush()
        except OSError:  # its reader is gone (a pipe to a killed tee): progress is not the result
            silence_broken_output()


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
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                                   TimeElapsedColumn)

        rate, eta = _rate_columns()
        self._rich = RichProgress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
            rate, TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("eta"), eta,
            console=console, transient=False)

    def __enter__(self) -> "Progress":
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._rich is not None:
            try:
                self._rich.stop()
            except OSError:  # stderr's reader is gone: nothing more to draw
                silence_broken_output()

    def bar(self, name: str, total: int) -> Bar:
        task_id: Any = None
        if self._rich is not None:
            task_id = self._rich.add_task(name, total=total)
        elif self._plain is not None:
            task_id = self._plain.add(name, total)
        return Bar(self, task_id)

    def _advance(self, task_id: Any, n: int) -> None:
        if self._plain is not None:
            self._plain.advance(task_id, n)
        if self._rich is None:
            return
        self._rich.update(task_id, advance=n)

    def log(self, message: str) -> None:
        if self._rich is not None:
            self._rich.console.print(message, markup=False, highlight=False)
        elif self._plain is not None:
            self._plain.log(message)
