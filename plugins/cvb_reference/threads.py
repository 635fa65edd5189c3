"""How many CPU threads the reference models use (default 1).

The models are small (EfficientNet-Lite0 has 4.7M parameters, MiniLM 22M, the PP-OCR networks
a few million), so each call has little work to split. On the project's shared 2-core machines
one thread was measured 2-5x faster than two: EfficientNet-Lite0 on two 224x224 views 67 ms
with 1 torch thread against 360 ms with 2 under load, RapidOCR 0.4-0.9 s per image with 1
onnxruntime thread against 0.5-1.2 s with its default (all cores). ``threads=0`` leaves torch
and onnxruntime at their own defaults, for machines with idle cores to spare.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

DEFAULT_THREADS = 1


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (0: unchanged), then restore."""
    if n <= 0:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)
