"""Compression running beside inference: units of ``compress_units`` done on a background
thread (in this process with ``-j 1``, in the worker pool otherwise), their outcomes handed to
the main thread, which alone writes the store and feeds each compressed image to the VLM as
soon as it is stored. So the GPU (or the CPU's other cores) never idles through compression."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

from .compress_units import ImageJob, JobOutcome

_END = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


class CompressionFeed:
    """Runs ``run(jobs, stop_event)`` (an iterator of outcomes) on a thread; ``take`` hands the
    outcomes over. An exception in the thread (a full disk, missing weights) is raised again
    by ``take`` in the main thread; ``stop`` ends the work early (Ctrl-C)."""

    def __init__(self, jobs: Iterable[ImageJob],
                 run: Callable[[Iterable[ImageJob], threading.Event], Iterator[JobOutcome]],
                 count: int):
        """``jobs``: an iterable of ``count`` units (read on the thread)."""
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.finished = count == 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._produce, args=(jobs, run), name="cvb-compress",
                                        daemon=True)
        if not self.finished:
            self._thread.start()

    def _produce(self, jobs, run) -> None:
        try:
            for outcome in run(jobs, self._stop):
                self._queue.put(outcome)
                if self._stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._queue.put(_Failed(exc))
        finally:
            self._queue.put(_END)

    def take(self, block: bool, timeout: float | None = None) -> list[JobOutcome]:
        """The outcomes ready now; with ``block``, wait for at least one (or the end, or
        ``timeout`` seconds)."""
        out: list[JobOutcome] = []
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self.finished:
            return out
        try:
            item = self._queue.get(timeout=timeout) if block else self._queue.get_nowait()
        except queue.Empty:
            return out
        while True:
            if item is _END:
                self.finished = True
                return out
            if isinstance(item, _Failed):
                self.finished = True
                if not out:
                    raise item.exc
                self._error = item.exc  # the outcomes before it are handed over first
                return out
            out.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out

    def stop(self, wait: float = 5.0) -> None:
        """Stop taking new units; a pool's workers are ended at once, and so is an external tool
        a unit in this process (``-j 1``) is waiting on (``cvb.tool_guard``). Waits up to
        ``wait`` seconds for the thread (Python work in it cannot be cut short)."""
        self._stop.set()
        if self._thread.is_alive():
            from ..tool_guard import kill_running

            kill_running()
            self._thread.join(timeout=wait)
