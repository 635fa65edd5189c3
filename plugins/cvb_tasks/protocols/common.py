"""Small helpers both peer protocols use on samples and dataset cells."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal, Mapping

from cvb.types import Sample


def with_meta(sample: Sample, **meta: Any) -> Sample:
    """``sample`` with ``meta`` merged into its meta (the prompt, budget, stops, raw doc fields)."""
    return replace(sample, meta={**sample.meta, **meta})


def doc_of(sample: Sample) -> Mapping[str, Any]:
    """The raw dataset fields a protocol kept on the sample (``meta["doc"]``)."""
    return sample.meta.get("doc", {})


def isna(value: Any) -> bool:
    """``pandas.isna`` on one cell: None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def can_infer_text(answer: str, choices: Mapping[str, Any]) -> str | Literal[False]:
    """VLMEvalKit's ``can_infer_text`` (vlmeval/utils/matching_util.py), which lmms-eval's MMBench
    evaluator copies (tasks/mmbench/mmbench_evals.py:107-119): exactly one option text inside
    the lowercased answer."""
    answer = answer.lower()
    cands = [k for k, v in choices.items() if str(v).lower() in answer]
    return cands[0] if len(cands) == 1 else False
