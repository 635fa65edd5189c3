"""The student: a VLM's vision side (tower, projector) plus the condition, and what of it trains.

``--train`` chooses the trained part (everything else frozen; the LLM always is):

- ``full`` (default, the paper): the whole vision side (patch embedding, blocks, merger or
  projector) and the condition embedding;
- ``last:N``: the condition embedding, the tower's last N blocks, and the merger/projector;
- ``first:N``: the condition embedding, what computes the first block's input (the patch and
  position embeddings, a CNN's stem) and the first N blocks: the part that sees the compression
  artefacts first, while the rest of the network, and what it has learnt to read, stays as it
  was (on the reference tagger it recovers more, sooner, than ``full``: docs/adapter.md);
- ``lora:R``: LoRA adapters of rank R (through ``peft``) on every linear layer of the tower's
  blocks, plus the condition embedding (the projector stays frozen);
- ``embedding``: the condition embedding alone (the cheapest; it can only shift positions).

Only parameters the visual tokens depend on ever train, whatever ``--train`` says: given a
probe (one real image through the processor), ``Student`` runs the model's own visual-token
computation once and keeps the parameters autograd reaches from those tokens. So LLaVA, which
reads CLIP's second-to-last layer, never trains its last layer or ``post_layernorm`` (they
would stay unchanged, be saved for nothing, and stop DDP at its second step), and ``last:N``
counts the last N blocks that are used. What feeds the first block (``first:N``) is found the
same way: autograd from that block's input. Derived, not listed, so it holds for any
architecture.

The adapter's weights are exactly the trained tensors, named relative to the model
(``model.visual.blocks.0.attn.qkv.weight``, ``model.visual.cvb_condition.mlp.0.weight``, LoRA's
``...lora_A.default.weight``), so loading puts them back where they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvb.errors import UsageError

from .condition import ATTRIBUTE, Conditioner, attach

if TYPE_CHECKING:
    import torch

TRAIN_CHOICES = "full | last:N | first:N | lora:R | embedding"


@dataclass(frozen=True)
class TrainSpec:
    kind: str  # full, last, first, lora, embedding
    n: int = 0  # blocks for last and first, rank for lora

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.n}" if self.kind in ("last", "first", "lora") else self.kind


def parse_train(value: str) -> TrainSpec:
    text = str(value).strip().lower()
    m = re.fullmatch(r"(full|embedding|(last|first):(\d+)|lora(?::(\d+))?)", text)
    if not m:
        raise UsageError(f"--train {value!r}: choose {TRAIN_CHOICES} (e.g. last:4, first:4, lora:16)")
    if m.group(2):
        if int(m.group(3)) < 1:
            raise UsageError(f"--train {m.group(2)}:N needs N >= 1")
        return TrainSpec(m.group(2), int(m.group(3)))
    if text.startswith("lora"):
        rank = int(m.group(4) or 16)
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
        raise UsageError(f"{type(tower).__name__} has no list of blocks (--train last:N and first:N count blocks)")
    return max(lists, key=len)


class Student:
    """The parts of one loaded VLM that adapter training touches, by their names in the model."""

    def __init__(self, model, n_classes: int, train: TrainSpec, placement: str = "embedding", probe=None):
        """``probe``: ``() -> (image inputs, number of images)`` for ``used_parameters``; None
        (loading a finished adapter) skips the check."""
        from cvb_hf import find_projector, find_vision_tower

        self.model = model
        self.tower = find_vision_tower(model)
        self.projector = find_projector(model)
        self.train_spec = train
        self.conditioner: Conditioner | None = attach(self.tower, n_classes, placement)
        if train.kind == "lora":
            _add_lora(self.tower, train.n)
        if train.kind == "embedding" and self.conditioner is None:
            raise UsageError("--train embedding trains only the condition embedding, and --condition none has none")
        self.used: set[str] | None = None
        self.stem: set[str] = set()  # what computes the first block's input (for first:N)
        if probe:
            entry = blocks_of(self.tower)[0] if train.kind == "first" else None
            self.used, self.stem = used_parameters(model, self.vision_modules(), probe, entry)
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
            blocks = [b for b in blocks_of(self.tower) if self._is_used(b)]
            n = min(self.train_spec.n, len(blocks))
            chosen = list(blocks[len(blocks) - n:])
            merger = getattr(self.tower, "merger", None)
            chosen += [m for m in (merger, self.projector) if m is not None]
        elif kind == "first":
            blocks = [b for b in blocks_of(self.tower) if self._is_used(b)]
            chosen = list(blocks[:self.train_spec.n])
        used = {id(p) for n, p in self.model.named_parameters() if self.used is None or n in self.used}
        for module in chosen:
            for p in module.parameters():
                p.requires_grad_(id(p) in used)
        for n, p in self.model.named_parameters():
            if n in self.stem:
                p.requires_grad_(id(p) in used)
        if kind == "lora":
            for name, p in self.tower.named_parameters():
                if "lora_" in name:
                    p.requires_grad_(id(p) in used)
        emb = getattr(self.tower, ATTRIBUTE, None)
        if emb is not None:
            for p in emb.parameters():
                p.requires_grad_(True)

    def _is_used(self, module) -> bool:
        if self.used is None:
            return True
        ids = {id(p) for p in module.parameters()}
        return any(id(p) in ids for n, p in self.model.named_parameters() if n in self.used)

    def trainable(self) -> dict[str, "torch.nn.Parameter"]:
        """Trained parameters by their name in the model (the adapter's weight names)."""
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def train(self, mode: bool = True) -> None:
        for m in self.vision_modules():
            m.train(mode)


def used_parameters(model, modules, probe, entry=None) -> tuple[set[str], set[str]]:
    """Names (in ``model``) of the parameters of ``modules`` that the visual tokens depend on:
    the model's own ``features`` on the probe's image, then autograd from the tokens back to
    every candidate (the condition embedding, absent from an unconditioned pass, is left to
    ``_select``). The model's ``requires_grad`` flags are restored. With ``entry`` (a module,
    the first block), also the names of those its input depends on (else an empty set)."""
    import torch

    from cvb_hf import features

    seen: list[Any] = []

    def grab(module, args, kwargs):
        if not seen:  # the first call: the first image's pass into the first block
            first = args[0] if args else next(iter(kwargs.values()), None)
            if isinstance(first, torch.Tensor):
                seen.append(first)

    names = {id(p): n for n, p in model.named_parameters()}
    candidates = {names[id(p)]: p for m in modules for p in m.parameters()
                  if id(p) in names and f".{ATTRIBUTE}." not in f".{names[id(p)]}"}
    before = {n: p.requires_grad for n, p in candidates.items()}
    inputs, n_images = probe()
    hook = entry.register_forward_pre_hook(grab, with_kwargs=True) if entry is not None else None
    try:
        for p in candidates.values():
            p.requires_grad_(True)
        with torch.enable_grad():
            tokens = features(model, inputs, n_images)
            total = sum(t.float().sum() for t in tokens)
            grads = torch.autograd.grad(total, list(candidates.values()), allow_unused=True, retain_graph=bool(seen))
            stem: set[str] = set()
            if seen:
                up = torch.autograd.grad(seen[0].float().sum(), list(candidates.values()), allow_unused=True)
                stem = {n for n, g in zip(candidates, up) if g is not None}
    finally:
        if hook is not None:
            hook.remove()
        for n, p in candidates.items():
            p.requires_grad_(before[n])
    return {n for n, g in zip(candidates, grads) if g is not None}, stem


def _add_lora(tower, rank: int) -> None:
    """LoRA (peft) on the linear layers inside the tower's blocks."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()  # peft imports transformers models, which need it
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    blocks = blocks_of(tower)
    names = sorted({n.split(".")[-1] for n, m in blocks.named_modules() if isinstance(m, torch.nn.Linear)})
    if not names:
        raise UsageError(f"{type(tower).__name__}: no linear layers in its blocks for LoRA (--train lora:R)")
    config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=names)
    inject_adapter_in_model(config, blocks)
