"""Statistics ``cvb report`` computed before, kept so that a repeated report is instant.

Resampling a study's store reads millions of answers and rescores every cell; the numbers only
change when what they are computed from changes. Each task x VLM's ``SectionStats`` is kept in
a small SQLite file of the user's cache directory (``cvb/report/stats.sqlite``; the results
store itself is never written by a report), under a key of everything they depend on:

* the store (its path and creation time) and its state: the newest run and its status, the
  highest answer row, the fingerprint and score of every cell that reads the same answers
  (any cell rescored, any answer added or redone, any other run changes them);
* the seed, number of resamples, confidence and inference method, and cvb's version;
* the rebuilt task: its class, version, scoring rules and every sample (id, image, question,
  answer, category), or why it cannot be rebuilt here (data moved: the key changes too).

While the newest run is still running nothing is kept or reused (its answers are changing).
``CVB_REPORT_CACHE`` names another file, or ``off`` to switch the cache off. Entries unused for
30 days are dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 3  # bump when what is cached, or how it is computed, changes
KEEP_DAYS = 30


def cache_path() -> Path | None:
    """The cache file, or None when ``CVB_REPORT_CACHE=off``."""
    value = os.environ.get("CVB_REPORT_CACHE", "")
    if value.lower() in ("off", "0", "no", "false"):
        return None
    if value:
        return Path(value)
    import platformdirs

    return Path(platformdirs.user_cache_dir("cvb")) / "report" / "stats.sqlite"


class StatsCache:
    """Get and put ``SectionStats`` of one store; every failure to read or write is a miss."""

    def __init__(self, store, opts: Any):
        from .. import __version__

        self.path = cache_path()
        self.conn: sqlite3.Connection | None = None
        state = store.report_state()
        self.enabled = self.path is not None and not state["running"]
        self.base = [FORMAT, __version__, str(Path(store.path).resolve()), state,
                     [opts.resamples, opts.seed, opts.confidence, opts.inference]]
        self.fingerprints = store.cell_fingerprints() if self.enabled else {}
        self._by_answers: dict[tuple[str, str], list] | None = None  # (answers label, vlm) -> cells
        self._task_ids: dict[int, str] = {}
        self._used: list[str] = []  # keys read: their time of use is written once, at close

    def key(self, task_label: str, vlm: str, stored_as: str, made: Any) -> str:
        from ..identity import answers_label

        if self._by_answers is None:
            self._by_answers = {}
            for k, fp in self.fingerprints.items():
                self._by_answers.setdefault((answers_label(k[0]), k[1]), []).append([list(k), fp])
        cells = sorted(self._by_answers.get((stored_as, vlm), []))
        blob = json.dumps([*self.base, task_label, vlm, cells, self._task_identity(made)], default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _task_identity(self, made: Any) -> str:
        if isinstance(made, str):
            return made  # why the task cannot be rebuilt
        task, samples = made
        if id(samples) not in self._task_ids:
            h = hashlib.sha256(json.dumps([type(task).__module__, type(task).__qualname__,
                                           getattr(task, "version", None), getattr(task, "scoring", None)],
                                          default=str).encode())
            for s in samples:
                h.update(json.dumps([s.id, s.image.key, s.question, s.answer, s.category], default=str).encode())
            self._task_ids[id(samples)] = h.hexdigest()
        return self._task_ids[id(samples)]

    def _connect(self) -> sqlite3.Connection | None:
        if not self.enabled:
            return None
        if self.conn is None and self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(str(self.path), timeout=5, isolation_level=None)
                # a lost entry is a miss: no sync to disk per section kept (WAL, synchronous NORMAL)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.execute("CREATE TABLE IF NOT EXISTS section_stats (key TEXT PRIMARY KEY, used REAL NOT NULL,"
                                  " info TEXT NOT NULL, replicates BLOB)")
            except (OSError, sqlite3.Error):
                self.enabled = False
                return None
        return self.conn

    def get(self, key: str):
        from .section_stats import SectionStats

        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT info, replicates FROM section_stats WHERE key=?", (key,)).fetchone()
            if row is None:
                return None
            self._used.append(key)
            info = json.loads(row[0])
            reps = np.frombuffer(row[1], dtype="<f8").reshape(len(info["replicated"]), -1) if row[1] else None
        except (sqlite3.Error, ValueError, KeyError):
            return None
        return SectionStats(cells={tuple(k): v for k, v in info["cells"]},
                            replicates={tuple(k): reps[i].copy() for i, k in enumerate(info["replicated"])}
                            if reps is not None else {},
                            reason=info["reason"], resamples=info["resamples"], warnings=info["warnings"],
                            seed=info["seed"], confidence=info["confidence"], inference=info["inference"])

    def put(self, key: str, st) -> None:
        conn = self._connect()
        if conn is None:
            return
        keys = list(st.replicates)
        if len({len(st.replicates[k]) for k in keys}) > 1:
            return
        info = {"cells": [[list(k), v] for k, v in st.cells.items()], "replicated": [list(k) for k in keys],
                "reason": st.reason, "resamples": st.resamples, "warnings": st.warnings,
                "seed": st.seed, "confidence": st.confidence, "inference": st.inference}
        reps = np.stack([np.asarray(st.replicates[k], dtype="<f8") for k in keys]).tobytes() if keys else None
        try:
            now = time.time()
            conn.execute("INSERT OR REPLACE INTO section_stats VALUES (?, ?, ?, ?)", (key, now, json.dumps(info), reps))
            conn.execute("DELETE FROM section_stats WHERE used < ?", (now - KEEP_DAYS * 86400,))
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self.conn is not None:
            if self._used:  # one transaction, not one (synced) write per section read
                try:
                    with self.conn:
                        self.conn.execute("BEGIN")
                        self.conn.executemany("UPDATE section_stats SET used=? WHERE key=?",
                                              [(time.time(), k) for k in self._used])
                except sqlite3.Error:
                    pass
            self.conn.close()
            self.conn = None
