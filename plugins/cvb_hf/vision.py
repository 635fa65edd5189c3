"""The seam adapter training builds on: the vision tower, and the visual tokens the LLM sees.

The paper's conditional visual encoder trains the whole vision tower (patch embedding, blocks,
merger/projector) so that its output on a compressed image matches a frozen teacher's output on
the clean image. Both need the same two things from any VLM: the tower module (to wrap, train
or swap) and its output tokens. transformers' image-text-to-text models expose the latter as
``get_image_features`` (for Qwen2.5-VL: ``model.model.visual(pixel_values, grid_thw=...)``'s
merged output; for LLaVA the projector output; for Idefics3/SmolVLM the connector output), whose
``pooler_output`` is one tensor per image.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Sequence

from cvb.errors import UnavailableError

if TYPE_CHECKING:
    import torch
    from PIL import Image

#: where transformers keeps the vision tower, on the model or on its inner ``.model``
TOWER_ATTRIBUTES = ("visual", "vision_tower", "vision_model", "vision_encoder")


def find_vision_tower(model) -> "torch.nn.Module":
    import torch

    for holder in (getattr(model, "model", None), model):
        for attr in TOWER_ATTRIBUTES:
            module = getattr(holder, attr, None) if holder is not None else None
            if isinstance(module, torch.nn.Module):
                return module
    raise UnavailableError(
        f"{type(model).__name__} keeps its vision tower under none of {', '.join(TOWER_ATTRIBUTES)}")


def _image_features_fn(model):
    """``get_image_features`` of the model, or of its inner ``.model`` (Janus keeps it there)."""
    for holder in (model, getattr(model, "model", None)):
        fn = getattr(holder, "get_image_features", None) if holder is not None else None
        if callable(fn):
            return fn
    raise UnavailableError(f"{type(model).__name__} has no get_image_features: cvb cannot read its visual tokens")


def image_inputs(processor, images: Sequence["Image.Image"], device: Any, dtype: Any) -> dict[str, Any]:
    """What the image processor makes of ``images``, on the model's device and dtype."""
    import torch

    batch = processor.image_processor(images=[[im.convert("RGB")] for im in images], return_tensors="pt")
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device)
            if value.is_floating_point():
                value = value.to(dtype)
        out[key] = value
    return out


def visual_tokens(model, processor, images: Sequence["Image.Image"], device: Any, dtype: Any) -> list["torch.Tensor"]:
    """One ``(n_tokens, hidden)`` tensor per image: the features that replace its image tokens.

    Autograd stays on (wrap the call in ``torch.no_grad()`` for a frozen teacher).
    """
    import torch

    inputs = image_inputs(processor, images, device, dtype)
    get_features = _image_features_fn(model)
    accepted = inspect.signature(get_features).parameters
    kwargs = {k: v for k, v in inputs.items() if k in accepted}
    out = get_features(**kwargs)
    feats = getattr(out, "pooler_output", out)
    if isinstance(feats, torch.Tensor):
        feats = list(feats) if feats.dim() == 3 else [feats]
    feats = [f.reshape(-1, f.shape[-1]) for f in feats]
    if len(feats) != len(images):
        raise UnavailableError(f"{type(model).__name__}.get_image_features returned {len(feats)} "
                               f"feature sets for {len(images)} images")
    return feats
