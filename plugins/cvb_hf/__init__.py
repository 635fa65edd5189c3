"""The ``hf`` VLM plugin: any Hugging Face image-text-to-text model, through transformers.

``plugin`` registers the specs (nothing heavy imported); ``vlm.HFVLM`` is the model wrapper;
``loading`` finds, checks and loads checkpoints; ``choices`` reads yes/no and multiple-choice
answers from next-token logits; ``vision`` reaches the vision tower and the visual tokens the
LLM sees.

**The seam** other plugins build on (the adapter, docs/adapter.md) is what this package root
exports, and only that (docs/vlm-hf.md, "The seam"): ``HFVLM`` (subclass it; its
``revision_label()`` names the checkpoint's commit), its ``OPTIONS``, ``hf_status()``,
``revision_label``, ``image_backend`` and the vision functions ``find_vision_tower``,
``find_projector``, ``image_inputs``, ``features``, ``visual_tokens``, ``crops_per_image``.
"""

from typing import Any

#: the public names (imported from the package root; its modules are internal) -> their module,
#: imported on first use so that loading the plugin stays light
_WHERE = {
    "HFVLM": "vlm",
    "OPTIONS": "vlm",
    "hf_status": "status",
    "revision_label": "loading",
    "image_backend": "loading",
    "find_vision_tower": "vision",
    "find_projector": "vision",
    "image_inputs": "vision",
    "features": "vision",
    "visual_tokens": "vision",
    "crops_per_image": "vision",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
