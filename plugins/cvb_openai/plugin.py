"""Registers ``openai:MODEL``. Standard library only, so nothing heavy to import."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import VLMSpec

from .options import OPTIONS


@hookimpl
def register_vlms(register):
    register(VLMSpec(
        name="openai", factory="cvb_openai.vlm:OpenAIVLM", kind="api", arg="MODEL",
        summary="MODEL as an OpenAI-compatible chat-completions server names it (vLLM, SGLang, "
                "LM Studio, OpenAI), e.g. openai:Qwen/Qwen2.5-VL-3B-Instruct",
        options=dict(OPTIONS),
    ))
