"""The student: a VLM's vision side (tower, projector) plus the condition, and what of it trains.

``--train`` chooses the trained part (everything else frozen; the LLM always is):

- ``full`` (default, the paper): the whole vision side (patch embedding, blocks, merger or
  projector) and the condition embedding;
- ``last:N``: the condition embedding, the tower's last N blocks, and the merger/projector;
- ``lora:R``: LoRA adapters of rank R (through ``peft``) on every linear layer of the tower's
  blocks, plus the condition embedding (the projector stays frozen);
- ``embedding``: the condition embedding alone (the cheapest; it can only shift positions).

The adapter's weights are exactly the trained tensors, named relative to the model
(``model.visual.blocks.0.attn.qkv.weight``, ``model.visual.cvb_condition.mlp.0.weight``, LoRA's
``...lora_A.default.weight``), so loading puts them back where they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvb.errors import UnavailableError, UsageError

from .condition import ATTRIBUTE, Conditioner, attach

if TYPE_CHECKING:
    import torch

TRAIN_CHOICES = "full | last:N | lora:R | embedding"


@dataclass(frozen=True)
class TrainSpec:
    kind: str  # full, last, lora, embedding
    n: int = 0  # blocks for last, rank for lora

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.n}" if self.kind in ("last", "lora") else self.kind


def parse_train(value: str) -> TrainSpec:
    text = str(value).strip().lower()
    m = re.fullmatch(r"(full|embedding|last:(\d+)|lora(?::(\d+))?)", text)
    if not m:
        raise UsageError(f"--train {value!r}: choose {TRAIN_CHOICES} (e.g. last:4, lora:16)")
    if text.startswith("last"):
        if int(m.group(2)) < 1:
            raise UsageError("--train last:N needs N >= 1")
        return TrainSpec("last", int(m.group(2)))
    if text.startswith("lora"):
        rank = int(m.group(3) or 16)
        if rank < 1:
            raise UsageError("--train lora:R needs R >= 1")
        return TrainSpec("lora", rank)
    return TrainSpec(text)


def blocks_of(tower) -> "torch.nn.ModuleList":
    """The tower's transformer blocks: its longest ModuleList (Qwen ``blocks``, CLIP/SigLIP
    ``encoder.layers``, InternViT ``encoder.layer``)."""
    import torch

    lists = [m for m in tower.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise UnavailableError(f"{type(tower).__name__} has no list of blocks")
    return max(lists, key=len)


class Student:
    """The parts of one loaded VLM that adapter training touches, by their names in the model."""

    def __init__(self, model, n_classes: int, train: TrainSpec, placement: str = "embedding"):
        from cvb_hf.vision import find_projector, find_vision_tower

        self.model = model
        self.tower = find_vision_tower(model)
        self.projector = find_projector(model)
        self.train_spec = train
        self.conditioner: Conditioner | None = attach(self.tower, n_classes, placement)
        if train.kind == "lora":
            _add_lora(self.tower, train.n)
        if train.kind == "embedding" and self.conditioner is None:
            raise UsageError("--train embedding trains only the condition embedding, and --condition none has none")
        self._select()

    def vision_modules(self) -> list["torch.nn.Module"]:
        return [m for m in (self.tower, self.projector) if m is not None]

    def _select(self) -> None:
        for p in self.model.parameters():
            p.requires_grad_(False)
        kind = self.train_spec.kind
        chosen: list[Any] = []
        if kind == "full":
            chosen = self.vision_modules()
        elif kind == "last":
            blocks = blocks_of(self.tower)
            n = min(self.train_spec.n, len(blocks))
            chosen = list(blocks[len(blocks) - n:])
            merger = getattr(self.tower, "merger", None)
            chosen += [m for m in (merger, self.projector) if m is not None]
        for module in chosen:
            for p in module.parameters():
                p.requires_grad_(True)
        if kind == "lora":
            for name, p in self.tower.named_parameters():
                if "lora_" in name:
                    p.requires_grad_(True)
        emb = getattr(self.tower, ATTRIBUTE, None)
        if emb is not None:
            for p in emb.parameters():
                p.requires_grad_(True)

    def trainable(self) -> dict[str, "torch.nn.Parameter"]:
        """Trained parameters by their name in the model (the adapter's weight names)."""
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def train(self, mode: bool = True) -> None:
        for m in self.vision_modules():
            m.train(mode)


def _add_lora(tower, rank: int) -> None:
    """LoRA (peft) on the linear layers inside the tower's blocks."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()  # peft imports transformers models, which need it
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    blocks = blocks_of(tower)
    names = sorted({n.split(".")[-1] for n, m in blocks.named_modules() if isinstance(m, torch.nn.Linear)})
    if not names:
        raise UnavailableError(f"{type(tower).__name__}: no linear layers in its blocks for LoRA")
    config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=names)
    inject_adapter_in_model(config, blocks)
