"""Registers the ``hf`` VLM family and one VLM per alias. Imports nothing heavy.

``--vlm hf:Qwen/Qwen2.5-VL-3B-Instruct``, ``--vlm hf:/path/to/checkpoint``, ``--vlm hf:smolvlm-256m``
and ``--vlm smolvlm-256m`` all create the same kind of ``cvb_hf.vlm.HFVLM``; the last three are
one model, whose answers are stored under ``smolvlm-256m`` (``aliases.canonical_ref``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cvb import hookimpl
from cvb.specs import VLMSpec

from .aliases import ALIASES, canonical_ref, known_aliases
from .status import hf_status, model_notice, model_status
from .vlm import OPTIONS  # light: vlm.py imports torch/transformers in methods


def _create_alias(alias: str, **options: Any):
    from .vlm import create_alias

    return create_alias(alias, **options)


@hookimpl
def register_vlms(register) -> None:
    register(VLMSpec(
        name="hf",
        factory="cvb_hf.vlm:create",
        kind="transformers",
        summary=("any Hugging Face image-text-to-text model: a hub id, a local checkpoint folder, "
                 f"or an alias ({known_aliases()})"),
        check=hf_status,
        arg="ORG/NAME|PATH|ALIAS",
        options=dict(OPTIONS),
        local_arg=True,
        canonical=canonical_ref,  # an alias and the hub id it names are one model: filed as the alias
    ))
    for alias, (model_id, description) in ALIASES.items():
        register(VLMSpec(
            name=alias,
            factory=partial(_create_alias, alias),
            kind="transformers",
            summary=f"{description}: {model_id}",
            check=partial(model_status, model_id),
            notice=partial(model_notice, model_id),
            options=dict(OPTIONS),
        ))
