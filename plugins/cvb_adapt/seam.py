"""Which VLMs ``cvb adapt`` can train, and how it gets a trainable base from each.

The seam itself is ``cvb_hf.vision``'s: a model holding its vision tower under ``visual`` (or
``vision_tower``, ...), its visual features from ``get_image_features``, its image inputs from
``processor.image_processor``, and the condition's place (a learned position embedding, or the
output of ``tower.patch_embed``). A transformers VLM (``HFVLM``) is its own base. Any other VLM
plugin joins by giving its VLM object a method

    adapter_base(device: str, dtype: str) -> base

whose ``base`` has ``load()``, ``close()``, ``model`` and ``processor`` in that shape, plus
``source``, ``revision``, ``is_local``, ``min_pixels``/``max_pixels`` (None), ``family`` (the
registry name ``adapted:PATH`` rebuilds it from) and ``revision_label()``. The reference tagger
(``cvb_reference.tagger_vision``) is such a plugin.
"""

from __future__ import annotations

from typing import Any, Callable

from cvb.errors import UsageError

#: family recorded in adapter.json -> "module:factory" of its adapted VLM (``create(folder, manifest, **options)``)
ADAPTED_FAMILIES = {"imagenet-tagger": "cvb_adapt.tagger:create"}


def base_maker(registry, vlm_ref: str, vlm_options: dict[str, Any], probe) -> Callable[[str, str], Any]:
    """``make(device, dtype)`` -> the base to train; a clear error for a VLM with no seam."""
    if callable(getattr(probe, "adapter_base", None)):
        return lambda device, dtype: registry.create("vlm", vlm_ref, **vlm_options).adapter_base(device, dtype)
    from cvb_hf import HFVLM

    if not isinstance(probe, HFVLM):
        raise UsageError(f"cvb adapt trains Hugging Face VLMs (hf:..., or an alias such as qwen2.5-vl-3b) and "
                         f"VLMs with an adapter seam (imagenet-tagger); {vlm_ref!r} is a {type(probe).__name__}")
    return lambda device, dtype: registry.create("vlm", vlm_ref, **{**vlm_options, "device": device, "dtype": dtype})


def family_of(vlm) -> str:
    return getattr(vlm, "family", "hf")


def revision_of(vlm) -> str:
    label = getattr(vlm, "revision_label", None)
    if callable(label):
        return label()
    from cvb_hf import revision_label

    return revision_label(vlm.source, vlm.is_local, vlm.revision)


def adapted_factory(manifest: dict[str, Any]) -> Callable[..., Any] | None:
    """The adapted-VLM factory of a non-transformers family, or None for ``hf``."""
    family = manifest.get("base", {}).get("family", "hf")
    if family == "hf":
        return None
    target = ADAPTED_FAMILIES.get(family)
    if target is None:
        raise UsageError(f"adapter for a {family!r} model: this cvb adapts {', '.join(['hf', *ADAPTED_FAMILIES])}")
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
