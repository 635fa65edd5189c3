"""``run_study``: a study run from start to end, as ``cvb run`` runs it, for Python callers.

The whole lifecycle of a run lives here (plan, executor, store, provenance, progress, the
runner, the summary); ``cvb run`` only turns its flags into a ``Study``, calls this and prints
the ``RunResult``. Notes, warnings and progress go to ``console`` (stderr by default); nothing
is printed on stdout.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .cell import Cell
from .failure import Failure
from .study import Study, store_path

if TYPE_CHECKING:
    from types import FrameType

    from rich.console import Console

    from ..plugins import Registry


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run: finished work is saved in ``store`` (run ``run_id``
    is recorded as ``interrupted``); running the same study again resumes it."""

    def __init__(self, store: Path, run_id: int | None):
        super().__init__(f"interrupted: finished work is saved in {store}")
        self.store, self.run_id = store, run_id


@dataclass
class RunResult:
    """What a run did and what the store now holds for its matrix (``cvb run``'s summary)."""

    store: Path
    run_id: int
    #: "ok" (every unit done) or "failures" (some stored with their error: see ``failures``)
    status: str
    #: the matrix as planned (codecs with levels, VLMs, tasks, metrics: ``Plan.describe``)
    matrix: dict[str, Any]
    #: this run's work: codec calls, compressed images, metric values, predictions, models loaded
    work: dict[str, Any]
    #: one ``Cell`` per task x VLM x codec x level: score, delta, bpp, metrics, n (``cvb run``'s table)
    cells: list[Cell]
    #: the units stored as failed (this run's, and earlier runs' that were kept)
    failures: list[Failure]
    failure_counts: dict[str, int]
    notes: list[str]
    metric_names: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        """The summary ``cvb run --json`` prints (failures listed up to ``MAX_LISTED_FAILURES``)."""
        from ..run.runner import MAX_LISTED_FAILURES

        return {"store": str(self.store), "run_id": self.run_id, "status": self.status,
                "matrix": self.matrix, "work": self.work, "cells": [c.as_dict() for c in self.cells],
                "n_failures": len(self.failures), "failure_counts": self.failure_counts,
                "failures": [f.as_dict() for f in self.failures[:MAX_LISTED_FAILURES]], "notes": self.notes}


def cache_path(study: Study) -> Path:
    """The compressed-image cache: ``cache_dir``, else ``$CVB_CACHE_DIR``, else the user cache dir's."""
    from ..run.image_cache import default_cache_dir

    env = os.environ.get("CVB_CACHE_DIR")
    return study.cache_dir or (Path(env) if env else default_cache_dir())


def _interrupt(signum: int, frame: FrameType | None) -> None:  # SIGTERM stops a run as cleanly as Ctrl-C
    raise KeyboardInterrupt


def run_study(study: Study | Mapping[str, Any], *, progress: bool = False, console: Console | None = None,
              argv: Sequence[str] | None = None, registry: Registry | None = None) -> RunResult:
    """Run ``study`` (a ``Study``, or a dict of a study file's keys) into its store and return
    the summary of its matrix.

    Every finished unit is committed at once: a run stopped by Ctrl-C (``RunInterrupted``) or
    killed resumes where it stopped when run again, and a finished study only reads the store.
    ``progress``: progress bars on ``console`` (a rich Console; default: stderr). ``argv``: the
    command line recorded in the store's provenance (default: ``sys.argv``). ``registry``: the
    plugins (default: the installed ones). Raises ``cvb.errors.UsageError`` for a study that
    cannot run (an unknown codec, a level out of range...) before any work starts.
    """
    from ..plugins import get_registry
    from ..run import provenance, summary
    from ..run.executor import make_executor
    from ..run.image_cache import ImageCache
    from ..run.plan import RunRequest, build_plan
    from ..run.progress import Progress, safe_console
    from ..run.runner import Runner
    from ..run.store import Store
    from ..threads import jobs_and_note

    if isinstance(study, Mapping):
        from .study import study_from_dict

        study = study_from_dict(study)
    if not study.vlms or not study.tasks:
        from ..errors import UsageError

        raise UsageError(f"a study names at least one VLM and one task (vlms: {list(study.vlms)}, "
                         f"tasks: {list(study.tasks)})")
    err = console if console is not None else safe_console(stderr=True)
    registry = registry if registry is not None else get_registry()
    store_file = store_path(study)
    request = RunRequest(vlms=study.vlms, tasks=study.tasks, codecs=study.codecs, levels=study.levels,
                         metrics=study.metrics or None, limit=study.limit, batch_size=study.batch_size,
                         device=study.device, mode=study.mode, options=study.options)
    plan = build_plan(request, registry)
    try:
        jobs, jobs_note = jobs_and_note(study.jobs)
        executor = make_executor(study.executor or "local", jobs=jobs, address=study.address,
                                 replicas=study.replicas, replica_gpus=study.replica_gpus)
    except BaseException:
        plan.close()
        raise
    plan.notes += executor.notes(jobs_note)
    for note in plan.notes:
        err.print(f"[yellow]note:[/] {note}")
    cache = ImageCache(cache_path(study))
    settings = {**plan.describe(), "limit": study.limit, "batch_size": study.batch_size,
                "device": study.device, "mode": study.mode, **executor.describe(),
                "retry_failed": bool(study.retry_failed), "store": str(store_file),
                "cache_dir": str(cache.root), "study": study.record()}
    store = Store(store_file, notice=lambda message: err.print(f"[yellow]note:[/] {message}"))
    runner, run_id, status = None, None, "error"
    try:
        run_id = store.begin_run(provenance.collect(registry, sys.argv if argv is None else argv, settings))
        try:
            previous = signal.signal(signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread (embedded use): no handler
            previous = None
        try:
            with Progress(err, enabled=progress) as bars, executor.running():
                runner = Runner(plan, store, cache, registry, run_id, executor=executor,
                                batch_size=study.batch_size, retry_failed=bool(study.retry_failed),
                                progress=bars)
                result = runner.run()
        except KeyboardInterrupt:
            status = "interrupted"
            store.finish_run(run_id, status, {"work": runner.work.__dict__ if runner else {}})
            raise RunInterrupted(store_file, run_id) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        failures = result["failures"]
        status = "failures" if failures else "ok"
        cells = summary.plan_cells(store, plan)
        for warning in summary.cell_warnings(store, cells):
            err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
        counts = summary.failure_counts(failures)
        store.finish_run(run_id, status, {"work": result["work"], "failures": counts})
    finally:
        if status == "error" and run_id is not None:
            try:
                store.finish_run(run_id, status)
            except Exception:  # noqa: BLE001 - the original error is the one to show
                pass
        store.close()
        plan.close()
    return RunResult(store=store_file, run_id=run_id, status=status, matrix=plan.describe(),
                     work=result["work"], cells=[Cell.of(c) for c in cells],
                     failures=[Failure.of(f) for f in failures], failure_counts=counts,
                     notes=plan.notes, metric_names=[m.name for m in plan.metrics])
