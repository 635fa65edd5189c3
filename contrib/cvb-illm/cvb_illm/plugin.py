"""cvb plugin hook: registers ``illm`` (light: looks for the package and weight files only)."""

from __future__ import annotations

import importlib.util

from cvb import hookimpl
from cvb.specs import CodecSpec

from .weights import WEIGHTS, weights_path

DEFAULT_LEVELS = ("1", "2", "3", "4")
INSTALL_HINT = ("pip install 'neuralcompression==0.3.1' (it pins scipy<=1.11.1 and pulls pytorchvideo, "
                "fvcore, torch-fidelity, torchmetrics: see cvb-illm's README)")


def illm_status() -> str | None:
    if importlib.util.find_spec("neuralcompression") is None:
        return f"Python package neuralcompression is not installed: {INSTALL_HINT}"
    missing = [weights_path(int(q)) for q in DEFAULT_LEVELS if not weights_path(int(q)).is_file()]
    if missing:
        return (f"MS-ILLM weights not in the torch hub cache: place {', '.join(p.name for p in missing)} in "
                f"{missing[0].parent} (download each from {WEIGHTS['url']}<file>; CC-BY-NC 4.0); "
                f"or use option pretrained=false")
    return None


@hookimpl
def register_codecs(register):
    register(CodecSpec(
        name="illm", factory="cvb_illm.codec:IllmCodec", kind="generative", levels=DEFAULT_LEVELS,
        check=illm_status, check_sees_arg=False,
        summary="MS-ILLM (Muckley et al. ICML 2023), neuralcompression's zoo; level = quality 1..6 "
                "(targets 0.035 .. 0.9 bpp)",
        options={
            "pretrained": "true (default): released weights from the torch hub cache; false: seeded random weights",
            "seed": "seed of the random weights when pretrained=false (default 0)",
        }))
