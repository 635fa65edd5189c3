"""A run's compression units and the state of their keys, on disk, so memory does not grow
with the number of distinct images.

``cvb run`` lists its compression units (one per distinct image x codec: see
``compress_units``) once, before any work, into a private temporary SQLite file (removed when
the run ends), with each key it will compress marked as waiting. The compression thread reads
the units back a few at a time; the main thread marks each key done (with its error, if any)
once its outcome is stored, and parks the samples whose image is still waiting in a table of
their own until it is done. Each operation holds a lock: the two threads share the file.
"""

from __future__ import annotations

import pickle
import threading
from typing import Iterable, Iterator, Sequence

from .. import temp_db
from .compress_units import ImageJob, LevelWork

_READ = 64  # units read back at once by the compression thread
_IN = 500  # keys per IN (...) query

#: status of a key this run did not compress (``fresh``)
NOT_FRESH = object()


class JobSpool:
    """``add`` units while planning the stage, then ``units(source_of)`` (the compression
    thread), ``waiting(keys)``, ``done(outcomes)``, ``fresh(key)``, and the parked samples:
    ``park``, ``release(keys)``, ``parked``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.conn = temp_db.connect(isolation_level=None)
        self.conn.execute("CREATE TABLE units (n INTEGER PRIMARY KEY, task INTEGER NOT NULL, image TEXT NOT NULL,"
                          " content_hash TEXT NOT NULL, codec TEXT NOT NULL, levels BLOB NOT NULL)")
        # state 0: being compressed by this run; 1: done (error: why it failed)
        self.conn.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, state INTEGER NOT NULL, error TEXT)"
                          " WITHOUT ROWID")
        self.conn.execute("CREATE TABLE parked (key TEXT NOT NULL, todo INTEGER NOT NULL, pos INTEGER NOT NULL)")
        self.conn.execute("CREATE INDEX parked_key ON parked (key)")
        self.count = 0  # units
        self.parked = 0  # samples parked now

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def add(self, units: Sequence[tuple[int, str, str, str, tuple[LevelWork, ...]]]) -> None:
        """(task index, image key, content hash, codec, levels) of some units, in order."""
        if not units:
            return
        with self._lock:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT INTO units VALUES (?,?,?,?,?,?)",
                                  [(self.count + j, ti, image, h, codec, pickle.dumps(levels, protocol=5))
                                   for j, (ti, image, h, codec, levels) in enumerate(units)])
            self.conn.executemany("INSERT OR IGNORE INTO keys VALUES (?, 0, NULL)",
                                  [(w.key,) for *_, levels in units for w in levels if w.compress])
            self.conn.execute("COMMIT")
            self.count += len(units)

    def units(self, source_of) -> Iterator[ImageJob]:
        """The units in order, ``source_of(task index, image key)`` giving each one's image."""
        for start in range(0, self.count, _READ):
            with self._lock:
                rows = self.conn.execute("SELECT task, image, content_hash, codec, levels FROM units"
                                         " WHERE n >= ? AND n < ? ORDER BY n", (start, start + _READ)).fetchall()
            for ti, image, h, codec, levels in rows:
                yield ImageJob(h, source_of(ti, image), codec, pickle.loads(levels))

    def waiting(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` still being compressed."""
        keys = list(keys)
        out: set[str] = set()
        with self._lock:
            for i in range(0, len(keys), _IN):
                part = keys[i:i + _IN]
                out.update(k for (k,) in self.conn.execute(
                    f"SELECT key FROM keys WHERE state=0 AND key IN ({','.join('?' * len(part))})", part))
        return out

    def done(self, keys: Sequence[tuple[str, str | None]]) -> None:
        """(key, error) of keys whose outcome is stored."""
        if not keys:
            return
        with self._lock:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT INTO keys VALUES (?, 1, ?) ON CONFLICT (key) DO UPDATE"
                                  " SET state=1, error=excluded.error", keys)
            self.conn.execute("COMMIT")

    def finish(self) -> None:
        """No more outcomes will come: nothing waits any longer."""
        with self._lock:
            self.conn.execute("DELETE FROM keys WHERE state=0")

    def fresh(self, key: str) -> object:
        """The error of a key this run compressed (None: compressed), else ``NOT_FRESH``."""
        with self._lock:
            row = self.conn.execute("SELECT error FROM keys WHERE key=? AND state=1", (key,)).fetchone()
        return NOT_FRESH if row is None else row[0]

    # ---- samples waiting for their image -----------------------------------------------------
    def park(self, rows: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int, object]]:
        """Park (key, todo index, sample position) of samples waiting for ``key``; returns
        those whose key no longer waits (done since it was looked up), not parked, each with
        its key's ``fresh`` status."""
        if not rows:
            return []
        with self._lock:
            self.conn.execute("BEGIN")
            keys = list({key for key, _, _ in rows})
            still: set[str] = set()
            for i in range(0, len(keys), _IN):
                part = keys[i:i + _IN]
                still.update(k for (k,) in self.conn.execute(
                    f"SELECT key FROM keys WHERE state=0 AND key IN ({','.join('?' * len(part))})", part))
            self.conn.executemany("INSERT INTO parked VALUES (?,?,?)", [r for r in rows if r[0] in still])
            self.conn.execute("COMMIT")
        self.parked += sum(r[0] in still for r in rows)
        return self._with_status([r for r in rows if r[0] not in still])

    def _with_status(self, rows: list[tuple[str, int, int]]) -> list[tuple[str, int, int, object]]:
        """``rows`` (key first) with their key's ``fresh`` status appended (one query)."""
        if not rows:
            return []
        keys, done = list({r[0] for r in rows}), {}
        with self._lock:
            for i in range(0, len(keys), _IN):
                part = keys[i:i + _IN]
                done.update(self.conn.execute(f"SELECT key, error FROM keys WHERE state=1 AND key IN"
                                              f" ({','.join('?' * len(part))})", part).fetchall())
        return [(*r, done.get(r[0], NOT_FRESH)) for r in rows]

    def release(self, keys: Sequence[str] | None) -> list[tuple[str, int, int, object]]:
        """The parked (key, todo index, sample position, the key's ``fresh`` status) of
        ``keys`` (None: all), unparked."""
        out: list[tuple[str, int, int]] = []
        if not self.parked or keys is not None and not keys:
            return []
        with self._lock:
            self.conn.execute("BEGIN")
            if keys is None:
                out = self.conn.execute("SELECT key, todo, pos FROM parked ORDER BY rowid").fetchall()
                self.conn.execute("DELETE FROM parked")
            else:
                keys = list(keys)
                for i in range(0, len(keys), _IN):
                    part = keys[i:i + _IN]
                    marks = ",".join("?" * len(part))
                    out += self.conn.execute(f"SELECT key, todo, pos FROM parked WHERE key IN ({marks})"
                                             " ORDER BY rowid", part).fetchall()
                    self.conn.execute(f"DELETE FROM parked WHERE key IN ({marks})", part)
            self.conn.execute("COMMIT")
        self.parked -= len(out)
        return self._with_status(out)
