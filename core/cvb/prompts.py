"""Turning a Query into the text a generative VLM sees, the way the community prompts.

The suffixes follow lmms-eval's defaults for the paper's benchmarks (POPE/GQA/OCR: a single
word or phrase; MMBench/SEED: the option letter), so scores are comparable to published ones.
Every VLM plugin that prompts with text uses this one function.
"""

from __future__ import annotations

import string

from .types import AnswerKind, Query

SUFFIX = {
    AnswerKind.YESNO: "Answer the question using a single word or phrase.",
    AnswerKind.OPEN: "Answer the question using a single word or phrase.",
    AnswerKind.CHOICE: "Answer with the option's letter from the given choices directly.",
    AnswerKind.CAPTION: "",
}


def option_letters(n: int) -> list[str]:
    return list(string.ascii_uppercase[:n])


def build_prompt(query: Query, suffix: bool = True) -> str:
    """Question, then lettered options for multiple choice, then the per-kind instruction.

    A ``verbatim`` query (a scoring protocol wrote the whole text) is sent exactly as it is.
    """
    if query.verbatim:
        return query.prompt
    parts = [query.prompt.strip()]
    if query.kind == AnswerKind.CHOICE and query.options:
        parts += [f"{letter}. {text}" for letter, text in zip(option_letters(len(query.options)), query.options)]
    if suffix:
        parts.append(SUFFIX.get(query.kind, "") if query.suffix is None else query.suffix)
    return "\n".join(p for p in parts if p)


def cut_at_stop(text: str, stop: "tuple[str, ...] | list[str]") -> str:
    """``text`` up to the first occurrence of each stop string in turn, as lmms-eval's model
    wrappers cut generations (lmms_eval/models/simple/qwen2_5_vl.py:353-356 in 0.7.3:
    ``for term in until: if len(term) > 0: ans = ans.split(term)[0]``)."""
    for term in stop:
        if term:
            text = text.split(term)[0]
    return text
