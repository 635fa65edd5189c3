"""A task's samples kept on disk while a run needs them, so memory does not grow with the task.

``cvb run`` reads a task's ``samples()`` once, while planning, into a spool: a private temporary
SQLite database (on disk; SQLite keeps a couple of MB of pages in memory and removes the file
when the run ends). Each row holds a sample's position in the task's order, its id (unique:
a second sample with the same id is an error naming it), its image key, its prompt fingerprint
and the sample itself (pickled, its image left out: images are kept once per key in the plan).
The runner reads samples back by position through a small page cache, in the order that keeps
each image's samples together, so a 1M-question task costs the memory of a few thousand
samples.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from collections import OrderedDict
from dataclasses import fields
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..types import ImageSource, Sample

_INSERT_BATCH = 2000  # samples written per statement batch while planning
_PAGE = 256  # samples read back at once (consecutive in the image-grouped order)
_PAGES = 32  # pages kept: at most _PAGE * _PAGES samples in memory


# a sample is spooled as the tuple of its fields but the image (kept once per key): 3-4x faster
# than pickling the dataclass. A new Sample field must be added to _dumps and _sample.
assert [f.name for f in fields(Sample)] == ["id", "image", "question", "kind", "answer", "options", "category",
                                              "meta"], "Sample changed: update the spool's _dumps and _sample"


def _dumps(s: Sample) -> bytes:
    return pickle.dumps((s.id, s.question, s.kind, s.answer, s.options, s.category, s.meta), protocol=5)


class DuplicateSampleId(ValueError):
    """A task yielded the same sample id twice (``sample_id`` names it)."""

    def __init__(self, sample_id: str):
        super().__init__(sample_id)
        self.sample_id = sample_id


class SampleSpool:
    """The samples of one task: ``len``, ``spool[i]`` (a ``Sample``), ``prompt_sha(i)``,
    ``image_key(i)``, ``order()`` (positions with each image's samples together),
    ``chunks(n)`` (in the task's order), ``lookup(ids)`` (id -> position and fingerprints)."""

    def __init__(self, samples: Iterable[Sample], prompt_sha: Callable[[Sample], str],
                 check: Callable[[int, Any], Sample] = lambda i, s: s):
        # "": a temporary file, removed on close; autocommit, each write batch its own transaction
        self.conn = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self.conn.execute("CREATE TABLE s (pos INTEGER PRIMARY KEY, id TEXT NOT NULL, image TEXT NOT NULL,"
                          " image_rank INTEGER NOT NULL, prompt_sha TEXT NOT NULL, blob BLOB NOT NULL)")
        self.conn.execute("CREATE UNIQUE INDEX s_id ON s (id)")
        #: the first sample's ImageSource of each image key (what the runner loads and hashes)
        self.images: dict[str, ImageSource] = {}
        digest = hashlib.sha1()
        rank: dict[str, int] = {}
        batch: list[tuple] = []
        for n, s in enumerate(samples):
            s = check(n, s)
            key = s.image.key
            if key not in rank:
                rank[key] = len(rank)
                self.images[key] = s.image
            digest.update((("\n" if n else "") + s.id).encode())
            batch.append((n, s.id, key, rank[key], prompt_sha(s), _dumps(s)))
            if len(batch) >= _INSERT_BATCH:
                self._insert(batch)
                batch = []
        self._insert(batch)
        self.count = self.conn.execute("SELECT COUNT(*) FROM s").fetchone()[0]
        self.ids_hash = digest.hexdigest()
        self.conn.execute("CREATE INDEX s_order ON s (image_rank, pos)")
        self._pages: OrderedDict[int, dict[int, tuple[Sample, str]]] = OrderedDict()
        self._page_of: dict[int, int] = {}  # position -> page (of the pages kept)

    def _insert(self, rows: Sequence[tuple]) -> None:
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany("INSERT INTO s VALUES (?,?,?,?,?,?)", rows)
            self.conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            self.conn.execute("ROLLBACK")
            seen: set[str] = set()
            for row in rows:  # a duplicate within this batch, or of an earlier one
                if row[1] in seen or self.conn.execute("SELECT 1 FROM s WHERE id=?", (row[1],)).fetchone():
                    raise DuplicateSampleId(row[1]) from None
                seen.add(row[1])
            raise

    def close(self) -> None:
        self.conn.close()

    def __len__(self) -> int:
        return self.count

    # ---- reading back ------------------------------------------------------------------------
    def _entry(self, pos: int) -> tuple[Sample, str]:
        page = self._page_of.get(pos)
        if page is not None:
            self._pages.move_to_end(page)
            return self._pages[page][pos]
        rank = self.conn.execute("SELECT image_rank FROM s WHERE pos=?", (pos,)).fetchone()
        if rank is None:
            raise IndexError(pos)
        # a page: this sample and those after it in the image-grouped order (what comes next)
        rows = self.conn.execute(
            "SELECT pos, image, prompt_sha, blob FROM s WHERE (image_rank, pos) >= (?, ?)"
            " ORDER BY image_rank, pos LIMIT ?", (rank[0], pos, _PAGE)).fetchall()
        page = rows[0][0]
        entries = {p: (self._sample(key, blob), sha) for p, key, sha, blob in rows}
        self._pages[page] = entries
        for p in entries:
            self._page_of[p] = page
        while len(self._pages) > _PAGES:
            old_page, old = self._pages.popitem(last=False)
            for p in old:
                if self._page_of.get(p) == old_page:
                    del self._page_of[p]
        return entries[pos]

    def _sample(self, key: str, blob: bytes) -> Sample:
        sid, question, kind, answer, options, category, meta = pickle.loads(blob)
        return Sample(sid, self.images[key], question, kind, answer, options, category, meta)

    def __getitem__(self, pos: int) -> Sample:
        if not isinstance(pos, int):
            raise TypeError("a sample spool is read by position (int)")
        if pos < 0:
            pos += self.count
        return self._entry(pos)[0]

    def prompt_sha(self, pos: int) -> str:
        return self._entry(pos)[1]

    def __iter__(self) -> Iterator[Sample]:
        for chunk in self.chunks(_PAGE * 4):
            yield from (s for _, s, _ in chunk)

    def chunks(self, size: int) -> Iterator[list[tuple[int, Sample, str]]]:
        """(position, sample, prompt fingerprint) in the task's order, ``size`` at a time."""
        for start in range(0, self.count, size):
            rows = self.conn.execute("SELECT pos, image, prompt_sha, blob FROM s WHERE pos >= ? AND pos < ?"
                                     " ORDER BY pos", (start, start + size)).fetchall()
            yield [(p, self._sample(key, blob), sha) for p, key, sha, blob in rows]

    def order(self) -> Iterator[int]:
        """Every position, each image's samples together (images in order of first use)."""
        cur = self.conn.execute("SELECT pos FROM s ORDER BY image_rank, pos")
        while True:
            rows = cur.fetchmany(4096)
            if not rows:
                return
            for (p,) in rows:
                yield p

    def lookup(self, ids: Sequence[str]) -> dict[str, tuple[int, str, str]]:
        """sample id -> (position, image key, prompt fingerprint), for the ids of this task."""
        out: dict[str, tuple[int, str, str]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            out.update((sid, (pos, key, sha)) for sid, pos, key, sha in self.conn.execute(
                f"SELECT id, pos, image, prompt_sha FROM s WHERE id IN ({','.join('?' * len(part))})", part))
        return out
