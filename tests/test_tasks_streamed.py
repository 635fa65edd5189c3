"""Built-in hub tasks yield their samples, reading image cells a chunk of rows at a time
(``HubTask.image_sources``): what they yield is what the data holds, row by row, and a task
never asks its table for more than a chunk of images at once."""

from __future__ import annotations

import pytest

from test_tasks_common import make_task, png

N_IMAGES = 150
CATEGORIES = ("random", "adversarial")  # each image asked about once per category, far apart


def pope_copy(root, layout: str):
    """A POPE-schema copy: N_IMAGES pictures, one question per image and category, in row
    groups of 40 rows (parquet) or a save_to_disk directory."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [(f"{c}{i}", f"COCO_{i:04d}", c, "yes" if i % 3 else "no") for c in CATEGORIES for i in range(N_IMAGES)]
    cols = {"question_id": [r[0] for r in rows], "question": [f"Is there a thing {r[0]}?" for r in rows],
            "answer": [r[3] for r in rows], "image_source": [r[1] for r in rows], "category": [r[2] for r in rows],
            "image": [{"bytes": png((int(r[1][-4:]) % 256, 7, 9)), "path": None} for r in rows]}
    if layout == "parquet":
        (root / "data").mkdir(parents=True)
        pq.write_table(pa.table(cols), root / "data" / "test-00000-of-00001.parquet", row_group_size=40)
    else:
        features = datasets.Features({k: datasets.Value("string") for k in cols if k != "image"}
                                     | {"image": datasets.Image()})
        datasets.Dataset.from_dict(cols, features=features).save_to_disk(str(root))
    return rows, cols


@pytest.mark.parametrize("layout", ["parquet", "disk"])
def test_pope_yields_row_by_row_reading_a_chunk_of_images_at_a_time(tmp_path, layout, monkeypatch):
    from cvb_tasks import base, tables

    rows, cols = pope_copy(tmp_path / "POPE", layout)
    asked: list[int] = []
    table_class = tables.ParquetTable if layout == "parquet" else tables.DatasetTable
    cells = table_class.cells

    def spy(self, indices, column):
        asked.append(len(indices))
        return cells(self, indices, column)

    monkeypatch.setattr(table_class, "cells", spy)
    task = make_task("pope", str(tmp_path / "POPE"))
    samples = task.samples()
    assert iter(samples) is samples  # an iterator, not a list
    first = next(samples)
    assert asked == [base.IMAGE_CHUNK]  # one chunk read for the first sample, not the whole set
    got = [first, *samples]
    assert all(n <= base.IMAGE_CHUNK for n in asked)
    assert sum(asked) == len(rows)  # each image once per chunk: here once per category pass
    # what the data holds, row by row: ids, truths, and each picture's own bytes
    assert [s.id for s in got] == [f"{c}-{q}" for q, _, c, _ in rows]
    assert [s.answer for s in got] == [a for *_, a in rows]
    assert [s.image.key for s in got] == [k for _, k, _, _ in rows]
    assert [s.image.read_bytes() for s in got] == [cell["bytes"] for cell in cols["image"]]
    # a repeated image far away is the same picture under the same key
    assert got[0].image.key == got[N_IMAGES].image.key
    assert got[0].image.read_bytes() == got[N_IMAGES].image.read_bytes()
