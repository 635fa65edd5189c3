"""What every hub benchmark shares: split/path arguments, deterministic subsets, image sources.

A task reads its non-image columns first (cheap, memory-mapped), picks the rows a ``limit``
asks for, and then yields its samples, reading the encoded bytes of the images those rows use
a chunk at a time (``HubTask.image_sources``), so that repeated images share a key (and bytes)
and a task never holds the images of the whole set.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from dataclasses import replace

from cvb.errors import UsageError
from cvb.scoring.tally import score_whole
from cvb.types import ImageSource, Sample, TaskScore

from . import hubdata
from .protocols import check_protocol, rules_for
from .protocols import cvb as cvb_protocol

#: the identity of cvb's own scoring rules (part of each cell's fingerprint: a change rescores
#: stored predictions); 2: a refusal is no "no" for MME, an MMBench option "None" is an option
CVB_SCORING = "cvb 2"

if TYPE_CHECKING:
    from .tables import DatasetTable, ParquetTable

#: image cells a task reads at once while it yields samples (their encoded bytes are what a
#: task holds in memory)
IMAGE_CHUNK = 64

def spread(groups: Sequence[Sequence[int]], limit: int | None) -> list[int]:
    """Row indices of a deterministic, evenly spread subset of whole groups.

    Groups (an MME image's question pair, an MMBench question's rotations) are never split.
    The subset takes groups at even strides through the dataset, so ``limit=100`` sees every
    part of a dataset sorted by category, not only the first category. It holds at most
    ``limit`` rows (at least one group), and the same ``limit`` always gives the same rows.
    """
    total = sum(len(g) for g in groups)
    if limit is None or limit >= total:
        return [i for g in groups for i in g]
    if limit < 1:
        raise UsageError(f"limit must be at least 1, got {limit}")
    n = len(groups)

    def pick(k: int) -> list[int]:
        return [(j * n) // k for j in range(k)]

    def size(k: int) -> int:
        return sum(len(groups[j]) for j in pick(k))

    k = max(1, min(n, (limit * n) // total))
    while k > 1 and size(k) > limit:
        k -= 1
    while k < n and size(k + 1) <= limit:
        k += 1
    return [i for j in pick(k) for i in groups[j]]


def image_source(key: str, cell: Any) -> ImageSource:
    """An ``ImageSource`` from a hub image cell: ``{"bytes": b, "path": p}`` (or bytes, or a path)."""
    if isinstance(cell, (bytes, bytearray)):
        return ImageSource(key=key, data=bytes(cell))
    if isinstance(cell, str):
        return ImageSource(key=key, path=cell)
    if isinstance(cell, Mapping):
        if cell.get("bytes"):
            return ImageSource(key=key, data=bytes(cell["bytes"]))
        if cell.get("path") and os.path.exists(cell["path"]):
            return ImageSource(key=key, path=cell["path"])
    raise ValueError(f"image {key!r}: the dataset cell holds neither image bytes nor a readable path")


def content_key(cell: Any) -> str:
    """A key for an image that has no id column: a short hash of its encoded bytes."""
    data = cell.get("bytes") if isinstance(cell, Mapping) else cell
    if isinstance(data, (bytes, bytearray)):
        return hashlib.sha256(data).hexdigest()[:16]
    return str(cell.get("path")) if isinstance(cell, Mapping) else str(cell)


class HubTask:
    """Base of the benchmark tasks: subclasses set the dataset facts and implement the rest.

    ``arg`` (from ``name:ARG``) is a split when it names one, else a local-copy path.
    """

    name = "hub"
    version = "1"
    dataset_id = ""
    config: str | None = None
    hub_split = "test"
    splits: tuple[str, ...] = ()
    default_split: str | None = None
    image_column = "image"

    def __init__(self, arg: str | None = None, *, path: str | None = None, split: str | None = None,
                 protocol: str = "cvb", judge: str | None = None):
        self.protocol = check_protocol(self.name, protocol, judge)
        #: the peer protocol's rules (prompts, budgets, stop strings, scoring); None: cvb's own
        self.rules = rules_for(self.name, self.protocol, judge)
        if arg is not None:
            if arg in self.splits:
                if split not in (None, arg):
                    raise UsageError(f"{self.name}: split given twice ({arg!r} and split={split!r})")
                split = arg
            elif path is None and (not self.splits or _looks_like_path(arg)):
                path = arg
            else:
                raise UsageError(f"{self.name}: unknown split {arg!r}; valid splits: {self._split_list()}"
                                 + ("" if path is None else f" (path={path!r} is given too)")
                                 + "; a local copy is given as a path (with a '/')")
        if split is None:
            split = self.default_split
        if self.splits and split not in self.splits:
            raise UsageError(f"{self.name}: unknown split {split!r}; valid splits: {self._split_list()}")
        if not self.splits and split is not None:
            raise UsageError(f"{self.name} has no splits (got split={split!r})")
        self.split = split
        self.path = path
        self._table: "DatasetTable | ParquetTable | None" = None

    def _split_list(self) -> str:
        return ", ".join(self.splits) or "(none)"

    # ---- data access -------------------------------------------------------------------
    def table(self) -> "DatasetTable | ParquetTable":
        if self._table is None:
            self._table = hubdata.load_split(self.dataset_id, self.config, self.hub_split, self.path, self.name)
            check_columns(self._table, self.required_columns(), self.name, self.path or self.dataset_id)
        return self._table

    def required_columns(self) -> tuple[str, ...]:
        return (self.image_column,)

    def meta_rows(self, image_columns: Iterable[str] | None = None) -> Sequence[dict]:
        """All rows without their image columns, as plain dicts made when read (no image is
        read; the table stays columnar: ``tables.Rows``)."""
        return self.table().rows(drop=(self.image_column,) if image_columns is None else image_columns)

    def image_cells(self, indices: Sequence[int], table: "DatasetTable | ParquetTable | None" = None,
                    column: str | None = None) -> list[Any]:
        """The raw image cells (``{"bytes", "path"}`` dicts, or lists of them) of some rows."""
        return (table or self.table()).cells(list(indices), column or self.image_column)

    def image_sources(self, chosen: Sequence[int], key_of: Callable[[int], str | None], *,
                      cell_row: Callable[[int], int] | None = None, table: "DatasetTable | ParquetTable | None" = None,
                      first_image: bool = False) -> Iterator[tuple[int, ImageSource]]:
        """(row, its ``ImageSource``) for each chosen row, in order, reading the image cells
        ``IMAGE_CHUNK`` rows at a time: a task yielding its samples from this holds the
        encoded bytes of a chunk of images, never of the whole set.

        ``key_of(row)`` names the row's image (None: a short hash of its bytes); the cell of
        each key is read once per chunk, from ``cell_row(row)`` of ``table`` (default: the
        row itself, in the task's table). Rows of the same image share one ``ImageSource``
        while it is recent (POPE asks 18 questions about each picture). ``first_image``: the
        cell is a list of images (SEED-Bench), take its first.
        """
        try:
            yield from self._image_sources(chosen, key_of, cell_row, table, first_image)
        finally:
            (table or self.table()).forget()

    def _image_sources(self, chosen: Any, key_of: Any, cell_row: Any, table: Any,
                       first_image: Any) -> Iterator[tuple[int, ImageSource]]:
        recent: OrderedDict[str, ImageSource] = OrderedDict()
        rows = iter(chosen)
        while part := list(itertools.islice(rows, IMAGE_CHUNK)):
            keys = [key_of(i) for i in part]
            need: dict[Any, int] = {}  # key (or the row, for a content key) -> the row to read
            for i, key in zip(part, keys):
                if key is None:
                    need[("row", i)] = i
                elif key not in recent:
                    need.setdefault(key, i)
            cells = self.image_cells([cell_row(i) if cell_row else i for i in need.values()], table)
            got: dict[Any, ImageSource] = {k: recent[k] for k in set(keys) if k is not None and k in recent}
            for wanted, cell in zip(need, cells):
                if first_image:
                    if not cell:
                        raise ValueError(f"{self.name}: image {wanted!r} has no picture")
                    cell = cell[0]
                key = content_key(cell) if isinstance(wanted, tuple) else wanted
                got[wanted] = recent.get(key) or image_source(key, cell)
            for i, key in zip(part, keys):
                src = got[("row", i) if key is None else key]
                recent[src.key] = src
                recent.move_to_end(src.key)
                if len(recent) > IMAGE_CHUNK:
                    recent.popitem(last=False)
                yield i, src

    # ---- the Task protocol -------------------------------------------------------------
    @property
    def scoring(self) -> str:
        """Which rules score this task (part of a cell's fingerprint)."""
        return CVB_SCORING if self.rules is None else self.rules.scoring

    def ask(self, sample: Sample, doc: Mapping[str, Any]) -> Sample:
        """``sample`` with its protocol's prompt, budget and stop strings in its meta; ``doc`` is
        the dataset row (the peers build prompts from its raw fields)."""
        if self.rules is None:
            return replace(sample, meta={**sample.meta, **cvb_protocol.ask(self.name)})
        return self.rules.prepare(sample, doc)

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        """The samples, yielded one at a time (``cvb run`` spools them as they come)."""
        raise NotImplementedError

    def judge(self, sample: Sample, prediction: str) -> float | None:
        if self.rules is not None:
            return self.rules.judge(sample, prediction)
        return self.cvb_judge(sample, prediction)

    def scorer(self) -> Any:
        """This task's rule as a streamed scorer (``cvb.protocols.Scorer``): fed one sample at a
        time, it keeps only what the rule needs."""
        if self.rules is not None:
            return self.rules.scorer()
        return self.cvb_scorer()

    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str],
              reference: Mapping[str, str] | None = None) -> TaskScore:
        return score_whole(self.scorer(), samples, predictions)

    def cvb_judge(self, sample: Sample, prediction: str) -> float | None:
        raise NotImplementedError

    def cvb_scorer(self) -> Any:
        """cvb's own rule as a streamed scorer (usually a ``cvb.scoring.tally.Tally``)."""
        raise NotImplementedError


def check_columns(table: Any, required: Iterable[str], task: str, where: Any) -> None:
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise UsageError(f"{task}: the data at {where} lacks columns {missing} (has {table.column_names}); "
                         f"is it a copy of the benchmark's dataset?")


def _looks_like_path(arg: str) -> bool:
    return os.sep in arg or "/" in arg or arg.startswith((".", "~")) or Path(arg).expanduser().exists()


def text_of(prediction: str | None) -> str:
    """What a scorer reads of a prediction: a missing one (a failed query) is an empty answer."""
    return "" if prediction is None else str(prediction)
