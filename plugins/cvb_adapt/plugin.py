"""Registers ``cvb adapt`` and the ``adapted`` and ``adapted-base`` VLMs. Imports nothing heavy.

``--vlm adapted:adapters/qwen3b-jpeg-elic`` is the base model an adapter was trained on, with
the adapter's conditional encoder; ``--vlm adapted-base:adapters/qwen3b-jpeg-elic`` is that base
model under the same preprocessing without the adapter (see ``cvb_adapt.vlm``).
"""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import VLMSpec


def _status() -> str | None:
    from cvb_hf import hf_status

    return hf_status()


@hookimpl
def register_vlms(register) -> None:
    from .vlm import BASE_OPTIONS, OPTIONS

    register(VLMSpec(
        name="adapted",
        factory="cvb_adapt.vlm:create",
        kind="transformers",
        summary="a VLM with a conditional visual-encoder adapter made by `cvb adapt` (the base model is "
                "the one the adapter records)",
        check=_status,
        arg="ADAPTER_FOLDER",
        options=dict(OPTIONS),
        check_sees_arg=False,
        local_arg=True,
    ))
    register(VLMSpec(
        name="adapted-base",
        factory="cvb_adapt.vlm:create_base",
        kind="transformers",
        summary="the base model of the adapter at ADAPTER_FOLDER under exactly the adapter's preprocessing, "
                "without the adapter: the like-for-like baseline of `cvb report --adapted`",
        check=_status,
        arg="ADAPTER_FOLDER",
        options=dict(BASE_OPTIONS),
        check_sees_arg=False,
        local_arg=True,
    ))


@hookimpl
def register_commands(cli) -> None:
    from .cli import adapt_cmd

    cli.add_command(adapt_cmd)
