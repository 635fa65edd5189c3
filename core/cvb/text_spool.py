"""Read-only views a whole-set ``score(samples, predictions, reference)`` gets from ``cvb run``
without the cell held in memory: the samples as a sequence over the run's sample spool, and the
predictions (sample id -> text) in a temporary SQLite file. A third-party task written the
simple way (only ``score``) then scores a cell of 100k answers in flat memory, as a task with a
streamed ``scorer()`` does (``cvb.scoring.tally``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Iterator

from . import temp_db

_BATCH = 1000  # texts written at once


class SpooledTexts(Mapping):
    """``sample id -> text``, in the order added, kept in a temporary file (removed on
    ``close``); a read-only mapping once filled (``put`` then any read)."""

    def __init__(self) -> None:
        # "": a temporary file of SQLite's own, removed when closed
        self._conn = temp_db.connect()
        self._conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL)")
        self._batch: list[tuple[str, str]] = []
        self._len = 0

    def put(self, key: str, text: str) -> None:
        self._batch.append((key, text))
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            # a sample id twice (never in a cell): the last text wins, as in a dict
            self._conn.executemany("INSERT INTO t (id, text) VALUES (?, ?) ON CONFLICT(id) DO UPDATE "
                                   "SET text=excluded.text", self._batch)
            self._batch = []
            self._len = self._conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]

    def __getitem__(self, key: Any) -> str:
        self._flush()
        row = self._conn.execute("SELECT text FROM t WHERE id=?", (key,)).fetchone() if isinstance(key, str) else None
        if row is None:
            raise KeyError(key)
        return row[0]

    def __contains__(self, key: object) -> bool:
        self._flush()
        return isinstance(key, str) and self._conn.execute("SELECT 1 FROM t WHERE id=?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        self._flush()
        return self._len

    def __iter__(self) -> Iterator[str]:
        self._flush()
        cur = self._conn.execute("SELECT id FROM t ORDER BY n")  # its own cursor: reads go on beside it
        while rows := cur.fetchmany(_BATCH):
            yield from (r[0] for r in rows)

    def items(self) -> Iterator[tuple[str, str]]:  # type: ignore[override]  # streamed, not a view
        self._flush()
        cur = self._conn.execute("SELECT id, text FROM t ORDER BY n")
        return (row for rows in iter(lambda: cur.fetchmany(_BATCH), []) for row in rows)

    def values(self) -> Iterator[str]:  # type: ignore[override]  # streamed, not a view
        return (text for _, text in self.items())

    def close(self) -> None:
        self._conn.close()


class SampleView(Sequence):
    """The samples of a spool (``cvb.run.sample_spool.SampleSpool``) as a read-only sequence:
    ``len``, ``[i]`` (slices too), iteration in the task's order; nothing is held."""

    def __init__(self, spool: Any):
        self._spool = spool

    def __len__(self) -> int:
        return len(self._spool)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._spool[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._spool[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._spool)
