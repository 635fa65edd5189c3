"""Where a run's work runs, chosen once: this machine (a process pool) or a Ray cluster.

``make_executor`` turns the user's choice (``--executor``, a study's ``executor``) into one
``Executor``; the runner only calls its methods and never asks which one it has:

- ``start()`` once on the main thread, before compression starts (Ray joins its cluster);
- ``compress(...)`` the compression units' outcomes as they finish;
- ``inference(session, vlm, ...)`` the object a VLM's batches go through (``submit``,
  ``collect``, ``busy``, ``pending``, ``close``: ``vlm_session.LocalInference``'s interface);
- ``running()`` the context the whole run happens in (Ray: its messages on stderr, the
  cluster left at the end);
- ``notes(jobs_note)`` what the user should know about the settings (``-j`` under Ray).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ContextManager, Iterable, Iterator, Protocol

from ..errors import UsageError

if TYPE_CHECKING:  # light at import: the command line reads EXECUTORS
    from .compress_units import ImageJob, JobOutcome, Workshop

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """What the runner needs of an executor (``LocalExecutor``, ``ray_executor.RayExecutor``)."""

    name: str
    jobs: int

    def notes(self, jobs_note: str | None) -> list[str]: ...

    def start(self) -> None: ...

    def running(self) -> ContextManager[Any]: ...

    def compress(self, jobs: Iterable[ImageJob], workshop: Workshop, cache, registry, options: dict,
                 stop=None) -> Iterator[JobOutcome]: ...

    def inference(self, session, vlm, registry, batch_size: int | None, loaded: list[str]) -> Any: ...

    def describe(self) -> dict[str, Any]: ...


class LocalExecutor:
    """The local executor: compression in ``jobs`` worker processes (1: in this process),
    inference in this process."""

    name = "local"

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    def notes(self, jobs_note: str | None) -> list[str]:
        return [jobs_note] if jobs_note else []

    def start(self) -> None:
        """Get ready on the main thread (nothing to do here)."""

    def running(self) -> ContextManager[Any]:
        return contextlib.nullcontext()

    def compress(self, jobs: Iterable[ImageJob], workshop: Workshop, cache, registry, options: dict,
                 stop=None) -> Iterator[JobOutcome]:
        from .compress_units import run_jobs

        return run_jobs(jobs, workshop, self.jobs, registry, options, stop)

    def inference(self, session, vlm, registry, batch_size: int | None, loaded: list[str]):
        from .vlm_session import LocalInference

        return LocalInference(session)

    def describe(self) -> dict[str, Any]:
        """The settings, as a run's provenance records them."""
        return {"jobs": self.jobs, "executor": self.name, "address": None, "replicas": None,
                "replica_gpus": None}


def make_executor(name: str = "local", *, jobs: int = 1, address: str | None = None,
                  replicas: int | None = None, replica_gpus: float | None = None) -> Executor:
    """The executor called ``name`` (one of ``EXECUTORS``) with its settings; Ray's settings
    given to the local executor are a usage error (they would silently do nothing)."""
    if name == "local":
        if address or replicas or replica_gpus is not None:
            raise UsageError("--address, --replicas and --replica-gpus need --executor ray")
        return LocalExecutor(jobs)
    if name == "ray":
        from .ray_executor import RayExecutor, RaySettings

        return RayExecutor(RaySettings(address, replicas, replica_gpus), jobs)
    raise UsageError(f"unknown executor {name!r}: one of {', '.join(EXECUTORS)}")
