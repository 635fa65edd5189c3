"""Turning a (reference, distorted) pair of PIL images into arrays or tensors the metrics take."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image


def rgb_pair(reference: "Image.Image", distorted: "Image.Image") -> tuple["np.ndarray", "np.ndarray"]:
    """Both images as HxWx3 uint8 arrays; a size mismatch is an error, never a silent resize."""
    import numpy as np

    if reference.size != distorted.size:
        raise ValueError(
            f"reference is {reference.size[0]}x{reference.size[1]} but distorted is "
            f"{distorted.size[0]}x{distorted.size[1]}: full-reference metrics need equal sizes"
        )
    ref = np.asarray(reference.convert("RGB"), dtype=np.uint8)
    dis = np.asarray(distorted.convert("RGB"), dtype=np.uint8)
    return ref, dis


def tensor_pair(reference: "Image.Image", distorted: "Image.Image",
                device: str = "cpu") -> tuple["torch.Tensor", "torch.Tensor"]:
    """Both images as 1x3xHxW float32 tensors in [0, 1] on ``device``."""
    import torch

    ref, dis = rgb_pair(reference, distorted)

    def to_tensor(arr):
        t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)
        return t.to(device=device, dtype=torch.float32) / 255.0

    return to_tensor(ref), to_tensor(dis)


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when available, else cpu; anything else is passed to torch as is."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
