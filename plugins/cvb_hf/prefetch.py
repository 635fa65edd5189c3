"""Inputs of the next batch processed on a CPU thread while the model answers this one.

On a GPU, a small model's batch can take less time than its image processor: SmolVLM-256M
spends ~2 s per batch of 8 in the PIL image processor against 0.25 s generating (measured on
an H200, docs/scale.md). The local executor calls ``HFVLM.prepare`` for the next batch before
asking for the current one; the work goes to one thread here and ``encode`` takes the result.

When the processor is the bottleneck (SmolVLM with the PIL processor), several threads process
several batches ahead (Pillow and numpy release the GIL in resizing and normalising). Each
thread works with its own deep copy of the processor, made up front: a fast (Rust) tokenizer
refuses to be used from two threads at once ("Already borrowed"), and padding is its state.
"""

from __future__ import annotations

import copy
import queue
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Sequence

from cvb.types import Query


def prefetch_threads(cpus: int | None) -> int:
    """Threads for processing ahead: a quarter of the CPUs, 1 to 4 (the model's own Python
    and the runner need the rest)."""
    return max(1, min(4, (cpus or 1) // 4))


class Prefetcher:
    """Processor calls run ahead on ``threads`` threads, keyed by the very query objects (kept
    alive here, so their ids cannot be reused) and the prompts."""

    def __init__(self, processor: Any, threads: int = 1):
        self.threads = threads
        self._copies: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(threads):
            self._copies.put(copy.deepcopy(processor))
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cvb-hf-prefetch")
        self._ahead: OrderedDict[tuple, tuple[Future, list[Query]]] = OrderedDict()
        self._max_ahead = 4 * threads  # batches waiting to be asked for; older ones are dropped

    @staticmethod
    def _key(queries: Sequence[Query], prompts: Sequence[str]) -> tuple:
        return tuple(map(id, queries)), tuple(prompts)

    def submit(self, queries: list[Query], prompts: list[str],
               process: Callable[[list[Query], list[str], Any], Any]) -> None:
        key = self._key(queries, prompts)
        if key in self._ahead:
            return
        while len(self._ahead) >= self._max_ahead:  # never asked for: drop the oldest
            self._ahead.popitem(last=False)[1][0].cancel()
        self._ahead[key] = (self._pool.submit(self._with_copy, process, queries, prompts), queries)

    def _with_copy(self, process: Callable[[list[Query], list[str], Any], Any], queries, prompts) -> Any:
        processor = self._copies.get()  # as many copies as threads: never waits
        try:
            return process(queries, prompts, processor)
        finally:
            self._copies.put(processor)

    def take(self, queries: Sequence[Query], prompts: Sequence[str]) -> Any | None:
        """The processed inputs if they were prepared, else None (the caller processes them).
        A failure on the thread is raised here, where processing them would have raised it."""
        entry = self._ahead.pop(self._key(queries, prompts), None)
        return None if entry is None else entry[0].result()

    def close(self) -> None:
        for future, _ in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
