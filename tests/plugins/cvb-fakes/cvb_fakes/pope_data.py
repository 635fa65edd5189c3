"""A local copy of the POPE dataset's layout (the hub's parquet schema) for the real ``pope:``
task: tests and benchmarks write tiny or POPE-sized ones with it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Sequence


def pope_layout(root: Path, images: int, questions: int,
                color: Callable[[int], tuple] = lambda i: (60 * i % 256, 90, 30),
                categories: Sequence[str] = ("random",), size: tuple[int, int] = (8, 6)) -> Path:
    """``images`` x ``questions`` yes/no questions ("Is there a thing I in the image?", "yes"
    for even I) under ``root/data/test-00000-of-00001.parquet``; question I is about image
    ``COCO_{I // questions}`` (drawn in ``color(image)``) in category ``categories[I % len]``.
    Returns ``root``, the folder to pass as ``pope:ROOT``."""
    import datasets
    from PIL import Image

    pictures = []
    for i in range(images):
        buf = io.BytesIO()
        Image.new("RGB", size, color(i)).save(buf, format="PNG")
        pictures.append({"bytes": buf.getvalue(), "path": None})
    n = images * questions
    s = datasets.Value("string")
    features = datasets.Features({"id": s, "question_id": s, "question": s, "answer": s, "image_source": s,
                                  "image": datasets.Image(), "category": s})
    cols = {"id": [str(i) for i in range(n)], "question_id": [str(i) for i in range(n)],
            "question": [f"Is there a thing {i} in the image?" for i in range(n)],
            "answer": ["yes" if i % 2 == 0 else "no" for i in range(n)],
            "image_source": [f"COCO_{i // questions}" for i in range(n)],
            "image": [pictures[i // questions] for i in range(n)],
            "category": [categories[i % len(categories)] for i in range(n)]}
    sub = Path(root) / "data"
    sub.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(cols, features=features).to_parquet(str(sub / "test-00000-of-00001.parquet"))
    return Path(root)
