"""``cvb run --executor ray``: VLM replicas and compression units on a Ray cluster.

The driver (the ``cvb run`` process) stays the single writer of the store and of its image
cache, so resume, "compress once" and the store's guarantees are those of a local run:

- **inference**: one replica of the VLM per GPU (or as many as asked) runs as a Ray actor
  holding a ``VLMSession`` (batch retried one query at a time, a broken model stopping the
  run). The driver sends batches of queries, their images included, through Ray's object
  store (no shared file system), a few in flight per replica, and stores the answers as they
  come back. A replica that dies is restarted by Ray and its in-flight batches are sent again
  (``max_restarts``, ``max_task_retries``); a batch that kills replicas every time is stored
  as failed, so nothing is lost or answered twice.
- **compression**: each unit (image x codec) is a Ray task that returns its outcome and the
  cache entries it made; the driver writes them into its cache. Units whose entries the
  driver's cache already holds run in the driver (no codec call, as in a local run).

Every node needs the same Python environment: cvb, its plugins and their dependencies.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from ..errors import CvbError, UsageError
from ..types import Answer, Query
from .compress_units import ImageJob, JobOutcome, Workshop, plugin_list, registry_from
from .image_cache import ImageCache

#: batches queued per replica: one answered, one waiting, so a replica never idles for the driver
IN_FLIGHT_PER_REPLICA = 2
#: a replica that dies is started again this many times; a batch is sent again as many times
MAX_RESTARTS = 3


@dataclass
class RaySettings:
    address: str | None = None  # None: start a local cluster for this run
    replicas: int | None = None  # None: one per GPU, else one per 2 CPUs
    replica_gpus: float | None = None  # None: 1 when the cluster has GPUs, else 0
    notes: list[str] = field(default_factory=list)


def connect(settings: RaySettings) -> dict[str, float]:
    """Join (or start) the cluster; its total resources."""
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'cvb[ray]'") from None
    import logging

    if not ray.is_initialized():
        global _CONNECTED_AT
        _CONNECTED_AT = time.monotonic()
        try:
            ray.init(address=settings.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=False)
        except ConnectionError as exc:
            raise UsageError(f"--address {settings.address}: cannot join the Ray cluster: {exc}") from None
    return dict(ray.cluster_resources())


#: when this process joined the cluster (``connect``)
_CONNECTED_AT = 0.0
#: a driver that leaves the cluster within this many seconds of joining it can be killed by
#: Ray itself ("The core worker has already been shutdown": its error-listening thread races
#: the shutdown; ray 2.x): a run that did next to nothing (a rerun) waits the rest
_SHORTEST_STAY_S = 2.0


def shutdown() -> None:
    import ray

    if ray.is_initialized():
        time.sleep(max(0.0, _CONNECTED_AT + _SHORTEST_STAY_S - time.monotonic()))
        ray.shutdown()


# ---- inference -------------------------------------------------------------------------------
class _Replica:
    """One VLM in a Ray worker process (the registry rebuilt from the driver's plugin modules)."""

    def __init__(self, plugins, ref: str, label: str, options: dict, batch_size: int | None):
        from .plan import VLMPlan
        from .vlm_session import VLMSession

        self.session = VLMSession(VLMPlan(ref, label, options), registry_from(plugins), batch_size)

    def answer(self, queries: Sequence[Query]) -> tuple[list[Answer], float]:
        t0 = time.perf_counter()
        answers = self.session.answer(queries)
        return answers, (time.perf_counter() - t0) / max(1, len(queries))


class RayInference:
    """Batches spread over replicas; ``collect`` hands back (token, answers, latency)."""

    def __init__(self, vlm, registry, batch_size: int | None, settings: RaySettings,
                 loaded: list[str] | None = None):
        import ray

        resources = connect(settings)
        gpus = resources.get("GPU", 0.0)
        per = settings.replica_gpus if settings.replica_gpus is not None else (1.0 if gpus else 0.0)
        n = settings.replicas or (max(1, int(gpus // per)) if per else max(1, int(resources.get("CPU", 1) // 2)))
        if per * n > gpus + 1e-9:
            raise UsageError(f"{n} replica(s) x {per} GPU each: the cluster has {gpus:g} GPU(s)")
        actor = ray.remote(_Replica).options(num_cpus=0, num_gpus=per, max_restarts=MAX_RESTARTS,
                                             max_task_retries=MAX_RESTARTS)
        plugins = plugin_list(registry)
        self._actors = [actor.remote(plugins, vlm.ref, vlm.label, vlm.options, batch_size) for _ in range(n)]
        self._running: dict[Any, tuple[Any, int, int]] = {}  # ref -> (token, replica, n queries)
        self._load = [0] * n
        self.replicas = n
        self._label, self._loaded = vlm.label, loaded if loaded is not None else []

    def busy(self) -> bool:
        return len(self._running) >= IN_FLIGHT_PER_REPLICA * len(self._actors)

    def pending(self) -> int:
        return len(self._running)

    def submit(self, token: Any, queries: list[Query]) -> None:
        if self._label not in self._loaded:  # the replicas load the model on their first batch
            self._loaded.append(self._label)
        i = min(range(len(self._actors)), key=self._load.__getitem__)
        ref = self._actors[i].answer.remote(queries)
        self._running[ref] = (token, i, len(queries))
        self._load[i] += 1

    def collect(self, block: bool) -> list[tuple[Any, list[Answer], float | None]]:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        if not self._running:
            return []
        ready, _ = ray.wait(list(self._running), num_returns=1 if block else len(self._running),
                            timeout=None if block else 0)
        out = []
        for ref in ready:
            token, i, n = self._running.pop(ref)
            self._load[i] -= 1
            try:
                answers, latency = ray.get(ref)
            except RayTaskError as exc:  # the replica's own error (a broken model): the run stops
                cause = getattr(exc, "cause", None)
                raise (cause if isinstance(cause, BaseException) else CvbError(str(exc))) from None
            except RayActorError as exc:
                error = (f"vlm replica died on this batch {MAX_RESTARTS + 1} times: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
                answers, latency = [Answer(text="", error=error) for _ in range(n)], None
            out.append((token, answers, latency))
        return out

    def close(self) -> None:
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors, self._running = [], {}


# ---- compression -----------------------------------------------------------------------------
class _Collector:
    """A cache stand-in inside a Ray task: it keeps the entries a unit makes, to send back."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, bytes, Any, dict, bool]] = []

    def info(self, key: str) -> None:
        return None  # nothing is cached here: every unit is compressed

    def image(self, key: str, decode: Any = None) -> None:
        return None

    def put(self, key: str, bits: bytes, image: Any, info: Mapping[str, Any], *, keep_pixels: bool = True) -> None:
        self.entries.append((key, bits, image if keep_pixels else None, dict(info), keep_pixels))


#: this Ray worker process's codecs and metrics, built once for its lifetime (Ray reuses a
#: worker for many tasks): a learned codec's models are built on its first unit, not every one
_WORKSHOP: tuple[str, Workshop] | None = None


def _compress_task(plugins, options: dict, job: ImageJob) -> tuple[JobOutcome, list]:
    from .compress_units import worker_registry_workshop

    global _WORKSHOP
    key = repr((plugins, options))  # another run's plugins or options: built again
    if _WORKSHOP is None or _WORKSHOP[0] != key:
        _WORKSHOP = (key, worker_registry_workshop(registry_from(plugins), options, None))
    workshop = _WORKSHOP[1]
    workshop.cache = collector = _Collector()  # this task's entries, sent back with its outcome
    return workshop.run(job), collector.entries


def ray_jobs(jobs: Sequence[ImageJob], local: Workshop, cache: ImageCache, registry, options: dict,
             settings: RaySettings, stop=None) -> Iterator[JobOutcome]:
    """Outcomes as units finish: units whose entries the driver's cache holds run here, the
    others as Ray tasks (a few per CPU of the cluster in flight) whose entries are written into
    the driver's cache before their outcome is handed on."""
    import ray

    resources = connect(settings)
    task = ray.remote(_compress_task).options(num_cpus=1, max_retries=1)
    plugins = plugin_list(registry)
    opts = ray.put(options)
    limit = max(2, 2 * int(resources.get("CPU", 1)))
    todo = iter(jobs)  # read as units go out: memory stays flat
    running: dict[Any, ImageJob] = {}
    upcoming = next(todo, None)
    while upcoming is not None or running:
        if stop is not None and stop.is_set():
            for ref in running:
                ray.cancel(ref, force=True)
            return
        while upcoming is not None and len(running) < limit:
            job, upcoming = upcoming, next(todo, None)
            if all(cache.has(w.key) for w in job.levels):
                yield local.run(job)
                continue
            running[task.remote(plugins, opts, job)] = job
        if not running:
            continue
        ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
        for ref in ready:
            job = running.pop(ref)
            try:
                outcome, entries = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a worker lost twice: this image fails
                from .compress_units import LevelOutcome

                outcome, entries = JobOutcome(job, levels=[
                    LevelOutcome(w.key, w.level, compressed=w.compress,
                                 error=f"codec {job.codec}: the Ray task failed: {type(exc).__name__}")
                    for w in job.levels]), []
            for key, bits, image, info, keep in entries:
                cache.put(key, bits, image, info, keep_pixels=keep)
            yield outcome


# ---- the executor ----------------------------------------------------------------------------
class RayExecutor:
    """``--executor ray`` behind ``cvb.run.executor.Executor``'s interface."""

    name = "ray"

    def __init__(self, settings: RaySettings, jobs: int = 1):
        self.settings, self.jobs = settings, jobs

    def notes(self, jobs_note: str | None) -> list[str]:
        from ..threads import AutoWorkers

        if self.jobs > 1 and not isinstance(self.jobs, AutoWorkers):  # a count cvb chose says nothing
            return [f"-j {self.jobs} has no effect with --executor ray: compression runs as Ray tasks "
                    f"(two in flight per cluster CPU)"]
        return []

    def start(self) -> None:
        connect(self.settings)  # on the main thread, before the compression feed needs it

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        # Ray prints its messages (a replica restarted) on stdout: they go to stderr
        with contextlib.redirect_stdout(sys.stderr):
            try:
                yield
            finally:
                shutdown()

    def compress(self, jobs, workshop: Workshop, cache: ImageCache, registry, options: dict,
                 stop=None) -> Iterator[JobOutcome]:
        return ray_jobs(jobs, workshop, cache, registry, options, self.settings, stop)

    def inference(self, session, vlm, registry, batch_size: int | None, loaded: list[str]) -> RayInference:
        return RayInference(vlm, registry, batch_size, self.settings, loaded)

    def describe(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "executor": self.name, "address": self.settings.address,
                "replicas": self.settings.replicas, "replica_gpus": self.settings.replica_gpus}
