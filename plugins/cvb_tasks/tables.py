"""Two ways to read a benchmark split without holding its images in memory.

A task reads the small columns of every row, picks rows, then asks for the image cells of
those rows only. ``DatasetTable`` wraps a memory-mapped ``datasets.Dataset`` (the hub cache, a
``save_to_disk`` directory); ``ParquetTable`` reads parquet files column by column and row
group by row group, so a 10 GB SEED-Bench copy costs only the row groups a subset touches.
Image cells come back raw: ``{"bytes": ..., "path": ...}`` dicts (or lists of them), never decoded.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    import datasets


class DatasetTable:
    def __init__(self, ds: "datasets.Dataset"):
        self.ds = ds
        self.column_names: list[str] = list(ds.column_names)

    def __len__(self) -> int:
        return len(self.ds)

    def rows(self, drop: Iterable[str] = ()) -> list[dict]:
        gone = [c for c in drop if c in self.column_names]
        return self.ds.remove_columns(gone).to_list()

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

    def __len__(self) -> int:
        return self._len

    def rows(self, drop: Iterable[str] = ()) -> list[dict]:
        keep = [c for c in self.column_names if c not in set(drop)]
        out: list[dict] = []
        for pf in self.files:
            out.extend(pf.read(columns=keep).to_pylist())
        return out

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
            fi, gi, _ = self._groups[g]
            col = self.files[fi].read_row_group(gi, columns=[column]).column(column)
            taken = col.take(pa.array([off for _, off in picks])).to_pylist()
            for (pos, _), value in zip(picks, taken):
                out[pos] = value
        return out
