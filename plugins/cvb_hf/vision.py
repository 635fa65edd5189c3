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


def _find(model: Any, attributes: Sequence[str]) -> "torch.nn.Module | None":
    """The first ``attributes`` module on the model's inner ``.model``, else on the model."""
    import torch

    for holder in (getattr(model, "model", None), model):
        for attr in attributes:
            module = getattr(holder, attr, None) if holder is not None else None
            if isinstance(module, torch.nn.Module):
                return module
    return None


def find_vision_tower(model: Any) -> "torch.nn.Module":
    tower = _find(model, TOWER_ATTRIBUTES)
    if tower is not None:
        return tower
    raise UnavailableError(
        f"{type(model).__name__} keeps its vision tower under none of {', '.join(TOWER_ATTRIBUTES)}")


def _image_features_fn(model: Any) -> Any:
    """``get_image_features`` of the model, or of its inner ``.model`` (Janus keeps it there)."""
    for holder in (model, getattr(model, "model", None)):
        fn = getattr(holder, "get_image_features", None) if holder is not None else None
        if callable(fn):
            return fn
    raise UnavailableError(f"{type(model).__name__} has no get_image_features: cvb cannot read its visual tokens")


def image_inputs(processor: Any, images: Sequence["Image.Image"], device: Any, dtype: Any) -> dict[str, Any]:
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


#: where transformers keeps the projector between the vision tower and the LLM (Qwen's merger is
#: inside its tower, so Qwen has none here)
PROJECTOR_ATTRIBUTES = ("multi_modal_projector", "connector", "aligner")


def find_projector(model: Any) -> "torch.nn.Module | None":
    """The module that maps the tower's output to the LLM's width, where it is not in the tower."""
    return _find(model, PROJECTOR_ATTRIBUTES)


def visual_tokens(model: Any, processor: Any, images: Sequence["Image.Image"], device: Any,
                  dtype: Any) -> list["torch.Tensor"]:
    """One ``(n_tokens, hidden)`` tensor per image: the features that replace its image tokens.

    Autograd stays on (wrap the call in ``torch.no_grad()`` for a frozen teacher).
    """
    return features(model, image_inputs(processor, images, device, dtype), len(images))


def features(model: Any, inputs: dict[str, Any], n_images: int) -> list["torch.Tensor"]:
    """``visual_tokens`` of already prepared ``image_inputs``: one tensor per image.

    Models that cut an image into several crops (InternVL's tiles, Idefics3/SmolVLM's tiles plus
    global view) get their crops' tokens joined in order, which is how their LLM receives them.
    """
    import torch

    if _is_mllama(model):
        return _mllama_features(model, inputs, n_images)
    get_features = _image_features_fn(model)
    accepted = inspect.signature(get_features).parameters
    kwargs = {k: v for k, v in inputs.items() if k in accepted}
    out = get_features(**kwargs)
    feats = getattr(out, "pooler_output", out)
    if isinstance(feats, torch.Tensor):
        feats = list(feats) if feats.dim() == 3 else [feats]
    feats = [f.reshape(-1, f.shape[-1]) for f in feats]
    counts = crops_per_image(inputs) if len(feats) != n_images else None
    if counts is not None:
        if sum(counts) != len(feats):
            raise UnavailableError(f"{type(model).__name__}: {len(feats)} crops came back, the image "
                                   f"processor made {sum(counts)} ({counts})")
        starts = [sum(counts[:i]) for i in range(len(counts))]
        feats = [torch.cat(feats[s:s + c]) for s, c in zip(starts, counts)]
    if len(feats) != n_images:
        raise UnavailableError(f"{type(model).__name__}.get_image_features returned {len(feats)} "
                               f"feature sets for {n_images} images")
    return feats


def crops_per_image(inputs: dict[str, Any]) -> list[int] | None:
    """How many crops each image was cut into, where the model returns one feature set per crop.

    InternVL's processor says so in ``num_patches``. Idefics3/SmolVLM pads every image to the same
    number of crops (``pixel_values`` of shape images x crops x C x H x W) and its model drops the
    all-zero padding crops; transformers 5.24 then regroups the rest per image, older releases
    (5.17, seen on a GPU machine) return one set per crop. Counting the real crops with the
    model's own rule (a crop that is not all zeros) groups them either way. LLaVA-OneVision pads
    its anyres crops the same way (``pixel_values`` images x crops x C x H x W, unused crops zero).
    None where the processor makes no crops (Qwen's packed patches, LLaVA-1.5's one image).
    """
    crops = inputs.get("num_patches")
    if crops is not None:
        return [int(c) for c in (crops.tolist() if hasattr(crops, "tolist") else crops)]
    pixels = inputs.get("pixel_values")
    if pixels is not None and getattr(pixels, "dim", lambda: 0)() == 5:
        return [int(n) for n in (pixels != 0).flatten(2).any(-1).sum(-1).tolist()]
    return None


def _is_mllama(model: Any) -> bool:
    return getattr(getattr(model, "config", None), "model_type", "") == "mllama"


def _mllama_features(model: Any, inputs: dict[str, Any], n_images: int) -> list["torch.Tensor"]:
    """Mllama has no image tokens: its LLM reads the projected vision states through
    cross-attention. Those states (every tile of an image, in order) are its visual tokens."""
    inner = getattr(model, "model", model)
    vision = inner.vision_model(pixel_values=inputs["pixel_values"], aspect_ratio_ids=inputs["aspect_ratio_ids"],
                                aspect_ratio_mask=inputs["aspect_ratio_mask"])
    states = inner.multi_modal_projector(vision.last_hidden_state)  # (batch, images, tiles, patches, hidden)
    real = inputs["aspect_ratio_mask"].bool()  # (batch, images, tiles): the tiles an image really has
    if states.shape[0] != n_images:
        raise UnavailableError(f"Mllama returned vision states for {states.shape[0]} images, {n_images} given")
    return [states[i, 0][real[i, 0]].reshape(-1, states.shape[-1]) for i in range(n_images)]
