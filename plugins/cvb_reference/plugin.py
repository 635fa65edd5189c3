"""Registers the offline reference models (``ocr-reader``, ``imagenet-tagger``, ``reference``)
and ``cvb demo-data`` (the photos of the tagger's adapter demonstration).

Imports nothing heavy: the factories are named by string and the checks only look for the
packages with ``importlib.util.find_spec``.
"""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import VLMSpec

from .deps import ocr_check, reference_check, tagger_check

_NOT_A_VLM = "lightweight reference model, not a VLM"

TAGGER_OPTIONS = {
    "top_k": "ImageNet classes considered per image (default 5)",
    "threshold": "evidence (probability x relevance summed over the top classes) needed for "
                 "'yes' (default 0.1)",
    "device": "torch device (default cpu)",
}
OCR_OPTIONS = {
    "min_score": "drop recognised lines whose confidence is below this (default 0.5)",
    "match": "fuzzy-match ratio for 'is the word X written' questions, 1 = exact (default 0.8)",
}
BATCH = {
    "batch_size": "queries per call (default 16 for the tagger, 8 otherwise)",
    "threads": "CPU threads for torch/onnxruntime inside the model (default 1, fastest on a "
               "shared 2-core machine; 0 = the libraries' defaults)",
}


@hookimpl
def register_vlms(register):
    register(VLMSpec(
        name="ocr-reader", factory="cvb_reference.ocr_reader:OcrReader", kind="reference",
        check=ocr_check, options={**OCR_OPTIONS, **BATCH},
        summary=f"RapidOCR PP-OCRv4, offline ({_NOT_A_VLM}): answers text questions with the "
                "text it reads"))
    register(VLMSpec(
        name="imagenet-tagger", factory="cvb_reference.tagger:ImageNetTagger", kind="reference",
        check=tagger_check, options={**TAGGER_OPTIONS, **BATCH},
        summary=f"EfficientNet-Lite0 ImageNet classes + MiniLM matching, offline ({_NOT_A_VLM}): "
                "answers object questions"))
    register(VLMSpec(
        name="reference", factory="cvb_reference.router:ReferenceVLM", kind="reference",
        check=reference_check, options={**TAGGER_OPTIONS, **OCR_OPTIONS, **BATCH},
        summary=f"ocr-reader for text questions, imagenet-tagger for the rest ({_NOT_A_VLM}); "
                "the offline demo's default"))


@hookimpl
def register_commands(cli):
    from .demo_cli import demo_data_cmd

    cli.add_command(demo_data_cmd)
