"""The condition embedding and where it enters a vision encoder.

``ConditionEmbedding``: one-hot over the vocabulary -> Linear -> SiLU -> Linear, the last layer
zero-initialised, so a freshly attached condition adds exactly zero and the encoder is the base
model's, bit for bit. The class ``-1`` (unconditional) adds zero at any training state.

Where the vector goes (``placement``):

- ``embedding`` (default): the encoder's input embedding, where position information enters a
  ViT. For encoders with a learned absolute position embedding (SigLIP in Idefics3/SmolVLM and
  Gemma 3, CLIP in LLaVA, InternViT, Qwen3-VL) the vector has the encoder's width and is added to
  every position of the embedding layer's output, which is exactly adding it to the position
  embedding (patch + position [+ class token] is all that layer sums; none has dropout there at
  inference). Qwen2-VL / Qwen2.5-VL have no such embedding: the vector is added to the patch
  embedding's output, the same place. A convolutional network (the reference tagger's
  EfficientNet-Lite0) names the output of its stem ``patch_embed``: the vector is a per-channel
  offset there.
- ``rotary`` (the paper's code for Qwen2.5-VL, kept for comparison): the vector, head_dim / 2
  wide, is added to every patch's 2-D RoPE angles before cos/sin. **It cannot work**: RoPE
  attention depends only on the *difference* of two positions' angles, and every patch of an
  image gets the same offset, so it cancels in every query-key product (values are not rotated).
  The encoder's output changes only by float rounding (``tests/test_adapt_encoder.py`` shows it),
  the embedding gets no gradient, and an adapter trained this way is the plain fine-tuned
  encoder whatever its condition. cvb reproduces it on request so that claim can be checked.

Several images in one batch each get their own condition. ``Conditioner.set(classes, weights,
crops)`` takes one class per image, each image's visual-token count and, where the processor
cuts images into crops, each image's crop count (``cvb_hf.vision.crops_per_image``). When the
encoder runs with one row per crop (Idefics3/SmolVLM tiles, InternVL tiles, LLaVA-OneVision's
anyres crops), each image's crops get its vector; otherwise (Qwen's packed patches, one row per
image for LLaVA-1.5) rows are shared in proportion to the token counts. LLaVA-OneVision needs
the crops: its tokens per image are not proportional to its crops once the padding of a
non-square image is removed. The paper's evaluation code repeated
the first image's condition over the whole batch; this does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from cvb.errors import UnavailableError, UsageError

if TYPE_CHECKING:
    import torch

ATTRIBUTE = "cvb_condition"  # the embedding's name inside the tower (its weights' key prefix)


def _nn():
    import torch

    class ConditionEmbedding(torch.nn.Module):
        """one-hot(n_classes) -> Linear(n, width) -> SiLU -> Linear(width, width), last layer zero."""

        def __init__(self, n_classes: int, width: int):
            super().__init__()
            self.n_classes, self.width = n_classes, width
            self.mlp = torch.nn.Sequential(torch.nn.Linear(n_classes, width), torch.nn.SiLU(),
                                           torch.nn.Linear(width, width))
            torch.nn.init.zeros_(self.mlp[2].weight)
            torch.nn.init.zeros_(self.mlp[2].bias)

        def forward(self, classes: "torch.Tensor") -> "torch.Tensor":
            """``(n,)`` class indices (-1 = unconditional) -> ``(n, width)``."""
            weight = self.mlp[0].weight
            onehot = torch.nn.functional.one_hot(classes.clamp(min=0), self.n_classes).to(weight.dtype)
            out = self.mlp(onehot)
            return out * (classes >= 0).to(out.dtype)[:, None]

    return ConditionEmbedding


def condition_embedding(n_classes: int, width: int):
    return _nn()(n_classes, width)


class Conditioner:
    """Owns the per-image conditions of the next encoder call and applies them through a hook."""

    def __init__(self, tower, embedding, kind: str):
        self.tower, self.embedding, self.kind = tower, embedding, kind
        self._classes: list[int] | None = None
        self._weights: list[int] | None = None
        self._crops: list[int] | None = None

    def set(self, classes: Sequence[int], weights: Sequence[int], crops: Sequence[int] | None = None) -> None:
        """One class per image (-1: none), each image's visual-token count (its share of rows),
        and its crop count where the processor makes crops (None: it does not)."""
        if len(classes) != len(weights) or (crops is not None and len(crops) != len(classes)):
            raise ValueError(f"{len(classes)} conditions for {len(weights)} images")
        self._classes, self._weights = [int(c) for c in classes], [int(w) for w in weights]
        self._crops = None if crops is None else [int(c) for c in crops]

    def clear(self) -> None:
        self._classes = self._weights = self._crops = None

    def offsets(self, rows: int, device: Any) -> "torch.Tensor | None":
        """``(rows, width)``: each row's condition vector; None when nothing is set or all are -1."""
        import torch

        if self._classes is None or self._weights is None or all(c < 0 for c in self._classes):
            return None
        if self._crops is not None and sum(self._crops) == rows:  # one row per crop
            per_image = torch.tensor(self._crops, device=device)
        else:
            total = sum(self._weights)
            if total <= 0 or any((w * rows) % total for w in self._weights):
                raise UnavailableError(f"cannot share {rows} encoder rows between images with visual-token "
                                       f"counts {self._weights} (crops {self._crops})")
            per_image = torch.tensor([w * rows // total for w in self._weights], device=device)
        vectors = self.embedding(torch.tensor(self._classes, device=device))
        return torch.repeat_interleave(vectors, per_image, dim=0)


PLACEMENTS = ("embedding", "rotary")


def attach(tower, n_classes: int, placement: str = "embedding") -> Conditioner | None:
    """Add the condition embedding to ``tower`` (as ``tower.cvb_condition``) and hook it into its
    position encoding. None for ``n_classes == 0`` (mode ``none``)."""
    if n_classes <= 0:
        return None
    if placement == "rotary":
        rotary = getattr(tower, "rotary_pos_emb", None)
        if rotary is None or not hasattr(rotary, "inv_freq") or not hasattr(rotary, "recomposition_frequencies"):
            raise UsageError(f"{type(tower).__name__} has no 2-D rotary angles (placement rotary is for "
                                   f"Qwen2-VL/2.5-VL/3-VL); use placement embedding")
        emb = _place(tower, condition_embedding(n_classes, 2 * int(rotary.inv_freq.numel())))
        cond = Conditioner(tower, emb, "rotary")
        _wrap_rotary(rotary, cond)
        return cond
    if placement != "embedding":
        raise UsageError(f"placement {placement!r}: choose one of {', '.join(PLACEMENTS)}")
    target = absolute_position_module(tower)
    kind = "position embedding"
    if target is None and isinstance(getattr(tower, "patch_embed", None), _module_type()):
        target, kind = tower.patch_embed, "patch embedding"
    if target is None:
        raise UsageError(
            f"{type(tower).__name__}: cvb finds neither a learned position embedding nor a patch embedding "
            f"to add the condition to; supported: Qwen2-VL/2.5-VL/3-VL, SigLIP, CLIP, InternViT")
    width = _embedding_width(target) if kind == "position embedding" else _output_width(tower)
    emb = _place(tower, condition_embedding(n_classes, width))
    cond = Conditioner(tower, emb, kind)

    def add(module, args, output):
        rows = output.shape[0]
        extra = cond.offsets(rows, output.device)
        if extra is None:
            return output
        extra = extra.to(output.dtype)
        if output.dim() == 4:  # a convolutional stem's (images, channels, h, w): per channel
            return output + extra[:, :, None, None]
        return output + (extra if output.dim() == 2 else extra[:, None, :])

    target.register_forward_hook(add)
    return cond


def _module_type():
    import torch

    return torch.nn.Module


def _output_width(tower) -> int:
    config = getattr(tower, "config", None)
    width = getattr(config, "hidden_size", None) or getattr(config, "embed_dim", None)
    if not width:
        raise UnavailableError(f"{type(tower).__name__}: cannot tell the width of its patch embedding")
    return int(width)


def _place(tower, emb):
    param = next(tower.parameters())
    emb.to(device=param.device, dtype=param.dtype)
    tower.add_module(ATTRIBUTE, emb)
    return emb


def absolute_position_module(tower) -> "torch.nn.Module | None":
    """The embedding layer that adds a learned absolute position embedding, if the tower has one."""
    for name, module in tower.named_modules():
        if not name.split(".")[-1].endswith("embeddings"):
            continue
        for attr in ("position_embedding", "position_embeddings"):
            if getattr(module, attr, None) is not None:
                return module
    return None


def _embedding_width(module) -> int:
    pos = getattr(module, "position_embedding", None)
    if pos is None:
        pos = module.position_embeddings
    weight = getattr(pos, "weight", pos)
    return int(weight.shape[-1])


def _wrap_rotary(rotary, cond: Conditioner) -> None:
    """Replace the rotary module's forward by the same computation with the condition added to the
    angles (``position * inv_freq``) before cos/sin. With no condition it is the original, op for op."""
    import types

    import torch

    def forward(self, x, position_ids):
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        extra = cond.offsets(freqs.shape[0], x.device)
        if extra is not None:  # (rows, 2k) = [height freqs | width freqs] -> (rows, 2, k)
            freqs = freqs + extra.float().reshape(freqs.shape)
        cos = freqs.cos() * self.attention_scaling
        sin = freqs.sin() * self.attention_scaling
        return self.recomposition_frequencies(cos), self.recomposition_frequencies(sin)

    rotary.forward = types.MethodType(forward, rotary)
