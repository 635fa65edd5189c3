"""The adapter folder: what training leaves behind and what ``adapted:PATH`` loads.

::

    adapters/qwen3b-jpeg-elic/
      adapter.safetensors   the trained tensors only (vision side + condition; never the LLM)
      adapter.json          base model (id, revision, vision-weights fingerprint), vocabulary,
                            resolution, condition mode and placement, what was trained, data
                            fingerprint, losses, cvb version, weights sha256
      losses.json           validation loss per codec x level before/after, training curve
      checkpoint/state.pt   while training (optimizer, scheduler, step, RNG); removed at the end

The base fingerprint hashes the base model's vision-side weights (rounded to bfloat16, so the
same checkpoint loaded in fp32 or bf16 gives the same print); loading refuses an adapter whose
base differs, whatever the base is called.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from cvb.errors import UsageError

if TYPE_CHECKING:
    import torch

FORMAT = "cvb-adapter/1"
MANIFEST = "adapter.json"
WEIGHTS = "adapter.safetensors"
LOSSES = "losses.json"
CHECKPOINT = "checkpoint"


def base_modules(model) -> list[tuple[str, "torch.nn.Module"]]:
    """``[("tower", ...), ("projector", ...)]``: the base model's vision side (no projector
    entry where the tower holds it, as Qwen's merger)."""
    from cvb_hf import find_projector, find_vision_tower

    return [(n, m) for n, m in (("tower", find_vision_tower(model)), ("projector", find_projector(model)))
            if m is not None]


def vision_fingerprint(modules: Iterable[tuple[str, "torch.nn.Module"]]) -> str:
    """sha256 over (name, shape, bf16 bytes) of every parameter of the named modules (the
    condition embedding and LoRA layers excluded: they are the adapter, not the base)."""
    import torch

    h = hashlib.sha256()
    for prefix, module in modules:
        for name, p in sorted(module.named_parameters(), key=lambda kv: kv[0]):
            if name.split(".")[0] == "cvb_condition" or "lora_" in name:
                continue
            t = p.detach().to(device="cpu", dtype=torch.bfloat16).contiguous()
            h.update(f"{prefix}.{name}:{tuple(t.shape)}".encode())
            h.update(t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """The folder made if needed, then cvb's atomic write, fsynced (checkpoints, weights), with
    the permissions of a file made by ``open`` (the temporary file it renames is 0600)."""
    import os

    from cvb.atomic import write_atomic as write

    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, data, durable=True)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporary files a killed write left (``.NAME.*.tmp``); how many went."""
    gone = 0
    for d in (folder, folder / CHECKPOINT):
        for tmp in d.glob(".*.tmp") if d.is_dir() else ():
            tmp.unlink(missing_ok=True)
            gone += 1
    return gone


def save_weights(folder: Path, tensors: dict[str, "torch.Tensor"], metadata: dict[str, str]) -> str:
    """Write ``adapter.safetensors`` atomically; returns its sha256. Keep ``metadata`` to one key:
    safetensors writes several in no fixed order, and the bytes must be reproducible (the sha256
    is part of the adapted VLM's version)."""
    from safetensors.torch import save

    data = save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, metadata=metadata)
    write_atomic(folder / WEIGHTS, data)
    return hashlib.sha256(data).hexdigest()


def save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    write_atomic(folder / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The adapter's JSON, checked; a clear error for a folder that is not a finished adapter."""
    root = Path(folder).expanduser()
    path = root / MANIFEST
    if not root.is_dir():
        raise UsageError(f"adapter {folder}: no such folder (train one with `cvb adapt --out {folder} ...`)")
    if not path.is_file():
        hint = (" (training has not finished: rerun the same `cvb adapt` command to resume)"
                if (root / CHECKPOINT).is_dir() else "")
        raise UsageError(f"adapter {folder}: no {MANIFEST} in it{hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"adapter {folder}: {MANIFEST} is not JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise UsageError(f"adapter {folder}: format {manifest.get('format')!r}, this cvb reads {FORMAT}")
    if not (root / WEIGHTS).is_file():
        raise UsageError(f"adapter {folder}: {WEIGHTS} is missing")
    for dotted, kinds in REQUIRED.items():
        node: Any = manifest
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                raise UsageError(f"adapter {folder}: {MANIFEST} has no {dotted} (edited by hand or damaged); "
                                 f"train the adapter again (`cvb adapt ... --restart`)")
            node = node[key]
        if not isinstance(node, kinds) or isinstance(node, bool) and bool not in kinds:
            raise UsageError(f"adapter {folder}: {MANIFEST} has {dotted} = {json.dumps(node)[:80]}, not "
                             f"{' or '.join(_KIND_NAMES[k] for k in kinds)} (edited by hand or damaged); "
                             f"train the adapter again (`cvb adapt ... --restart`)")
    _check_values(folder, manifest)
    return manifest


_KIND_NAMES = {str: "a string", dict: "an object", list: "a list", int: "a number", float: "a number",
               type(None): "null"}

#: what loading and reporting read from ``adapter.json``, with its JSON type: a missing or
#: mistyped one is a clear error, never a KeyError or a TypeError
REQUIRED: dict[str, tuple[type, ...]] = {
    "base": (dict,), "base.source": (str,), "base.vision_fingerprint": (str,),
    "vocabulary": (dict,), "vocabulary.levels": (dict,), "vocabulary.mode": (str,),
    "condition": (dict,), "condition.mode": (str,), "condition.added_to": (str, type(None)),
    "train": (dict,), "train.what": (str,), "train.parameters": (int,), "train.steps": (int,),
    "weights": (dict,), "weights.sha256": (str,),
    "losses": (dict,), "losses.val_before": (dict,), "losses.val_after": (dict,),
    "resolution": (str, list),
}


def _check_values(folder, manifest: dict[str, Any]) -> None:
    """The values that are parsed further: the vocabulary, what was trained, the resolution."""
    from .student import parse_train
    from .vocabulary import Vocabulary

    def bad(what: str, why: str) -> UsageError:
        return UsageError(f"adapter {folder}: {MANIFEST} has {what} ({why}; edited by hand or damaged); "
                          f"train the adapter again (`cvb adapt ... --restart`)")

    levels = manifest["vocabulary"]["levels"]
    if not levels or not all(isinstance(v, list) and v and all(isinstance(x, str) for x in v)
                             for v in levels.values()):
        raise bad(f"vocabulary.levels = {json.dumps(levels)[:80]}", "want {codec: [level, ...]} with levels as strings")
    try:
        Vocabulary.from_json(manifest["vocabulary"])
    except (UsageError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise bad("a vocabulary cvb cannot read", str(exc)) from None
    try:
        parse_train(manifest["train"]["what"])
    except UsageError as exc:
        raise bad(f"train.what = {manifest['train']['what']!r}", str(exc)) from None
    res = manifest["resolution"]
    if res != "native" and not (isinstance(res, list) and len(res) == 2
                                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in res)):
        raise bad(f"resolution = {json.dumps(res)[:80]}", 'want "native" or [width, height]')


def load_weights(folder: str | Path, manifest: dict[str, Any]) -> dict[str, "torch.Tensor"]:
    from safetensors.torch import load_file

    path = Path(folder).expanduser() / WEIGHTS
    if file_sha256(path) != manifest["weights"]["sha256"]:
        raise UsageError(f"adapter {folder}: {WEIGHTS} does not match the sha256 in {MANIFEST} "
                         f"(changed or corrupted after training)")
    return load_file(str(path))
