"""A task's samples kept on disk while a run needs them, so memory does not grow with the task.

``cvb run`` reads a task's ``samples()`` once, while planning, into a spool: a private temporary
SQLite database (on disk; SQLite keeps a couple of MB of pages in memory and removes the file
when the run ends). Each row holds a sample's position in the task's order, its id (unique:
a second sample with the same id is an error naming it), its image key, its prompt fingerprint
and the sample itself (pickled, its image left out). Each distinct image has a row of its own
(``images``): its source (a path, or the encoded bytes a task gave, kept on disk until read),
and, once the plan has read it, its content hash, size or the error reading it. The runner
reads samples back by position through a small page cache, in the order that keeps each
image's samples together, so a 1M-question task of as many images costs the memory of a few
thousand samples.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

from .. import temp_db
from ..types import ImageSource, Sample

_INSERT_BATCH = 2000  # samples written per statement batch while planning
_PAGE = 256  # samples read back at once (consecutive in the image-grouped order)
_PAGES = 32  # pages kept: at most _PAGE * _PAGES samples in memory
_RECENT_IMAGES = 4096  # image key -> rank kept while spooling (the rest is looked up)
_IMAGE_LRU = 256  # images' rows kept while reading back


# a sample is spooled as the tuple of its fields but the image (kept once per key): 3-4x faster
# than pickling the dataclass. A new Sample field must be added to _dumps and _sample.
assert [f.name for f in fields(Sample)] == ["id", "image", "question", "kind", "answer", "options", "category",
                                              "meta", "more_images"], \
    "Sample changed: update the spool's _dumps and _sample"


def _dumps(s: Sample) -> bytes:
    """The sample without its images; the keys of its ``more_images`` (their sources have rows
    of their own in ``images``, like any image's), appended only where there are some."""
    fields_: tuple = (s.id, s.question, s.kind, s.answer, s.options, s.category, s.meta)
    if s.more_images:
        fields_ += (tuple(src.key for src in s.more_images),)
    return pickle.dumps(fields_, protocol=5)


#: a sample read back: (sample, prompt fingerprint, image content hash, image error)
Entry = tuple[Sample, str, "str | None", "str | None"]


@dataclass
class TaskImage:
    """One distinct image of a task: where it comes from, and what reading it found."""

    source: ImageSource
    content_hash: str | None  # None: the bytes could not be read
    num_bytes: int | None
    error: str | None


class SpooledImage(ImageSource):
    """An image whose encoded bytes wait in the spool, read each time they are needed (a
    sample read back from the spool holds no image bytes). Pickled (for a worker process),
    it becomes a plain ``ImageSource`` holding its bytes."""

    __slots__ = ("_read",)
    _read: Callable[[], bytes]

    def __init__(self, key: str, read: Callable[[], bytes]):
        super().__init__(key)
        object.__setattr__(self, "_read", read)

    def read_bytes(self) -> bytes:
        return self._read()

    def __reduce__(self):
        return (ImageSource, (self.key, None, self.read_bytes()))


class SampleRef(NamedTuple):
    """Where a sample is in its task (``SampleSpool.lookup``): what a stored answer is checked against."""

    position: int
    image: str  # the task's key of its image
    prompt_sha: str
    content_hash: str | None  # of its image; None: unreadable


class DuplicateSampleId(ValueError):
    """A task yielded the same sample id twice (``sample_id`` names it)."""

    def __init__(self, sample_id: str):
        super().__init__(sample_id)
        self.sample_id = sample_id


class SampleSpool:
    """The samples of one task: ``len``, ``spool[i]`` (a ``Sample``), ``prompt_sha(i)``,
    ``content_hash(i)``, ``image_error(i)``, ``order()`` (positions with each image's samples together),
    ``chunks(n)`` (in the task's order), ``lookup(ids)`` (id -> position and fingerprints)."""

    def __init__(self, samples: Iterable[Sample], prompt_sha: Callable[[Sample], str],
                 check: Callable[[int, Any], Sample] = lambda i, s: s):
        # "": a temporary file, removed on close; autocommit, each write batch its own transaction
        self.conn = temp_db.connect(isolation_level=None)
        self.conn.execute("CREATE TABLE s (pos INTEGER PRIMARY KEY, id TEXT NOT NULL, image TEXT NOT NULL,"
                          " image_rank INTEGER NOT NULL, prompt_sha TEXT NOT NULL, blob BLOB NOT NULL)")
        self.conn.execute("CREATE UNIQUE INDEX s_id ON s (id)")
        # one row per distinct image (rank: order of first use): the first sample's source
        self.conn.execute("CREATE TABLE images (rank INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, path TEXT,"
                          " data BLOB, content_hash TEXT, num_bytes INTEGER, error TEXT)")
        digest = hashlib.sha1()
        recent: OrderedDict[str, int] = OrderedDict()  # image key -> rank, of the latest images
        self.image_count = 0
        batch: list[tuple] = []
        self.conn.execute("BEGIN")
        for n, s in enumerate(samples):
            s = check(n, s)
            key = s.image.key
            rank = recent.get(key)
            if rank is None:
                rank = self._rank(s.image)
            else:
                recent.move_to_end(key)
            recent[key] = rank
            for more in s.more_images:  # compressed, cached and hashed like any image of the task
                if more.key not in recent:
                    recent[more.key] = self._rank(more)
            while len(recent) > _RECENT_IMAGES:
                recent.popitem(last=False)
            digest.update((("\n" if n else "") + s.id).encode())
            batch.append((n, s.id, key, rank, prompt_sha(s), _dumps(s)))
            if len(batch) >= _INSERT_BATCH:
                self._insert(batch)
                batch = []
        self._insert(batch)
        self.conn.execute("COMMIT")
        self.count = self.conn.execute("SELECT COUNT(*) FROM s").fetchone()[0]
        self.ids_hash = digest.hexdigest()
        self.conn.execute("CREATE INDEX s_order ON s (image_rank, pos)")
        self.conn.execute("CREATE INDEX images_hash ON images (content_hash)")
        self._pages: OrderedDict[int, dict[int, Entry]] = OrderedDict()
        self._page_of: dict[int, int] = {}  # position -> page (of the pages kept)
        self._images: OrderedDict[str, tuple] = OrderedDict()  # key -> its row, the latest read
        #: the spool's images by key (a read-only mapping of ``TaskImage``, streamed)
        self.images = SpooledImages(self)

    def _rank(self, source: ImageSource) -> int:
        """The rank of an image seen before, or a new row for it (its first sample's source)."""
        row = self.conn.execute("SELECT rank FROM images WHERE key=?", (source.key,)).fetchone()
        if row is not None:
            return row[0]
        rank = self.image_count
        self.conn.execute("INSERT INTO images (rank, key, path, data) VALUES (?,?,?,?)",
                          (rank, source.key, source.path, source.data))
        self.image_count += 1
        return rank

    def _insert(self, rows: Sequence[tuple]) -> None:
        """Write a batch of samples and commit (a transaction stays open while spooling)."""
        try:
            self.conn.executemany("INSERT INTO s VALUES (?,?,?,?,?,?)", rows)
        except sqlite3.IntegrityError:
            self.conn.execute("ROLLBACK")
            self.conn.execute("BEGIN")
            seen: set[str] = set()
            for row in rows:  # a duplicate within this batch, or of an earlier one
                if row[1] in seen or self.conn.execute("SELECT 1 FROM s WHERE id=?", (row[1],)).fetchone():
                    self.conn.execute("ROLLBACK")
                    raise DuplicateSampleId(row[1]) from None
                seen.add(row[1])
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def close(self) -> None:
        self.conn.close()

    def __len__(self) -> int:
        return self.count

    # ---- reading back ------------------------------------------------------------------------
    def _entry(self, pos: int) -> Entry:
        page = self._page_of.get(pos)
        if page is not None:
            self._pages.move_to_end(page)
            return self._pages[page][pos]
        rank = self.conn.execute("SELECT image_rank FROM s WHERE pos=?", (pos,)).fetchone()
        if rank is None:
            raise IndexError(pos)
        # a page: this sample and those after it in the image-grouped order (what comes next)
        rows = self.conn.execute(
            f"SELECT s.pos, s.prompt_sha, s.blob, {_SAMPLE_IMAGE} WHERE (s.image_rank, s.pos) >= (?, ?)"
            " ORDER BY s.image_rank, s.pos LIMIT ?", (rank[0], pos, _PAGE)).fetchall()
        page = rows[0][0]
        entries = self._entries(rows)
        self._pages[page] = entries
        for p in entries:
            self._page_of[p] = page
        while len(self._pages) > _PAGES:
            old_page, old = self._pages.popitem(last=False)
            for p in old:
                if self._page_of.get(p) == old_page:
                    del self._page_of[p]
        return entries[pos]

    def _entries(self, rows: Sequence[tuple]) -> dict[int, Entry]:
        """position -> (sample, prompt fingerprint, image content hash, image error) of rows read with
        ``_SAMPLE_IMAGE`` (samples of one image share its source)."""
        sources: dict[int, ImageSource] = {}
        out: dict[int, Entry] = {}
        for pos, sha, blob, *image in rows:
            source = sources.get(image[0])
            if source is None:
                source = sources[image[0]] = self._source(image)
            sid, question, kind, answer, options, category, meta, *more = pickle.loads(blob)
            more_images = tuple(self.source(key) for key in more[0]) if more else ()
            out[pos] = (Sample(sid, source, question, kind, answer, options, category, meta, more_images),
                        sha, image[4], image[6])
        return out

    # ---- images ------------------------------------------------------------------------------
    def _image_row(self, key: str) -> tuple:
        """(rank, key, path, has data, content hash, bytes, error) of one image, through a
        small cache (samples come back grouped by image)."""
        row = self._images.get(key)
        if row is not None:
            self._images.move_to_end(key)
            return row
        row = self.conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE key=?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        self._images[key] = row
        if len(self._images) > _IMAGE_LRU:
            self._images.popitem(last=False)
        return row

    def _source(self, row: Sequence) -> ImageSource:
        rank, key, path, has_data = row[:4]
        if not has_data:
            return ImageSource(key, path)
        return SpooledImage(key, lambda: self.conn.execute("SELECT data FROM images WHERE rank=?",
                                                           (rank,)).fetchone()[0])

    def source(self, key: str, cached: bool = True) -> ImageSource:
        """The image of ``key`` as its first sample gave it (its bytes read when needed);
        ``cached=False`` from another thread (the row is read without the cache)."""
        if cached:
            return self._source(self._image_row(key))
        row = self.conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE key=?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return self._source(row)

    def distinct_images(self, size: int = 500) -> Iterator[tuple[str, str]]:
        """(image key, content hash) of the first image of each distinct content (unreadable
        images left out), in order of first use, ``size`` at a time."""
        for start in range(0, self.image_count, size):
            yield from self.conn.execute(
                "SELECT key, content_hash FROM images AS i WHERE rank >= ? AND rank < ? AND content_hash IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM images AS e WHERE e.content_hash = i.content_hash AND e.rank < i.rank)"
                " ORDER BY rank", (start, start + size)).fetchall()

    def image(self, key: str) -> TaskImage:
        return self._task_image(self._image_row(key))

    def _task_image(self, row: tuple) -> TaskImage:
        return TaskImage(self._source(row), *row[4:])

    def image_rows(self, size: int = 512) -> Iterator[tuple]:
        """Every image's row (see ``_image_row``), in order of first use, ``size`` at a time."""
        for start in range(0, self.image_count, size):
            yield from self.conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE rank >= ? AND rank < ?"
                                         " ORDER BY rank", (start, start + size)).fetchall()

    def set_image_info(self, rows: Sequence[tuple[str, str | None, int | None, str | None]]) -> None:
        """(image key, content hash, bytes, error) found by reading images (while planning)."""
        self.conn.execute("BEGIN")
        self.conn.executemany("UPDATE images SET content_hash=?, num_bytes=?, error=? WHERE key=?",
                              [(h, n, e, k) for k, h, n, e in rows])
        self.conn.execute("COMMIT")
        self._images.clear()

    def has_hash(self, content_hash: str) -> bool:
        """Whether an image of this task has this content."""
        return self.conn.execute("SELECT 1 FROM images WHERE content_hash=? LIMIT 1",
                                 (content_hash,)).fetchone() is not None

    def __getitem__(self, pos: int) -> Sample:
        if not isinstance(pos, int):
            raise TypeError("a sample spool is read by position (int)")
        if pos < 0:
            pos += self.count
        return self._entry(pos)[0]

    def prompt_sha(self, pos: int) -> str:
        return self._entry(pos)[1]

    def content_hash(self, pos: int) -> str | None:
        """The content hash of the image of the sample at ``pos`` (None: unreadable)."""
        return self._entry(pos)[2]

    def image_error(self, pos: int) -> str | None:
        """Why the image of the sample at ``pos`` (or one of its ``more_images``) could not be
        read while planning, if so."""
        sample, _, _, error = self._entry(pos)
        for more in sample.more_images if error is None else ():
            error = self.image(more.key).error
            if error is not None:
                break
        return error

    def more_hashes(self, pos: int) -> tuple[str | None, ...]:
        """The content hashes of the ``more_images`` of the sample at ``pos`` (None: unreadable)."""
        return tuple(self.image(more.key).content_hash for more in self._entry(pos)[0].more_images)

    def __iter__(self) -> Iterator[Sample]:
        for chunk in self.chunks(_PAGE * 4):
            yield from (s for _, s, _ in chunk)

    def chunks(self, size: int, with_hash: bool = False) -> Iterator[list[tuple]]:
        """(position, sample, prompt fingerprint[, image content hash]) in the task's order,
        ``size`` at a time."""
        for start in range(0, self.count, size):
            rows = self.conn.execute(f"SELECT s.pos, s.prompt_sha, s.blob, {_SAMPLE_IMAGE} WHERE s.pos >= ?"
                                     " AND s.pos < ? ORDER BY s.pos", (start, start + size)).fetchall()
            entries = self._entries(rows)
            yield [(p, *entries[p][:3 if with_hash else 2]) for p, *_ in rows]

    def order(self) -> Iterator[int]:
        """Every position, each image's samples together (images in order of first use)."""
        cur = self.conn.execute("SELECT pos FROM s ORDER BY image_rank, pos")
        while True:
            rows = cur.fetchmany(4096)
            if not rows:
                return
            for (p,) in rows:
                yield p

    def lookup(self, ids: Sequence[str]) -> dict[str, SampleRef]:
        """sample id -> where it is (``SampleRef``), for the ids of this task."""
        out: dict[str, SampleRef] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            out.update((sid, SampleRef(pos, key, sha, h)) for sid, pos, key, sha, h in self.conn.execute(
                "SELECT s.id, s.pos, s.image, s.prompt_sha, images.content_hash FROM s JOIN images"
                f" ON images.rank = s.image_rank WHERE s.id IN ({','.join('?' * len(part))})", part))
        return out


_IMAGE_COLUMNS = "rank, key, path, data IS NOT NULL, content_hash, num_bytes, error"
#: a sample's image row (``_IMAGE_COLUMNS``) joined to it
_SAMPLE_IMAGE = ("i.rank, i.key, i.path, i.data IS NOT NULL, i.content_hash, i.num_bytes, i.error"
                 " FROM s JOIN images AS i ON i.rank = s.image_rank")


class SpooledImages(Mapping):
    """A task's distinct images by key (``TaskImage``), read from its spool: ``len``, ``[key]``,
    and ``keys()``/``values()``/``items()`` streamed in order of first use."""

    def __init__(self, spool: SampleSpool):
        self._spool = spool

    def __len__(self) -> int:
        return self._spool.image_count

    def __getitem__(self, key: str) -> TaskImage:
        return self._spool.image(key)

    def __iter__(self) -> Iterator[str]:
        return (row[1] for row in self._spool.image_rows())

    def values(self) -> Iterator[TaskImage]:  # type: ignore[override]
        return (self._spool._task_image(row) for row in self._spool.image_rows())

    def items(self) -> Iterator[tuple[str, TaskImage]]:  # type: ignore[override]
        return ((row[1], self._spool._task_image(row)) for row in self._spool.image_rows())
