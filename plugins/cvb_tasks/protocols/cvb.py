"""cvb's own prompts and generation budgets, one row per task (its scoring rules are in the
task modules and ``cvb.scoring``).

Prompts: the question (its options lettered ``A. ...`` for multiple choice) and the per-kind
instruction of ``cvb.prompts.SUFFIX`` (lmms-eval's default instructions). Budgets are short
where the answer is a word or a letter (16 new tokens: a right answer never needs more, and a
rambling one is cut before it costs much); no stop strings. ``protocol=lmms-eval`` sends
lmms-eval's own budgets (POPE 128, MMBench 1024, ...) and stop strings instead.
"""

from __future__ import annotations

from typing import Any

#: task -> the sample meta cvb's protocol adds (``max_new_tokens``; ``prompt_suffix`` "" = the
#: bare question, as OCRBench is asked)
GENERATION: dict[str, dict[str, Any]] = {
    "pope": {"max_new_tokens": 16},
    "mme": {"max_new_tokens": 16},
    "seedbench": {"max_new_tokens": 16},
    "mmbench": {"max_new_tokens": 16},
    "ocrbench": {"max_new_tokens": 128, "prompt_suffix": ""},
    "gqa": {"max_new_tokens": 16},
    "coco-caption": {"max_new_tokens": 64},
}


def ask(task: str) -> dict[str, Any]:
    """The generation meta of ``task`` under cvb's protocol."""
    return dict(GENERATION[task])
