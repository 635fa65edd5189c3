"""Lightweight reference models that run fully offline from weights shipped in pip packages.

They are *not* VLMs: ``ocr-reader`` reads text (RapidOCR, PP-OCRv4), ``imagenet-tagger``
names objects (EfficientNet-Lite0 + all-MiniLM-L6-v2), and ``reference`` routes each question
to one of them. They answer a few question shapes well enough to make the offline demo's
numbers real, and degrade on compressed images as real models do. See docs/vlm-reference.md.

What another plugin may build on (the adapter's ``adapted-tagger``) is what this package root
exports: ``ImageNetTagger``, the per-image answer helpers ``ImageCache``, ``answer_each``,
``per_image``, and ``require`` / ``TAGGER_MODULES`` (a clear error when the tagger's packages
are missing).
"""

from typing import Any

#: the public names (imported from the package root; its modules are internal) -> their module,
#: imported on first use so that loading the plugin stays light
_WHERE = {
    "ImageNetTagger": "tagger",
    "ImageCache": "base",
    "answer_each": "base",
    "per_image": "base",
    "require": "deps",
    "TAGGER_MODULES": "deps",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
