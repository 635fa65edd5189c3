"""The compression stage's unit of work: one image x one codec (every level it still needs).

A unit reads the original once, compresses it at each missing level (``cvb.codecs.base.compress``),
writes the entry to the cache (when there is one: `cvb compress` runs without; see
``image_cache`` for what an entry keeps), and measures the missing metrics against the original
while both are in memory. Units run in this process (``-j 1``) or in a
process pool whose workers build the plugin registry once, in an initializer. Workers only
compute and write cache files; the parent is the store's single writer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from .. import plugin_returns
from ..errors import CodecError, CvbError, UnavailableError
from ..types import ImageSource
from .image_cache import ImageCache, keeps_pixels

if TYPE_CHECKING:
    import threading

    from PIL import Image


class UnitCache(Protocol):
    """What a ``Workshop`` needs of its cache: an ``ImageCache``, or a Ray task's collector."""

    def info(self, key: str) -> dict[str, Any] | None: ...

    def image(self, key: str, decode: Callable[[bytes], Image.Image] | None = None) -> Image.Image | None: ...

    def put(self, key: str, bits: bytes, image: Image.Image | None, info: Mapping[str, Any], *,
            keep_pixels: bool = True) -> None: ...


@dataclass(frozen=True)
class LevelWork:
    level: str
    key: str
    compress: bool  # False: only metrics are missing (the cache is read, or redone if gone)
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ImageJob:
    content_hash: str
    source: ImageSource
    codec: str
    levels: tuple[LevelWork, ...]


@dataclass
class LevelOutcome:
    key: str
    level: str
    compressed: bool = False  # a new compressed row to store
    codec_calls: int = 0
    num_bytes: int | None = None
    bpp: float | None = None
    encode_s: float | None = None
    decode_s: float | None = None
    error: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)

    def take(self, info: dict[str, Any], new_row: bool) -> None:
        if new_row:
            self.compressed = True
            self.num_bytes, self.bpp = info["num_bytes"], info["bpp"]
            self.encode_s, self.decode_s = info["encode_s"], info["decode_s"]


@dataclass
class JobOutcome:
    job: ImageJob
    width: int | None = None
    height: int | None = None
    image_error: str | None = None
    levels: list[LevelOutcome] = field(default_factory=list)
    #: settled by a run beside this one (``compress_claims``): nothing of it is stored again
    elsewhere: bool = False


class Workshop:
    """Codec and metric instances of one process (created once each) plus the cache."""

    def __init__(self, make: Callable[[str, str], Any], cache: UnitCache | None):
        self._make = make  # (category, name) -> instance
        self._instances: dict[tuple[str, str], Any] = {}
        self.cache = cache

    def get(self, category: str, name: str) -> Any:
        if (category, name) not in self._instances:
            self._instances[(category, name)] = self._make(category, name)
        return self._instances[(category, name)]

    def run(self, job: ImageJob) -> JobOutcome:
        out = JobOutcome(job)
        try:
            original = job.source.load()
        except (CvbError, OSError, ValueError) as exc:
            out.image_error = str(exc)
            return out
        out.width, out.height = original.size
        codec = self.get("codec", job.codec)
        for work in job.levels:
            res, decoded = self._compress(codec, original, work)
            out.levels.append(res)
            if decoded is None:
                continue
            for name in work.metrics:
                try:
                    value = self.get("metric", name).measure(original, decoded)
                    res.metrics[name] = plugin_returns.metric_value(name, value)
                except UnavailableError:
                    raise  # missing weights: every unit would fail the same way
                except Exception as exc:  # noqa: BLE001 - one metric failing on one image
                    res.metrics[name] = None
                    res.metric_errors[name] = f"{type(exc).__name__}: {exc}"
        return out

    def _compress(self, codec, original, work: LevelWork) -> tuple[LevelOutcome, Any]:
        """One level: from the cache when a whole entry is there (no codec call), else encoded
        and decoded now. Returns the outcome and the decoded image (None if not needed/failed)."""
        from ..codecs.base import compress

        res = LevelOutcome(work.key, work.level)
        info = self.cache.info(work.key) if self.cache is not None else None
        if info is not None and self.cache is not None:
            res.take(info, work.compress)
            decoded = self.cache.image(work.key, codec.decode) if work.metrics else None
            if decoded is not None or not work.metrics:
                return res, decoded
        try:
            res.codec_calls += 1
            c = compress(codec, original, work.level)
        except CodecError as exc:
            res.error, res.compressed = str(exc), work.compress
            return res, None
        info = measurements(c)
        if self.cache is not None:
            self.cache.put(work.key, c.bits, c.image, info, keep_pixels=keeps_pixels(codec, c.decode_s))
        res.take(info, work.compress)
        return res, c.image


def measurements(c) -> dict[str, Any]:
    """What the store and the cache keep about one ``Compressed``."""
    return {"num_bytes": c.num_bytes, "bpp": c.bpp, "encode_s": c.encode_s, "decode_s": c.decode_s}


# ---- the process pool -------------------------------------------------------------------------
_WORKSHOP: Workshop | None = None
#: queued units per worker: enough that a worker never waits for the parent, few enough that
#: memory stays flat whatever the number of images
IN_FLIGHT_PER_WORKER = 4


def _init_worker(plugins: Sequence[tuple[str, str, str, str]], options: dict, cache_root: str | None,
                 threads: int = 1, parent: int | None = None, context: tuple[dict, list] | None = None) -> None:
    """Make this worker die with its parent and stop quietly, take the run's environment and
    import path (a fork server started earlier in this process has older ones), cap its
    threads before any heavy import, then build its registry once: the parent's, inherited
    (fork), or the same plugin modules registered again (forkserver, spawn)."""
    import os
    import signal
    import sys

    from .. import plugins as plugin_mod
    from ..threads import limit_threads

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not a handler of the run's: stopping is quiet
    die_with_parent(parent)
    if context is not None:
        environ, path = context
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:0] = [p for p in path if p not in sys.path]
    limit_threads(threads)
    if plugin_mod._REGISTRY is None:
        plugin_mod._REGISTRY = registry_from(plugins)
    global _WORKSHOP
    _WORKSHOP = worker_registry_workshop(plugin_mod._REGISTRY, options,
                                         ImageCache(cache_root) if cache_root is not None else None)


def plugin_list(registry) -> list[tuple[str, str, str, str]]:
    """The registry's working plugins as (name, distribution, version, module): what another
    process needs to build the same registry."""
    return [(i.name, i.distribution, i.version, i.value) for i in registry.plugins.values() if i.error is None]


def registry_from(plugins: Sequence[tuple[str, str, str, str]]):
    """A registry of the given plugin modules (in a worker process or a Ray worker)."""
    from .. import plugins as plugin_mod
    from ..specs import resolve

    reg = plugin_mod.Registry()
    for name, dist, version, value in plugins:
        reg.add_plugin(resolve(value), plugin_mod.PluginInfo(name, dist, version, value))
    return reg


def worker_registry_workshop(registry, options: dict, cache) -> Workshop:
    """A workshop creating codecs and metrics (by label, with the run's options) from ``registry``."""
    from ..identity import ref_of

    return Workshop(lambda cat, name: registry.create(cat, ref_of(name), **options.get((cat, name), {})), cache)


def die_with_parent(parent: int | None) -> None:
    """End this process as soon as the run (process ``parent``) is gone, ``kill -9`` included.
    A thread waits on the run's pid (a pidfd on Linux, polling elsewhere), since a worker's
    direct parent may be the fork server, which itself lives as long as any worker does; a
    worker forked by the run itself also gets the kernel's parent-death signal."""
    import os
    import sys
    import threading

    if parent is None:
        return
    if sys.platform.startswith("linux") and os.getppid() == parent:
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    try:
        fd = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)  # the run died before this worker started
    except (AttributeError, OSError):
        fd = None

    def watch() -> None:
        import time

        if fd is not None:
            import select

            select.select([fd], [], [])  # readable once the run has exited
        else:
            while True:
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    break
                except OSError:
                    pass
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="cvb-parent-watch", daemon=True).start()


def _run_in_worker(job: ImageJob) -> JobOutcome:
    assert _WORKSHOP is not None
    return _WORKSHOP.run(job)


def run_jobs(jobs: Iterable[ImageJob], workshop: Workshop, n_workers: int, registry,
             options: dict, stop: "threading.Event | None" = None) -> Iterator[JobOutcome]:
    """Outcomes as units finish (in completion order with a pool); ``stop`` set: no new unit
    starts and a pool's workers are ended. A count cvb chose (``-j auto``, the default:
    ``cvb.threads.AutoWorkers``) is cut to the workers the work pays for: the units are read
    ahead until each worker would have its ``LEVELS_PER_WORKER`` levels."""
    from ..threads import LEVELS_PER_WORKER, AutoWorkers, workers_for

    if isinstance(n_workers, AutoWorkers) and n_workers > 1:
        source = iter(jobs)
        ahead = list(_take_levels(source, int(n_workers) * LEVELS_PER_WORKER))
        n_workers = workers_for(n_workers, sum(len(job.levels) for job in ahead))
        jobs = itertools.chain(ahead, source)
    if n_workers <= 1:
        for job in jobs:
            if stop is not None and stop.is_set():
                return
            yield workshop.run(job)
        return
    cache = workshop.cache
    assert cache is None or isinstance(cache, ImageCache), "a pool's workers open the cache by its folder"
    yield from _pool(jobs, cache, n_workers, registry, options, stop)


def _take_levels(source: Iterator[ImageJob], levels: int) -> Iterator[ImageJob]:
    """Units from ``source`` until they hold ``levels`` levels (or it ends)."""
    for job in source:
        yield job
        levels -= len(job.levels)
        if levels <= 0:
            return


def _pool(jobs: Iterable[ImageJob], cache: ImageCache | None, n_workers: int, registry,
          options: dict, stop: "threading.Event | None" = None) -> Iterator[JobOutcome]:
    """A process pool, a few units in flight per worker (memory stays flat: ``jobs`` is read
    as the pool takes them). A worker that dies (a codec crashing the interpreter) breaks the
    pool: the units in flight then run again one at a time, so only the one that crashes
    alone is recorded as failed."""
    import os
    import sys
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from ..threads import per_worker, process_context

    source = iter(jobs)
    queue: deque[ImageJob] = deque(itertools.islice(source, n_workers))
    n_workers = min(n_workers, sum(len(job.levels) for job in queue))  # an idle worker only costs its start-up
    if n_workers == 0:
        return
    plugins = plugin_list(registry)
    ctx = process_context(_PRELOAD)

    def new_pool(n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                   initargs=(plugins, options, str(cache.root) if cache else None,
                                             per_worker(n_workers), os.getpid(),
                                             (dict(os.environ), list(sys.path))))

    def refill() -> None:  # keep n_workers units read ahead, to know which are the last ones
        queue.extend(itertools.islice(source, max(0, n_workers + 1 - len(queue))))

    refill()
    while queue:
        pool, clean = new_pool(n_workers), False
        running: dict[Any, ImageJob] = {}
        suspects: list[ImageJob] = []
        try:
            while (queue or running) and not suspects:
                while queue and len(running) < IN_FLIGHT_PER_WORKER * n_workers:
                    job = queue.popleft()
                    refill()
                    if len(queue) < n_workers and len(job.levels) > 1:
                        queue.extendleft(split_levels(job)[::-1])  # the last units: see split_levels
                        continue
                    running[pool.submit(_run_in_worker, job)] = job
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                if stop is not None and stop.is_set():
                    return  # finally: workers ended, not waited for
                for fut in done:
                    job = running.pop(fut)
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        suspects.append(job)
                        continue
                    yield outcome
            suspects += running.values()
            clean = not suspects
        finally:  # an exception (Ctrl-C) or a dead worker: stop at once, do not wait
            if clean:
                pool.shutdown(wait=True)
            else:
                _stop(pool)
        for job in suspects:  # in flight when a worker died: alone, the culprit shows
            yield from _alone(job, new_pool)


def split_levels(job: ImageJob) -> list[ImageJob]:
    """The unit as one unit per level. The pool does this to its last units: a unit is all
    levels of one image and codec (the original read once), so at the end of the queue one
    worker could still work through four levels of AVIF while the others have nothing left;
    a level each, they finish together (each piece reads the original again)."""
    return [replace(job, levels=(work,)) for work in job.levels]


#: imported once by the fork server, so each worker it forks starts with them
_PRELOAD = ["cvb.run.compress_units", "cvb.plugins", "cvb.codecs.base", "PIL.Image", "numpy"]


def _alone(job: ImageJob, new_pool) -> Iterator[JobOutcome]:
    from concurrent.futures.process import BrokenProcessPool

    pool = new_pool(1)
    clean = False
    try:
        try:
            outcome = pool.submit(_run_in_worker, job).result()
            clean = True
        except BrokenProcessPool:
            outcome = JobOutcome(job, levels=[
                LevelOutcome(w.key, w.level, compressed=w.compress,
                             error=f"codec {job.codec}: the worker process died on this image")
                for w in job.levels])
        yield outcome
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            _stop(pool)


def _stop(pool) -> None:
    """Stop at once (Ctrl-C must not wait for a slow codec): cancel, then end the workers."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)

