"""Short names for the checkpoints the paper and the community evaluate.

Each alias names a transformers-native checkpoint (loads with ``AutoModelForImageTextToText``
without remote code). Light module: imported by the plugin at ``cvb --help`` time.
"""

from __future__ import annotations

import re
from pathlib import Path

from cvb.errors import UsageError

#: alias -> (hub model id, one-line description)
ALIASES: dict[str, tuple[str, str]] = {
    "qwen2.5-vl-3b": ("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen2.5-VL 3B Instruct (the paper's main model)"),
    "qwen2.5-vl-7b": ("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL 7B Instruct"),
    "qwen2.5-vl-32b": ("Qwen/Qwen2.5-VL-32B-Instruct", "Qwen2.5-VL 32B Instruct"),
    "qwen2-vl-2b": ("Qwen/Qwen2-VL-2B-Instruct", "Qwen2-VL 2B Instruct"),
    "internvl3-1b": ("OpenGVLab/InternVL3-1B-hf", "InternVL3 1B (transformers-native -hf checkpoint)"),
    "internvl3-2b": ("OpenGVLab/InternVL3-2B-hf", "InternVL3 2B (transformers-native -hf checkpoint)"),
    "internvl3-8b": ("OpenGVLab/InternVL3-8B-hf", "InternVL3 8B (transformers-native -hf checkpoint)"),
    "smolvlm-256m": ("HuggingFaceTB/SmolVLM-256M-Instruct", "SmolVLM 256M Instruct (Idefics3 architecture)"),
    "smolvlm-500m": ("HuggingFaceTB/SmolVLM-500M-Instruct", "SmolVLM 500M Instruct (Idefics3 architecture)"),
    "llava-1.5-7b": ("llava-hf/llava-1.5-7b-hf", "LLaVA-1.5 7B"),
    "llava-onevision-0.5b": ("llava-hf/llava-onevision-qwen2-0.5b-ov-hf", "LLaVA-OneVision 0.5B (Qwen2)"),
    "janus-pro-1b": ("deepseek-community/Janus-Pro-1B", "Janus-Pro 1B (transformers-native checkpoint)"),
    "janus-pro-7b": ("deepseek-community/Janus-Pro-7B", "Janus-Pro 7B (transformers-native checkpoint)"),
}

#: hub model id -> approximate download size in GB (the weight files of the repository, rounded;
#: rounded), for `cvb list vlms` to say what a first use costs
DOWNLOAD_GB: dict[str, float] = {
    "Qwen/Qwen2.5-VL-3B-Instruct": 7.5, "Qwen/Qwen2.5-VL-7B-Instruct": 16.6,
    "Qwen/Qwen2.5-VL-32B-Instruct": 67.0, "Qwen/Qwen2-VL-2B-Instruct": 4.4,
    "OpenGVLab/InternVL3-1B-hf": 1.9, "OpenGVLab/InternVL3-2B-hf": 4.2,
    "OpenGVLab/InternVL3-8B-hf": 15.9, "HuggingFaceTB/SmolVLM-256M-Instruct": 0.5,
    "HuggingFaceTB/SmolVLM-500M-Instruct": 1.0, "llava-hf/llava-1.5-7b-hf": 14.1,
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": 1.8, "deepseek-community/Janus-Pro-1B": 4.1,
    "deepseek-community/Janus-Pro-7B": 14.8,
}

#: hub model id -> the alias that names it
_ALIAS_OF: dict[str, str] = {model_id: alias for alias, (model_id, _) in ALIASES.items()}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_PATH_PREFIXES = ("/", "./", "../", "~", ".\\", "..\\")


def known_aliases() -> str:
    return ", ".join(sorted(ALIASES))


def canonical_ref(ref: str) -> str:
    """The reference an ``hf`` model's answers are filed under (``VLMSpec.canonical``): an alias
    (``hf:smolvlm-256m``, ``hf:SmolVLM-256M``) and the hub id an alias names
    (``hf:HuggingFaceTB/SmolVLM-256M-Instruct``) are the alias spec, ``smolvlm-256m``: the name
    the docs run the paper's models by, so stores made that way keep their labels. Anything else
    (another hub id, a local folder, already absolute here) stays as it is."""
    arg = ref.partition(":")[2]
    if Path(arg).expanduser().exists():  # a local folder wins over an alias, as in resolve_model
        return ref
    if arg.lower() in ALIASES:
        return arg.lower()
    return _ALIAS_OF.get(arg, ref)


def resolve_model(ref: str) -> tuple[str, bool]:
    """``hf:ARG`` -> (hub id or local folder, is_local). Aliases expand to hub ids.

    A path that exists is a local checkpoint; something that looks like a path but does not
    exist, or a bare word that is no alias, is a usage error (exit 2) rather than a hub lookup
    that fails 30 seconds later.
    """
    ref = (ref or "").strip()
    if not ref:
        raise UsageError(f"hf needs a model: hf:ORG/NAME, hf:/path/to/checkpoint or hf:ALIAS "
                         f"(aliases: {known_aliases()})")
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"hf:{ref}: a checkpoint is a folder (with config.json), not a file")
        return str(path.resolve()), True
    if ref.startswith(_PATH_PREFIXES):
        raise UsageError(f"hf:{ref}: no such folder")
    if ref.lower() in ALIASES:
        return ALIASES[ref.lower()][0], False
    if _HUB_ID.match(ref):
        return ref, False
    raise UsageError(f"unknown hf model alias {ref!r}; known aliases: {known_aliases()} "
                     f"(or give a hub id ORG/NAME or a local folder)")
