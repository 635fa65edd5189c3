"""Two ways to read a benchmark split without holding its images in memory.

A task reads the small columns of every row, picks rows, then asks for the image cells of
those rows only. ``DatasetTable`` wraps a memory-mapped ``datasets.Dataset`` (the hub cache, a
``save_to_disk`` directory); ``ParquetTable`` reads parquet files column by column and row
group by row group, so a 10 GB SEED-Bench copy costs only the row groups a subset touches.
Image cells come back raw: ``{"bytes": ..., "path": ...}`` dicts (or lists of them), never decoded.
The small columns come back as ``Rows``: dicts made a batch at a time from the columnar table,
so a million questions are not a million dicts in memory.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from pathlib import Path
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

_ROWS_BATCH = 256  # rows made into dicts at once
_ROWS_BATCHES = 8  # batches of dicts kept


class Rows(Sequence):
    """A table's rows as plain dicts, read-only: ``len``, ``rows[i]``, iteration. The table
    stays columnar (Arrow); dicts are made ``_ROWS_BATCH`` rows at a time when asked for, and
    the last few batches kept (tasks read rows mostly in order)."""

    def __init__(self, table: "pa.Table"):
        self._table = table
        self._batches: OrderedDict[int, list[dict]] = OrderedDict()

    def __len__(self) -> int:
        return self._table.num_rows

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        b = i // _ROWS_BATCH
        rows = self._batches.get(b)
        if rows is None:
            rows = self._batches[b] = self._table.slice(b * _ROWS_BATCH, _ROWS_BATCH).to_pylist()
            if len(self._batches) > _ROWS_BATCHES:
                self._batches.popitem(last=False)
        else:
            self._batches.move_to_end(b)
        return rows[i - b * _ROWS_BATCH]

    def __iter__(self) -> Iterator[dict]:
        for start in range(0, len(self), _ROWS_BATCH):
            yield from self._table.slice(start, _ROWS_BATCH).to_pylist()


class DatasetTable:
    def __init__(self, ds: "datasets.Dataset"):
        self.ds = ds
        self.column_names: list[str] = list(ds.column_names)

    def __len__(self) -> int:
        return len(self.ds)

    def forget(self) -> None:
        """Nothing is kept between reads (the dataset is memory-mapped)."""

    def rows(self, drop: Iterable[str] = ()) -> Rows:
        gone = [c for c in drop if c in self.column_names]
        return Rows(self.ds.remove_columns(gone).with_format("arrow")[:])

    def column(self, name: str) -> list:
        return self.ds.select_columns([name]).with_format("arrow")[:][name].to_pylist()

    def cells(self, indices: Sequence[int], column: str) -> list[Any]:
        if not indices:
            return []
        sub = self.ds.select(list(indices)).select_columns([column]).with_format("arrow")
        return sub[:][column].to_pylist()


class ParquetTable:
    def __init__(self, files: Sequence[Path]):
        import pyarrow.parquet as pq

        self.files = [pq.ParquetFile(str(f)) for f in files]
        self.column_names: list[str] = list(self.files[0].schema_arrow.names)
        # (file, row group, first global row) for every row group, in order
        self._groups: list[tuple[int, int, int]] = []
        start = 0
        for fi, pf in enumerate(self.files):
            for gi in range(pf.metadata.num_row_groups):
                self._groups.append((fi, gi, start))
                start += pf.metadata.row_group(gi).num_rows
        self._len = start
        self._last: tuple[tuple[int, str], Any] | None = None  # (row group, column), its values

    def __len__(self) -> int:
        return self._len

    def _group_column(self, g: int, column: str):
        """One row group's column; the last one read is kept (a task reads the cells of its
        rows a chunk at a time, in order: each group is read once)."""
        if self._last is None or self._last[0] != (g, column):
            fi, gi, _ = self._groups[g]
            self._last = ((g, column), self.files[fi].read_row_group(gi, columns=[column]).column(column))
        return self._last[1]

    def forget(self) -> None:
        """Drop the row group kept from the last read (when a task has read its images)."""
        self._last = None

    def rows(self, drop: Iterable[str] = ()) -> Rows:
        import pyarrow as pa

        keep = [c for c in self.column_names if c not in set(drop)]
        return Rows(pa.concat_tables([pf.read(columns=keep) for pf in self.files]))

    def column(self, name: str) -> list:
        return [v for pf in self.files for v in pf.read(columns=[name]).column(name).to_pylist()]

    def cells(self, indices: Sequence[int], column: str) -> list[Any]:
        import bisect

        import pyarrow as pa

        starts = [g[2] for g in self._groups]
        wanted: dict[int, list[tuple[int, int]]] = defaultdict(list)  # group -> (position, offset)
        for pos, idx in enumerate(indices):
            if not 0 <= idx < self._len:
                raise IndexError(f"row {idx} out of range (0..{self._len - 1})")
            g = bisect.bisect_right(starts, idx) - 1
            wanted[g].append((pos, idx - starts[g]))
        out: list[Any] = [None] * len(indices)
        for g, picks in wanted.items():
            col = self._group_column(g, column)
            taken = col.take(pa.array([off for _, off in picks])).to_pylist()
            for (pos, _), value in zip(picks, taken):
                out[pos] = value
        return out
