"""The SQLite results store of ``cvb run``: one file, WAL mode, one transaction per unit batch.

Why SQLite: one portable file that ``cvb report`` and any SQL tool can read, safe with several
processes (WAL + ``busy_timeout``), and transactions that make a kill at any moment lose at most
the uncommitted batch. Identity columns are UNIQUE, so a rerun, a resumed run or two concurrent
runs can never store a unit twice. The schema is ``schema.sql`` beside this file; its version
is in the ``meta`` table, and a store written by a newer cvb is refused without being touched.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import CvbError, UsageError
from ..identity import Identity, scoring_of
from . import run_process
from .store_rows import (CompressedRow, ImageInfo, ImageRow, MetricRow, PredictionRow, SampleRow, StoredAnswer,
                         StoredImage)

#: where every command reads and writes results unless told (``--store``, ``$CVB_STORE``);
#: ``scripts/demo.sh`` writes here too, so ``cvb report`` after the demo needs no flag
DEFAULT_STORE = "cvb-out/results.sqlite"
STORE_ENV = "CVB_STORE"
#: the default of cvb before 2026-12: still read when it is the only store in the folder
LEGACY_STORE = "cvb-results.sqlite"
SCHEMA_VERSION = 1
APPLICATION = "cvb-results"
BUSY_TIMEOUT_MS = 60_000
_CHUNK = 500  # keys per ``IN (...)`` query, far below SQLite's variable limit

#: what ``cvb export --what`` accepts -> the table behind it
EXPORTS = ("samples", "predictions", "cells", "compressed", "metrics", "images", "runs", "failures",
           "versions", "components")


class StoreError(CvbError):
    """The results store cannot be opened or written (exit status 1; stored work is kept)."""


class MissingStoreError(StoreError, UsageError):
    """`cvb export`/`report` pointed at a store that does not exist: bad input (exit 2)."""


#: what ``Store.answer_summaries`` joins sample ids with (the ASCII unit separator)
ID_SEP = "\x1f"


#: SQL: the answer ``text`` is blank as Python has it (``not text.strip()``, unicode spaces
#: included); its one parameter is ``_whitespace()``. In C: no Python call per answer
BLANK = "trim(COALESCE(text, ''), ?) = ''"


#: every Unicode whitespace character is below this (the highest, U+3000, is the ideographic
#: space; a test checks the whole range), so listing them costs 12k checks, not 1.1 million
_WHITESPACE_END = 0x3001


@functools.cache
def _whitespace() -> str:
    """Every character ``str.strip()`` removes, for SQLite's ``trim``."""
    return "".join(ch for ch in map(chr, range(_WHITESPACE_END)) if ch.isspace())


def _blank_literal() -> str:
    """``BLANK`` with the whitespace inlined as an SQL literal (an index cannot hold a parameter)."""
    return BLANK.replace("?", "'" + _whitespace().replace("'", "''") + "'")


def report_indexes() -> dict[str, str]:
    """Indexes that serve ``cvb report``'s bulk reads (``Store.answer_summaries``) from the
    index alone: every cell's sample ids and verdicts in index order, and the blank answers
    (a partial index: only blank answers are in it). About 3 us more per answer stored."""
    return {
        "predictions_verdicts": "CREATE INDEX IF NOT EXISTS predictions_verdicts ON predictions"
                                " (task, vlm, codec, level, sample_id, judge, error)",
        "predictions_blank": "CREATE INDEX IF NOT EXISTS predictions_blank ON predictions (task, vlm, codec, level)"
                             f" WHERE error IS NULL AND {_blank_literal()}",
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def batched(items: Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    """``items`` (any iterable, read as it goes) ``size`` at a time."""
    it = iter(items)
    while part := list(itertools.islice(it, size)):
        yield part


def _json_load(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)


def _finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


class Store:
    """One results file. ``create=False`` opens an existing store only (``cvb export``/``report``)."""

    def __init__(self, path: str | Path, *, create: bool = True, notice: Callable[[str], None] | None = None):
        """``notice`` hears of one-time work on an older store (its new indexes) before it starts."""
        self.path = Path(path)
        self._notice = notice
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh and not create:
            raise MissingStoreError(f"no results store at {self.path}; `cvb run ... --store {self.path}` makes one")
        if fresh:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of results store {self.path}: {exc}") from None
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000,
                                        isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open results store {self.path}: {exc}") from None
        try:
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            version = self._existing_version()  # reads only: a refused file stays untouched
            if create:
                self._set_wal()
                self.conn.execute("PRAGMA synchronous=NORMAL")
                if version is None:
                    self._create_schema()
                self._add_indexes(upgrading=version is not None)
            if version is not None and create:
                self._add_columns()
            if create:
                self._fill_components()
            if create:
                self._mark_killed_runs()
            if version is not None or create:
                self._create_views(strict=create)
        except BaseException:
            self.conn.close()
            raise

    # ---- opening ---------------------------------------------------------------------------
    def _existing_version(self) -> int | None:
        """Schema version of an existing store, None for an empty file; refuses anything else."""
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a cvb results store ({exc})") from None
        if not tables:
            return None
        row = None
        if "meta" in tables:
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("application") == APPLICATION:
                row = meta.get("schema_version")
        if row is None:
            raise StoreError(f"{self.path} is an SQLite file but not a cvb results store; "
                             f"pass another --store")
        version = int(row)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"results store {self.path} has schema version {version}, newer than this cvb "
                f"understands ({SCHEMA_VERSION}); upgrade cvb or pass another --store. "
                f"The file was not changed.")
        if version < SCHEMA_VERSION:  # no older schema exists yet; a migration goes here
            raise StoreError(f"results store {self.path} has schema version {version}, which this "
                             f"cvb cannot migrate to {SCHEMA_VERSION}; pass another --store")
        return version

    #: columns added to schema version 1 after stores were made with it: (table, column, type)
    ADDED_COLUMNS = (("predictions", "scored_as", "TEXT"), ("predictions", "answer_meta", "TEXT"),
                     ("runs", "pid", "INTEGER"), ("runs", "pid_start", "TEXT"))

    #: tables added to schema version 1 after stores were made with it (created on a writable open)
    ADDED_TABLES = ("samples", "claims", "components")

    def _add_columns(self) -> None:
        """Columns and tables newer than the store (nullable, so older readers and rows are unaffected)."""
        schema = (Path(__file__).with_name("schema.sql")).read_text(encoding="utf-8")
        for table in self.ADDED_TABLES:
            start = schema.index(f"CREATE TABLE IF NOT EXISTS {table} (")
            try:
                self.conn.execute(schema[start:schema.index(");\n", start) + 2])
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        for table, column, kind in self.ADDED_COLUMNS:
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                try:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process added it first
                        raise self._error(exc) from None

    #: the tables and columns holding component labels, by category (``components``)
    LABEL_COLUMNS = (("vlm", "predictions", "vlm"), ("vlm", "cells", "vlm"), ("task", "predictions", "task"),
                     ("task", "cells", "task"), ("metric", "metrics", "metric"))

    def _fill_components(self) -> None:
        """Once per store: the parts of every label a store made before the ``components``
        table holds (``Identity.parse``), so its SQL reads like a new store's; later runs
        record their own (``record_components``). Labels are kept as they are: the store
        reports as it did."""
        try:
            if self.conn.execute("SELECT 1 FROM meta WHERE key='components'").fetchone():
                return
            with self.write() as c:
                self._insert_components(c, self._labels_in_parts())
                c.execute("INSERT OR IGNORE INTO meta VALUES ('components', 'filled')")
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _labels_in_parts(self) -> list[tuple[str, Identity]]:
        """(category, identity) of every label the tables hold, read from the labels."""
        labels = {(cat, label) for cat, table, col in self.LABEL_COLUMNS
                  for (label,) in self._read(f"SELECT DISTINCT {col} FROM {table}")}
        return [(cat, Identity.parse(label)) for cat, label in sorted(labels)]

    @staticmethod
    def _insert_components(c: sqlite3.Connection, items: Iterable[tuple[str, Identity]]) -> None:
        c.executemany("INSERT OR IGNORE INTO components (category, label, name, arg, options) VALUES (?,?,?,?,?)",
                      [(cat, i.label, i.name, i.arg, json.dumps(dict(i.options), ensure_ascii=False))
                       for cat, i in items])

    def record_components(self, items: Iterable[tuple[str, Identity]]) -> None:
        """(category, identity) of the components a run files results under."""
        with self.write() as c:
            self._insert_components(c, items)

    def components(self) -> list[dict[str, Any]]:
        """Every recorded component: {category, label, name, arg, options}; of a store made
        before the ``components`` table and opened read-only, read from its labels."""
        if not self._read("SELECT 1 FROM sqlite_master WHERE type='table' AND name='components'"):
            return [{"category": cat, "label": i.label, "name": i.name, "arg": i.arg, "options": dict(i.options)}
                    for cat, i in self._labels_in_parts()]
        return [{"category": cat, "label": label, "name": name, "arg": arg, "options": json.loads(options)}
                for cat, label, name, arg, options in self._read(
                    "SELECT category, label, name, arg, options FROM components ORDER BY category, label")]

    def component_labels(self, category: str, name: str | None = None) -> list[str]:
        """The recorded labels of the components of ``category`` (registered as ``name``, if given)."""
        return [label for (label,) in self._read(
            "SELECT label FROM components WHERE category=? AND (? IS NULL OR name=?) ORDER BY label",
            (category, name, name))]

    def adopt_vlm_label(self, vlm: str, earlier: Sequence[str], version: str | None) -> int:
        """File the answers stored under an ``earlier`` label of the same VLM under ``vlm``
        (cvb before typed identities named a model ``hf:./x`` or ``adapted:x[prefetch=on]``;
        now ``hf:/abs/x``, ``adapted:/abs/x``: ``Identity.read``), so a run never asks for an
        answer the store has. Only answers of model version ``version`` (any, when None) and failures move; an
        answer ``vlm`` already has stays where it is; the cells go along (a run rescores its
        own). Returns how many answers moved."""
        moved = 0
        with self.write() as c:
            for old in earlier:
                if old == vlm or not c.execute("SELECT 1 FROM predictions WHERE vlm=? LIMIT 1", (old,)).fetchone():
                    continue
                moved += c.execute("UPDATE OR IGNORE predictions SET vlm=? WHERE vlm=? AND (? IS NULL"
                                   " OR vlm_version IS ? OR vlm_version IS NULL)",
                                   (vlm, old, version, version)).rowcount
                if not c.execute("SELECT 1 FROM predictions WHERE vlm=? LIMIT 1", (old,)).fetchone():
                    c.execute("UPDATE OR IGNORE cells SET vlm=? WHERE vlm=?", (vlm, old))
                    c.execute("DELETE FROM cells WHERE vlm=?", (old,))
        return moved

    def _set_wal(self) -> None:
        for attempt in range(50):  # switching modes needs a moment alone with the file
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise self._error(exc) from None
                time.sleep(0.05 * (attempt + 1))
        raise StoreError(f"results store {self.path} stayed locked while opening it")

    def _create_schema(self) -> None:
        schema = (Path(__file__).with_name("schema.sql")).read_text(encoding="utf-8")
        meta = (f"INSERT OR IGNORE INTO meta VALUES ('application', '{APPLICATION}');\n"
                f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');\n"
                f"INSERT OR IGNORE INTO meta VALUES ('created_at', '{now_iso()}');\n")
        try:
            self.conn.executescript("BEGIN IMMEDIATE;\n" + schema + "\n" + meta + "COMMIT;\n")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise self._error(exc) from None

    def _add_indexes(self, upgrading: bool = False) -> None:
        """Indexes added to the schema since a store was made (a one-time build, then nothing)."""
        try:
            if upgrading and self._notice is not None:
                missing = sorted(set(report_indexes()) - self._index_names())
                if missing and self.conn.execute("SELECT 1 FROM predictions LIMIT 1").fetchone():
                    self._notice(f"{self.path}: building the indexes that `cvb report` reads ({', '.join(missing)}), "
                                 f"once for this store: a few seconds per million stored answers")
            self.conn.execute("CREATE INDEX IF NOT EXISTS predictions_by_vlm_version ON predictions (vlm, vlm_version)")
            for sql in report_indexes().values():
                self.conn.execute(sql)
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _create_views(self, strict: bool = True) -> None:
        """The flat SQL views (``views.sql``); a read-only open of a read-only file goes on without."""
        views = (Path(__file__).with_name("views.sql")).read_text(encoding="utf-8")
        try:
            self.conn.executescript(views)
        except sqlite3.Error as exc:
            if strict:
                raise self._error(exc) from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- transactions ----------------------------------------------------------------------
    def _error(self, exc: sqlite3.Error) -> StoreError:
        msg = str(exc)
        if "readonly" in msg or "read-only" in msg:
            return StoreError(f"results store {self.path} is read-only ({msg}); make it writable "
                              f"or pass another --store. Nothing stored was lost.")
        if "full" in msg:
            return StoreError(f"results store {self.path}: disk full ({msg}); free space and rerun: "
                              f"every unit committed so far is kept and the run resumes there.")
        if "locked" in msg or "busy" in msg:
            return StoreError(f"results store {self.path} stayed locked by another process for "
                              f"{BUSY_TIMEOUT_MS // 1000} s ({msg}); rerun to resume.")
        return StoreError(f"results store {self.path}: {msg}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it is stored, or (on any error) none of it."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _read_in(self, sql: str, keys: Iterable[str], prefix: Sequence[Any] = ()) -> Iterator[tuple]:
        """Rows of ``sql`` (holding one ``{in}``) for ``keys`` (any iterable, read as it goes)
        in chunks."""
        for part in batched(keys):
            yield from self._read(sql.format(in_=",".join("?" * len(part))), [*prefix, *part])

    # ---- runs ------------------------------------------------------------------------------
    def begin_run(self, provenance: Mapping[str, Any]) -> int:
        p = provenance
        pid, host, pid_start = run_process.this_process()
        with self.write() as c:
            cur = c.execute(
                "INSERT INTO runs (started_at, status, cvb_version, git_commit, host, python, platform,"
                " argv, options, plugins, prompts, pid, pid_start)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now_iso(), p["cvb_version"], p.get("git_commit"), p.get("host") or host, p.get("python"),
                 p.get("platform"), json.dumps(p.get("argv", [])), json.dumps(p.get("options", {})),
                 json.dumps(p.get("plugins", [])), json.dumps(p.get("prompts", {})), pid, pid_start))
            assert cur.lastrowid is not None  # an INSERT gives its row id
            return cur.lastrowid

    def _mark_killed_runs(self) -> None:
        """Runs left ``running`` by a process that is gone (killed with -9, the machine lost
        power: nothing recorded their end) become ``killed`` (``run_process``)."""
        try:
            rows = self.conn.execute("SELECT id, pid, host, pid_start FROM runs WHERE status='running'"
                                     " AND pid IS NOT NULL").fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        gone = [(rid,) for rid, pid, host, start in rows if run_process.is_gone(pid, host, start)]
        if gone:
            with self.write() as c:
                c.executemany("UPDATE runs SET status='killed' WHERE id=? AND status='running'", gone)
                c.executemany("DELETE FROM claims WHERE run_id=?", gone)  # free for any run (cvb.run.claims)

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any] | None = None) -> None:
        with self.write() as c:
            c.execute("UPDATE runs SET finished_at=?, status=?, summary=? WHERE id=?",
                      (now_iso(), status, json.dumps(summary, default=str) if summary else None, run_id))

    # ---- images ----------------------------------------------------------------------------
    def images(self, task: str, keys: Sequence[str] | None = None) -> dict[str, StoredImage]:
        """image key -> stored image (content hash, error) for one task (``keys``: only those)."""
        if keys is not None:
            return {k: StoredImage(h, e) for k, h, e in self._read_in(
                "SELECT image_key, content_hash, error FROM images WHERE task=? AND image_key IN ({in_})",
                keys, (task,))}
        return {k: StoredImage(h, e) for k, h, e in self._read(
            "SELECT image_key, content_hash, error FROM images WHERE task=?", (task,))}

    def add_images(self, task: str, rows: Iterable[ImageRow]) -> None:
        """Images of a task; a row whose hash is unchanged is left alone (it keeps the decode
        error or size found by an earlier run)."""
        with self.write() as c:
            c.executemany(
                "INSERT INTO images (task, image_key, content_hash, num_bytes, error) VALUES (?,?,?,?,?)"
                " ON CONFLICT (task, image_key) DO UPDATE SET content_hash=excluded.content_hash,"
                " num_bytes=excluded.num_bytes, error=excluded.error, width=NULL, height=NULL"
                " WHERE images.content_hash IS NOT excluded.content_hash",
                [(task, *ImageRow(*r)) for r in rows])

    def decode_errors(self, hashes: Sequence[str]) -> dict[str, str]:
        """content hash -> why the image could not be decoded, for the hashes that failed."""
        return {h: e for h, e in self._read_in(
            "SELECT DISTINCT content_hash, error FROM images WHERE error IS NOT NULL"
            " AND content_hash IN ({in_})", hashes)}

    # ---- what each sample asks ---------------------------------------------------------------
    def sample_versions(self, task: str) -> dict[str, tuple[str, str]]:
        """sample id -> (task_version, prompt_sha) of the stored questions of one task label."""
        return {sid: (v, p) for sid, v, p in self._read(
            "SELECT sample_id, task_version, prompt_sha FROM samples WHERE task=?", (task,))}

    def save_samples(self, rows: Sequence[SampleRow]) -> None:
        """What samples ask (``SampleRow``); replaces a sample's row."""
        with self.write() as c:
            c.executemany("INSERT OR REPLACE INTO samples (task, sample_id, task_version, prompt_sha, image,"
                          " image_path, kind, question, options, gold, category, prompt, generation, meta)"
                          " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    # ---- compressed images and their metrics ------------------------------------------------
    def compressed(self, keys: Sequence[str]) -> dict[str, str | None]:
        """compressed key -> error (None: usable) for the keys that have a row."""
        return dict(self._read_in("SELECT key, error FROM compressed WHERE key IN ({in_})", keys))

    def metric_status(self, keys: Sequence[str]) -> dict[str, dict[str, str | None]]:
        """compressed key -> {metric: error} for the metrics stored for it."""
        out: dict[str, dict[str, str | None]] = {}
        for key, metric, error in self._read_in(
                "SELECT key, metric, error FROM metrics WHERE key IN ({in_})", keys):
            out.setdefault(key, {})[metric] = error
        return out

    def save_compression_results(self, compressed: Sequence[CompressedRow], metrics: Sequence[MetricRow],
                                 images: Sequence[ImageInfo], run_id: int) -> None:
        """One transaction for a batch of finished compression units: the compressed images,
        their metrics, and what decoding the originals found. A stored success is never
        replaced; a stored error is (that is how ``--retry-failed`` mends it).
        """
        ns = time.time_ns()
        with self.write() as c:
            c.executemany(
                "INSERT INTO compressed (key, content_hash, codec, codec_version, level, params, num_bytes,"
                " bpp, width, height, encode_s, decode_s, error, run_id, updated_ns)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO UPDATE SET"
                " num_bytes=excluded.num_bytes, bpp=excluded.bpp, width=excluded.width,"
                " height=excluded.height, encode_s=excluded.encode_s, decode_s=excluded.decode_s,"
                " error=excluded.error, run_id=excluded.run_id, updated_ns=excluded.updated_ns"
                " WHERE compressed.error IS NOT NULL",
                [(*CompressedRow(*r), run_id, ns) for r in compressed])
            c.executemany(
                "INSERT INTO metrics (key, metric, value, error, run_id, updated_ns) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT (key, metric) DO UPDATE SET value=excluded.value, error=excluded.error,"
                " run_id=excluded.run_id, updated_ns=excluded.updated_ns WHERE metrics.error IS NOT NULL",
                [(*MetricRow(*r), run_id, ns) for r in metrics])
            self._set_image_info(c, images)

    def set_image_info(self, images: Sequence[ImageInfo]) -> None:
        """What decoding images found: their size, or why they failed."""
        with self.write() as c:
            self._set_image_info(c, images)

    @staticmethod
    def _set_image_info(c: sqlite3.Connection, images: Sequence[ImageInfo]) -> None:
        c.executemany("UPDATE images SET width=?, height=?, error=? WHERE content_hash=?",
                      [(i.width, i.height, i.error, i.content_hash) for i in map(ImageInfo._make, images)])

    def written_since(self, keys: Sequence[str], since_ns: int) -> set[str]:
        """Those of the compressed ``keys`` whose row, or a metric of it, was written at or after
        ``since_ns``: what a run beside this one settled since this one began."""
        out = {k for (k,) in self._read_in("SELECT key FROM compressed WHERE updated_ns >= ? AND key IN ({in_})",
                                           keys, (since_ns,))}
        return out | {k for (k,) in self._read_in(
            "SELECT DISTINCT key FROM metrics WHERE updated_ns >= ? AND key IN ({in_})", keys, (since_ns,))}

    def answers_since(self, task: str, vlm: str, codec: str, level: str, sample_ids: Sequence[str],
                      since_ns: int) -> dict[str, StoredAnswer]:
        """sample id -> stored answer (its text left out) of the answers of one cell among
        ``sample_ids`` written at or after ``since_ns`` (by a run beside this one)."""
        return {r[0]: StoredAnswer._make(r) for r in self._read_in(
            "SELECT sample_id, key, task_version, prompt_sha, error, NULL, vlm_version FROM predictions"
            " WHERE task=? AND vlm=? AND codec=? AND level=? AND updated_ns >= ? AND sample_id IN ({in_})",
            sample_ids, (task, vlm, codec, level, since_ns))}

    def mean_bpp(self, keys: Sequence[str]) -> float | None:
        total, n = 0.0, 0
        for s, k in self._read_in(
                "SELECT SUM(bpp), COUNT(bpp) FROM compressed WHERE error IS NULL AND key IN ({in_})", keys):
            total, n = total + (s or 0.0), n + k
        return total / n if n else None

    def mean_metrics(self, keys: Sequence[str], names: Sequence[str]) -> dict[str, float]:
        sums: dict[str, list[float]] = {}
        for metric, s, k in self._read_in(
                "SELECT metric, SUM(value), COUNT(value) FROM metrics WHERE value IS NOT NULL"
                " AND key IN ({in_}) GROUP BY metric", keys):
            acc = sums.setdefault(metric, [0.0, 0])
            acc[0] += s
            acc[1] += k
        return {m: sums[m][0] / sums[m][1] for m in names if m in sums and sums[m][1]}

    # ---- predictions -----------------------------------------------------------------------
    def iter_predictions(self, task: str, vlm: str, codec: str, level: str,
                         with_text: bool = False, with_version: bool = False) -> Iterator[StoredAnswer]:
        """The stored answers of one cell, streamed (``text``, ``vlm_version``: None unless asked
        for, so a check of what is stored never reads the texts)."""
        cols = ("sample_id, key, task_version, prompt_sha, error" + (", text" if with_text else ", NULL")
                + (", vlm_version" if with_version else ", NULL"))
        try:
            cur = self.conn.execute(
                f"SELECT {cols} FROM predictions WHERE task=? AND vlm=? AND codec=? AND level=?",
                (task, vlm, codec, level))
            yield from map(StoredAnswer._make, cur)
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def predictions(self, task: str, vlm: str, codec: str, level: str,
                    with_text: bool = False) -> dict[str, StoredAnswer]:
        """sample id -> stored answer, of one cell."""
        return {r.sample_id: r for r in self.iter_predictions(task, vlm, codec, level, with_text, True)}

    def predictions_of(self, task: str, vlm: str, codec: str, level: str,
                       sample_ids: Sequence[str]) -> dict[str, StoredAnswer]:
        """sample id -> stored answer (with text and model version) of the given samples of one
        cell (looked up by the unique index; what streamed scoring reads a chunk of samples at a
        time)."""
        return {r[0]: StoredAnswer._make(r) for r in self._read_in(
            "SELECT sample_id, key, task_version, prompt_sha, error, text, vlm_version FROM predictions"
            " WHERE task=? AND vlm=? AND codec=? AND level=? AND sample_id IN ({in_})",
            sample_ids, (task, vlm, codec, level))}

    def answer_summaries(self, task: str, vlm: str) -> dict[tuple[str, str], tuple[int, int, str, str]]:
        """(codec, level) -> (answered, empty, ids, verdicts) of every cell of ``task`` x ``vlm``,
        aggregated by SQLite in one pass (``cvb report`` reads millions of answers this way):
        ``answered`` the answers without error, ``empty`` those of them that are blank (only
        whitespace, as ``str.strip`` has it), ``ids`` the sample ids joined by ``ID_SEP`` and
        ``verdicts`` one character per sample in the same order: ``1``/``0`` the stored
        verdict (a failed sample ``0``), ``x`` any other (none, or a grade).

        With ``report_indexes`` (made when ``cvb run`` opens the store) both come from indexes
        only; a store no newer cvb has written to yet is read the same way through its rows."""
        verdicts = (" group_concat(sample_id, ?),"
                    " group_concat(CASE WHEN error IS NOT NULL OR judge = 0 THEN '0' WHEN judge = 1 THEN '1'"
                    " ELSE 'x' END, '')")
        if self._has_report_indexes():
            rows = self._read(f"SELECT codec, level, COALESCE(SUM(error IS NULL), 0), 0, {verdicts}"
                              " FROM predictions WHERE task=? AND vlm=? GROUP BY codec, level", (ID_SEP, task, vlm))
            blank = dict(((c, lv), k) for c, lv, k in self._read(
                f"SELECT codec, level, COUNT(*) FROM predictions WHERE task=? AND vlm=? AND error IS NULL"
                f" AND {_blank_literal()} GROUP BY codec, level", (task, vlm)))
            rows = [(c, lv, a, blank.get((c, lv), 0), ids, v) for c, lv, a, _, ids, v in rows]
        else:
            rows = self._read(
                "SELECT codec, level, COALESCE(SUM(error IS NULL), 0),"
                f" COALESCE(SUM(error IS NULL AND {BLANK}), 0), {verdicts}"
                " FROM predictions WHERE task=? AND vlm=? GROUP BY codec, level", (_whitespace(), ID_SEP, task, vlm))
        return {(codec, level): (answered, empty, ids or "", verdicts or "")
                for codec, level, answered, empty, ids, verdicts in rows}

    def _has_report_indexes(self) -> bool:
        return set(report_indexes()) <= self._index_names()

    def _index_names(self) -> set[str]:
        return {r[0] for r in self._read(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='predictions'")}

    def answer_meta_counts(self, task: str, vlm: str, key: str) -> dict[tuple[str, str], dict[str | None, int]]:
        """``{(codec, level): {value: answers}}``: what the usable answers of ``vlm`` on ``task``
        (the label answers are stored under) say for ``key`` of their ``answer_meta`` (None:
        nothing said), e.g. the adapter's ``condition``."""
        if not key.replace("_", "").isalnum():
            raise ValueError(f"answer_meta key {key!r}: letters, digits and _ only")
        out: dict[tuple[str, str], dict[str | None, int]] = {}
        for codec, level, value, n in self._read(
                f"SELECT codec, level, json_extract(answer_meta, '$.{key}'), COUNT(*) FROM predictions"
                " WHERE task=? AND vlm=? AND error IS NULL GROUP BY 1, 2, 3", (task, vlm)):
            out.setdefault((codec, level), {})[None if value is None else str(value)] = int(n)
        return out

    def answer_texts(self, task: str, vlm: str) -> dict[tuple[str, str], dict[str, str]]:
        """(codec, level) -> {sample id: text} of the answers without error of every cell of
        ``task`` x ``vlm``, in one query (what ``cvb report`` rescores). Each cell's ids and
        texts come as two JSON arrays in one order (SQLite quotes them, ``json`` reads them back
        in C): a third of the time of a Python tuple per answer."""
        return {(codec, level): dict(zip(json.loads(ids), json.loads(texts)))
                for codec, level, ids, texts in self._read(
            "SELECT codec, level, json_group_array(sample_id), json_group_array(text) FROM predictions"
            " WHERE task=? AND vlm=? AND error IS NULL GROUP BY codec, level", (task, vlm))}

    def report_state(self) -> dict[str, Any]:
        """What changes whenever anything is written (``cvb report``'s cached statistics are
        keyed on it): the store's creation time, the newest run, its status and end, the
        highest answer row; ``running`` when the newest run has not finished."""
        created = dict(self._read("SELECT key, value FROM meta")).get("created_at")
        run = self._read("SELECT id, status, finished_at FROM runs ORDER BY id DESC LIMIT 1")
        top = self._read("SELECT MAX(id) FROM predictions")[0][0]
        return {"created": created, "run": list(run[0]) if run else None, "answers": top,
                "running": bool(run) and run[0][1] == "running"}

    def cell_fingerprints(self) -> dict[tuple[str, str, str, str], list]:
        """(task, vlm, codec, level) -> [fingerprint, score, n] of every stored cell."""
        return {(t, v, c, lv): [fp, score, n] for t, v, c, lv, fp, score, n in self._read(
            "SELECT task, vlm, codec, level, fingerprint, score, n FROM cells")}

    def answer_counts(self, task: str, vlm: str, codec: str, level: str) -> tuple[int, int]:
        """(answered, empty) of one cell: its answers without an error, and how many of them are
        blank (``str.strip()`` leaves nothing). Counted in SQL, so no answer is held in memory."""
        row = self._read(f"SELECT COUNT(*), COALESCE(SUM({BLANK}), 0) FROM predictions"
                         " WHERE task=? AND vlm=? AND codec=? AND level=? AND error IS NULL",
                         (_whitespace(), task, vlm, codec, level))[0]
        return int(row[0]), int(row[1])

    def save_predictions(self, rows: Sequence[PredictionRow], run_id: int) -> None:
        """Answers (``PredictionRow``). An existing answer is replaced only when it failed or was
        given for other inputs (another image, prompt, task version or model version)."""
        if not rows:
            return
        ns = time.time_ns()
        with self.write() as c:
            c.executemany(
                "INSERT INTO predictions (task, task_version, sample_id, vlm, vlm_version, codec, level,"
                " key, prompt_sha, text, parsed, judge, error, latency_s, answer_meta, run_id, updated_ns)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (task, vlm, codec, level, sample_id) DO UPDATE SET"
                " task_version=excluded.task_version, vlm_version=excluded.vlm_version, key=excluded.key,"
                " prompt_sha=excluded.prompt_sha, text=excluded.text, parsed=excluded.parsed,"
                " judge=excluded.judge, error=excluded.error, latency_s=excluded.latency_s,"
                " answer_meta=excluded.answer_meta, run_id=excluded.run_id, updated_ns=excluded.updated_ns"
                " WHERE predictions.error IS NOT NULL OR predictions.key IS NOT excluded.key"
                " OR predictions.prompt_sha IS NOT excluded.prompt_sha"
                " OR predictions.task_version IS NOT excluded.task_version"
                " OR predictions.vlm_version IS NOT excluded.vlm_version",
                [(*PredictionRow(*r), run_id, ns) for r in rows])

    def set_verdicts(self, task: str, vlm: str, codec: str, level: str, scored_as: str,
                     verdicts: Mapping[str, float | None]) -> None:
        """The per-sample ``judge`` of stored answers (``task``: the label they are stored under)
        as the rule of cell ``scored_as`` gives it, and ``scored_as`` itself: answers shared by
        several protocols say whose verdict they carry."""
        if not verdicts:
            return
        with self.write() as c:
            c.executemany("UPDATE predictions SET judge=?, scored_as=? WHERE task=? AND vlm=? AND codec=?"
                          " AND level=? AND sample_id=? AND error IS NULL",
                          [(v, scored_as, task, vlm, codec, level, sid) for sid, v in verdicts.items()])

    def cell_stamp(self, task: str, vlm: str, codec: str, level: str) -> tuple:
        """Changes whenever any prediction of the cell is written: (count, last write, errors)."""
        return tuple(self._read(
            "SELECT COUNT(*), COALESCE(MAX(updated_ns), 0), COALESCE(SUM(error IS NOT NULL), 0)"
            " FROM predictions WHERE task=? AND vlm=? AND codec=? AND level=?",
            (task, vlm, codec, level))[0])

    # ---- cells -----------------------------------------------------------------------------
    def cell_state(self, task: str, vlm: str, codec: str, level: str) -> tuple[str | None, str | None]:
        """(fingerprint, error) of a stored cell; (None, None) when it was never scored."""
        rows = self._read("SELECT fingerprint, error FROM cells WHERE task=? AND vlm=? AND codec=? AND level=?",
                          (task, vlm, codec, level))
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def save_cell(self, cell: Mapping[str, Any], fingerprint: str, run_id: int) -> None:
        c = cell
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cells (task, vlm, codec, level, task_version, codec_kind, rate_rank,"
                " n, n_failed, score, score_metric, higher_is_better, details, bpp, metrics, error,"
                " fingerprint, run_id, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (c["task"], c["vlm"], c["codec"], c["level"], c["task_version"], c.get("codec_kind"),
                 c.get("rate_rank"), c["n"], c["n_failed"], _finite(c.get("score")), c.get("score_metric"),
                 None if c.get("higher_is_better") is None else int(bool(c["higher_is_better"])),
                 json.dumps(c.get("details") or {}), _finite(c.get("bpp")),
                 json.dumps(c.get("metrics") or {}), c.get("error"), fingerprint, run_id, now_iso()))

    def cells(self, task: str | None = None, vlm: str | None = None) -> list[dict[str, Any]]:
        """Scored cells, codec ``none`` first, then each codec's levels lowest rate first.

        Keys: task, vlm, codec, level, rate_rank (grows with the level's bitrate; orders cells
        with no bpp), bpp (mean), metrics {name: mean}, score, score_metric, higher_is_better,
        details {..}, n, n_failed, and error (why the cell has no score, else None); protocol
        and judge (what scored it, from the task label: ``cvb`` and None by default).
        ``cvb report`` reads these.
        """
        where, params = [], []
        for col, value in (("task", task), ("vlm", vlm)):
            if value is not None:
                where.append(f"{col}=?")
                params.append(value)
        sql = ("SELECT task, vlm, codec, level, rate_rank, bpp, metrics, score, score_metric, higher_is_better,"
               " details, n, n_failed, error FROM cells" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY task, vlm, codec != 'none', codec, rate_rank, level")
        out = []
        for (t, v, codec, level, rank, bpp, metrics, score, metric, hib, details, n, n_failed,
             error) in self._read(sql, params):
            out.append({
                "task": t, **scoring_of(t), "vlm": v, "codec": codec, "level": level, "rate_rank": rank, "bpp": bpp,
                "metrics": _json_load(metrics, {}), "score": score, "score_metric": metric,
                "higher_is_better": None if hib is None else bool(hib),
                "details": _json_load(details, {}), "n": n, "n_failed": n_failed, "error": error,
            })
        return out

    def component_versions(self) -> dict[str, dict[str, list]]:
        """What made the stored numbers: ``{"vlms": {label: [versions]}, "tasks": {label:
        [versions]}, "codecs": {name: [{"version", "params"}]}}`` (``cvb report``'s provenance)."""
        vlms = self._vlm_versions()
        tasks: dict[str, list] = {}
        for t, ver in self._read("SELECT DISTINCT task, task_version FROM cells ORDER BY task, task_version"):
            tasks.setdefault(t, []).append(ver)
        codecs: dict[str, list] = {}
        for c, ver, params in self._read(
                "SELECT DISTINCT codec, codec_version, params FROM compressed ORDER BY codec, codec_version"):
            codecs.setdefault(c, []).append({"version": ver, "params": _json_load(params, {})})
        return {"vlms": vlms, "tasks": tasks, "codecs": codecs}

    def _vlm_versions(self) -> dict[str, list]:
        """Distinct (vlm, vlm_version), None first, by skipping along the (vlm, vlm_version)
        index: a few lookups per pair instead of reading tens of millions of answers."""
        out: dict[str, list] = {}
        vlm = self._read("SELECT MIN(vlm) FROM predictions")[0][0]
        while vlm is not None:
            versions: list = []
            if self._read("SELECT EXISTS (SELECT 1 FROM predictions WHERE vlm=? AND vlm_version IS NULL)",
                          (vlm,))[0][0]:
                versions.append(None)
            ver = self._read("SELECT MIN(vlm_version) FROM predictions WHERE vlm=?", (vlm,))[0][0]
            while ver is not None:
                versions.append(ver)
                ver = self._read("SELECT MIN(vlm_version) FROM predictions WHERE vlm=? AND vlm_version>?",
                                 (vlm, ver))[0][0]
            out[vlm] = versions
            vlm = self._read("SELECT MIN(vlm) FROM predictions WHERE vlm>?", (vlm,))[0][0]
        return out

    # ---- failures and export ---------------------------------------------------------------
    def failures(self, task: str | None = None, vlm: str | None = None) -> list[dict[str, Any]]:
        """Every stored failure: {stage, task, vlm, codec, level, item, error}.

        Stages: ``image`` (unreadable), ``compress``, ``metric``, ``predict``, ``score``.
        """
        out: list[dict[str, Any]] = []
        t_filter = " AND task=?" if task is not None else ""
        t_params = [task] if task is not None else []
        for t, key, err in self._read(
                "SELECT task, image_key, error FROM images WHERE error IS NOT NULL" + t_filter
                + " ORDER BY task, image_key", t_params):
            out.append({"stage": "image", "task": t, "vlm": None, "codec": None, "level": None,
                        "item": key, "error": err})
        hash_filter = (" AND content_hash IN (SELECT content_hash FROM images WHERE task=?)"
                       if task is not None else "")
        for key, codec, level, ch, err in self._read(
                "SELECT key, codec, level, content_hash, error FROM compressed WHERE error IS NOT NULL"
                + hash_filter + " ORDER BY codec, level, key", t_params):
            out.append({"stage": "compress", "task": task, "vlm": None, "codec": codec, "level": level,
                        "item": ch, "error": err})
        for key, metric, codec, level, err in self._read(
                "SELECT m.key, m.metric, c.codec, c.level, m.error FROM metrics m JOIN compressed c"
                " ON c.key = m.key WHERE m.error IS NOT NULL"
                + hash_filter.replace("content_hash", "c.content_hash") + " ORDER BY c.codec, c.level",
                t_params):
            out.append({"stage": "metric", "task": task, "vlm": None, "codec": codec, "level": level,
                        "item": f"{metric} {key}", "error": err})
        pv_filter = t_filter + (" AND vlm=?" if vlm is not None else "")
        pv_params = t_params + ([vlm] if vlm is not None else [])
        for t, v, codec, level, sid, err in self._read(
                "SELECT task, vlm, codec, level, sample_id, error FROM predictions WHERE error IS NOT NULL"
                + pv_filter + " ORDER BY task, vlm, codec, level, sample_id", pv_params):
            out.append({"stage": "predict", "task": t, "vlm": v, "codec": codec, "level": level,
                        "item": sid, "error": err})
        for t, v, codec, level, err in self._read(
                "SELECT task, vlm, codec, level, error FROM cells WHERE error IS NOT NULL"
                + pv_filter + " ORDER BY task, vlm, codec, level", pv_params):
            out.append({"stage": "score", "task": t, "vlm": v, "codec": codec, "level": level,
                        "item": None, "error": err})
        return out

    def export_columns(self, what: str) -> list[str]:
        """The column names of ``export_rows(what)``, known even when the table is empty."""
        if what == "cells":
            return ["task", "protocol", "judge", "vlm", "codec", "level", "rate_rank", "bpp", "metrics", "score",
                    "score_metric", "higher_is_better", "details", "n", "n_failed", "error"]
        if what == "failures":
            return ["stage", "task", "vlm", "codec", "level", "item", "error"]
        if what in ("samples", "versions"):
            from .sample_rows import COLUMNS

            return list(COLUMNS[what])
        if what == "components":
            return ["category", "label", "name", "arg", "options"]
        if what not in EXPORTS:
            raise StoreError(f"cannot export {what!r}; choose one of {', '.join(EXPORTS)}")
        return [r[1] for r in self._read(f"PRAGMA table_info({what})")]

    def export_rows(self, what: str) -> Iterator[dict[str, Any]]:
        """Rows of one table as dicts, streamed (JSON columns decoded); ``cells`` as ``cells()``."""
        if what not in EXPORTS:
            raise StoreError(f"cannot export {what!r}; choose one of {', '.join(EXPORTS)}")
        if what == "cells":
            yield from self.cells()
            return
        if what == "failures":
            yield from self.failures()
            return
        if what == "components":
            yield from self.components()
            return
        if what in ("samples", "versions"):
            from . import sample_rows

            yield from (sample_rows.sample_rows(self) if what == "samples" else sample_rows.version_rows(self))
            return
        json_cols = {"runs": ("argv", "options", "plugins", "prompts", "summary"),
                     "compressed": ("params",), "predictions": ("answer_meta",)}.get(what, ())
        order = {"predictions": "task, vlm, codec, level, sample_id", "compressed": "codec, level, key",
                 "metrics": "key, metric", "images": "task, image_key", "runs": "id"}[what]
        try:
            cur = self.conn.execute(f"SELECT * FROM {what} ORDER BY {order}")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        names = [d[0] for d in cur.description]
        for row in cur:
            item = dict(zip(names, row))
            for col in json_cols:
                item[col] = _json_load(item[col], None)
            yield item
