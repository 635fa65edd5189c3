"""An LLM judge's replies kept in the results store (table ``judge_replies``).

A judge (``protocol=vlmevalkit`` with ``judge=VLM``) is often a paid API. Each reply is stored
under the judge (its reference and its ``version``: model, endpoint) and what it was shown (the
question, the prediction and the full judge prompt), so a later rescore, a resumed run or
``cvb report`` reads the stored verdict instead of asking again. The rows are also the record
of which answers a judge decided (``SELECT * FROM judge_replies``; ``cvb export --what
judge_replies``).

``cvb run`` and ``cvb report`` open the store around their scoring with :func:`kept_in`; a
task's judge reads and writes through :func:`stored` and :func:`keep`, and without a store open
(a task scored in a notebook) it asks, as before.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from ..errors import CvbError

TABLE = "judge_replies"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    judge         TEXT NOT NULL,           -- the judge VLM as given (judge=openai:gpt-4o-mini)
    judge_version TEXT NOT NULL,           -- its version ('' when it could not be built)
    item_sha      TEXT NOT NULL,           -- sha256 of [question, prediction, prompt]
    question      TEXT,
    prediction    TEXT,                    -- the answer the judge decided
    prompt        TEXT NOT NULL,           -- what the judge was shown
    reply         TEXT NOT NULL,
    run_id        INTEGER,
    updated_ns    INTEGER NOT NULL,
    PRIMARY KEY (judge, judge_version, item_sha)
)"""

#: the stores open for judges, innermost last (a process-wide stack, not a context variable:
#: the runner may score in worker threads)
_OPEN: list[tuple[Any, int | None]] = []


def _current() -> tuple[Any, int | None] | None:
    return _OPEN[-1] if _OPEN else None


def item_sha(question: str, prediction: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([question, prediction, prompt]).encode()).hexdigest()


@contextmanager
def kept_in(store, run_id: int | None = None) -> Iterator[None]:
    """Judges asked inside the block read and keep their replies in ``store``."""
    _OPEN.append((store, run_id))
    try:
        yield
    finally:
        _OPEN.pop()


def stored(judge: str, version: str | None, shas: Sequence[str]) -> dict[str, str]:
    """item sha -> stored reply of ``judge``; with ``version`` None (the judge cannot be built
    here, e.g. no API key on a rescore) the latest reply of any version."""
    current = _current()
    if current is None or not shas:
        return {}
    conn = current[0].conn
    out: dict[str, str] = {}
    try:
        for i in range(0, len(shas), 500):
            part = list(shas[i:i + 500])
            marks = ",".join("?" * len(part))
            if version is None:
                sql = (f"SELECT item_sha, reply FROM {TABLE} WHERE judge=? AND item_sha IN ({marks})"
                       " ORDER BY updated_ns")
                rows = conn.execute(sql, [judge, *part]).fetchall()
            else:
                sql = f"SELECT item_sha, reply FROM {TABLE} WHERE judge=? AND judge_version=? AND item_sha IN ({marks})"
                rows = conn.execute(sql, [judge, version, *part]).fetchall()
            out.update(rows)
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
    return out


def keep(judge: str, version: str | None, rows: Sequence[tuple[str, str, str, str]]) -> bool:
    """Store ``(question, prediction, prompt, reply)`` rows; False when no store is open or it
    cannot be written (a read-only store: the replies then live for this process only)."""
    current = _current()
    if current is None or not rows:
        return False
    store, run_id = current
    ns = time.time_ns()
    try:
        with store.write() as c:
            c.execute(DDL)
            c.executemany(f"INSERT OR REPLACE INTO {TABLE} VALUES (?,?,?,?,?,?,?,?,?)",
                          [(judge, version or "", item_sha(q, p, pr), q, p, pr, reply, run_id, ns)
                           for q, p, pr, reply in rows])
    except CvbError:  # a read-only store keeps nothing; the score still stands
        return False
    return True
