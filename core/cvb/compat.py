"""Make the registry's CUDA-only torchvision importable on a CPU-only torch.

torchvision 0.28 is the only build matching torch 2.13, and its ``_C`` extension needs
``libtorch_cuda.so``; on CPU torch, ``import torchvision`` then fails with
``operator torchvision::nms does not exist`` while registering fake kernels for its ops.
Defining those op schemas (with a plain-torch CPU ``nms``) before the first import lets
torchvision import, and with it compressai, piq and lpips. Where torchvision imports
normally this does nothing.

Standalone on purpose (only ``sys`` and ``torch``): the research worker (``codecs/research/driver.py``)
loads this file by path inside a research environment that may not have cvb installed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_LIB = None  # keep the torch.library.Library alive: dropping it unregisters the ops


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    keep = []
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    for i_pos in range(len(order)):
        if suppressed[i_pos]:
            continue
        i = order[i_pos]
        keep.append(i)
        rest = order[i_pos + 1 :]
        xx1 = torch.maximum(x1[i], x1[rest])
        yy1 = torch.maximum(y1[i], y1[rest])
        xx2 = torch.minimum(x2[i], x2[rest])
        yy2 = torch.minimum(y2[i], y2[rest])
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[i_pos + 1 :] |= iou > iou_threshold
    return torch.stack(keep) if keep else torch.empty((0,), dtype=torch.int64)


def _define_ops() -> None:
    global _LIB
    import torch

    if _LIB is not None:
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define(
        "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
    )
    lib.impl("nms", _nms, "CPU")
    _LIB = lib


def ensure_torchvision() -> None:
    """Import torchvision, applying the CPU shim only if the plain import fails."""
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "transforms"):
        return
    try:
        import torchvision

        return
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]
    _define_ops()
    import torchvision  # noqa: F401 - imported again, now with the ops defined
