"""Units of work claimed in the store, so that concurrent ``cvb run``s of one matrix share it.

A unit is one compressed image (``compress KEY``: the encode, decode and metrics of one image x
codec x level) or one answer (``answer TASK VLM CODEC LEVEL SAMPLE``). Before a run works on
units it claims them, a small batch in one transaction, in the store's ``claims`` table; a row
lives until the unit's result is stored, then the run deletes it. A unit another live run holds
is left to it: the run goes on with other units and, once it has nothing else to do, waits for
those results and reads them from the store (``compress_claims`` for images, the runner for
answers). So two runs started together on one store do each unit once, and a run started
beside a running one takes only what is left.

Whether a holder is alive is told as for the ``runs`` table (``run_process.is_gone``): on this
host its pid and the process's start time (a reused pid is another process); a claim of a
process that is gone is taken over at once. A run on another host (a store on a shared file
system) cannot be checked that way: its claims expire ``CLAIM_TTL_S`` after its last renewal
(a run renews all of its claims at least every ``_RENEW_S`` seconds while it works). Taking
over redoes at most what the dead run had claimed and not stored: its batch in flight.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterable, Iterator

from . import run_process
from .store import Store, batched

#: a claim of a run whose process cannot be checked (another host) lapses this long after it was
#: last renewed; a slow model's batch or codec's image must take less than this
CLAIM_TTL_S = 900
_RENEW_S = 60
SEP = "\x1f"  # between the fields of an answer's unit (no task, model or sample name holds it)
#: how often a run that has nothing else to do looks again at units another run holds: the
#: first look soon, later ones less often (each look is a small write transaction)
POLL_FIRST_S, POLL_MAX_S = 0.2, 2.0


def poll_delays() -> Iterator[float]:
    """The waits between looks at units another run holds: growing from ``POLL_FIRST_S`` to ``POLL_MAX_S``."""
    delay = POLL_FIRST_S
    while True:
        yield delay
        delay = min(POLL_MAX_S, delay * 1.5)


def compression_unit(key: str) -> str:
    return f"compress {key}"


def answer_unit(task: str, vlm: str, codec: str, level: str, sample_id: str) -> str:
    return "answer " + SEP.join((task, vlm, codec, level, sample_id))


class Claims:
    """One run's claims, on a connection of their own (the compression thread claims beside
    the main thread, which writes results on the store's connection). Thread-safe."""

    def __init__(self, store: Store, run_id: int):
        self.run_id = run_id
        self.db = Store(store.path, create=False)  # the writable open of ``store`` made the table
        self.db.conn.execute("PRAGMA synchronous=NORMAL")  # as the store's own writes: no fsync per claim
        self.pid, self.host, self.pid_start = run_process.this_process()
        self._lock = threading.Lock()
        self._renewed = time.monotonic()
        self._released: list[str] = []  # stored units whose claims go with the next claim or renewal
        self.taken_over = 0  # units claimed from a run that was gone

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """The claims' connection to the store, to read it from any thread (one at a time)."""
        with self._lock:
            yield self.db

    def _live(self, run_id: int, host: str | None, pid: int | None, start: str | None, expires_ns: int,
              now_ns: int) -> bool:
        """Whether the holder of a claim may still be working on it."""
        if run_id == self.run_id or run_process.is_gone(pid, host, start):
            return False
        if pid is not None and host == self.host:
            return True  # its process runs here (is_gone checked the pid and its start)
        return expires_ns > now_ns

    def claim(self, units: Iterable[str]) -> set[str]:
        """Claim ``units`` for this run; returns those it holds now (all but the ones another
        live run holds). One transaction per batch; it renews this run's other claims too."""
        units = list(dict.fromkeys(units))
        if not units:
            return set()
        now = time.time_ns()
        expires = now + CLAIM_TTL_S * 1_000_000_000
        with self._lock, self.db.write() as c:
            held: set[str] = set()
            for part in batched(units):
                rows = c.execute("SELECT unit, run_id, host, pid, pid_start, expires_ns FROM claims"
                                 f" WHERE unit IN ({','.join('?' * len(part))})", part).fetchall()
                for unit, run_id, host, pid, pid_start, expires_ns in rows:
                    if self._live(run_id, host, pid, pid_start, expires_ns, now):
                        held.add(unit)
                    elif run_id != self.run_id:
                        self.taken_over += 1
            mine = [u for u in units if u not in held]
            self._drop_released(c)
            c.executemany("INSERT INTO claims (unit, run_id, host, pid, pid_start, expires_ns)"
                          " VALUES (?,?,?,?,?,?) ON CONFLICT (unit) DO UPDATE SET run_id=excluded.run_id,"
                          " host=excluded.host, pid=excluded.pid, pid_start=excluded.pid_start,"
                          " expires_ns=excluded.expires_ns",
                          [(u, self.run_id, self.host, self.pid, self.pid_start, expires) for u in mine])
            self._renew(c, expires, force=False)
        return set(mine)

    def release(self, units: Iterable[str]) -> None:
        """Drop this run's claims on ``units`` (their results are stored, or left undone): in
        the transaction of this run's next claim or renewal, not one of their own (a run beside
        this one sees them held a moment longer, and then finds their results stored)."""
        with self._lock:
            self._released += units

    def _drop_released(self, c) -> None:
        released, self._released = self._released, []
        for part in batched(released):
            c.execute(f"DELETE FROM claims WHERE run_id=? AND unit IN ({','.join('?' * len(part))})",
                      [self.run_id, *part])

    def release_all(self) -> None:
        """Drop every claim of this run (at its end, whatever ended it)."""
        with self._lock, self.db.write() as c:
            self._released = []
            c.execute("DELETE FROM claims WHERE run_id=?", (self.run_id,))

    def renew(self) -> None:
        """While this run waits: drop the claims it released, and keep the others from lapsing
        (no write when there is neither to do)."""
        if not self._released and time.monotonic() - self._renewed < _RENEW_S:
            return
        with self._lock, self.db.write() as c:
            self._drop_released(c)
            self._renew(c, time.time_ns() + CLAIM_TTL_S * 1_000_000_000, force=False)

    def _renew(self, c, expires_ns: int, force: bool) -> None:
        if force or time.monotonic() - self._renewed >= _RENEW_S:
            c.execute("UPDATE claims SET expires_ns=? WHERE run_id=?", (expires_ns, self.run_id))
            self._renewed = time.monotonic()
