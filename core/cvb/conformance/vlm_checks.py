"""``check_vlm``: the rules every cvb VLM must keep (see docs/conformance.md).

``version`` set; the registered spec agrees with the object; construction loads no weights (no
torch module or ONNX session held before the first ``answer``); one ``Answer`` per query, in
order; not every answer empty text; a batch answers exactly as the
same queries one at a time; ``close()`` lets the weights go and a later ``answer`` still works.
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any, Mapping

from .inputs import photos
from .results import INFO, Report
from .spec_agreement import spec_agreement
from .subjects import start

MAX_NEW_TOKENS = 8


def check_vlm(vlm: Any, *, options: Mapping[str, Any] | None = None, registry=None) -> Report:
    """Run every VLM rule on ``vlm``: a registered reference (``"hf:/path/to/ckpt"``) or an
    object. Returns a ``Report``; ``report.raise_for_failures()`` suits a pytest test."""
    report, subj = start("vlm", vlm, options, registry)
    if subj is None:
        return report
    m = subj.obj
    with report.rule("name, version and batch_size") as r:
        assert isinstance(m.name, str) and m.name, "name must be a non-empty string"
        assert isinstance(m.version, str) and m.version.strip(), \
            "version must be a non-empty string (model id + revision + answer mode): it identifies predictions"
        assert isinstance(m.batch_size, int) and m.batch_size >= 1, f"batch_size {m.batch_size!r} must be an int >= 1"
        r.detail = f"name={m.name} version={m.version} batch_size={m.batch_size}"
    spec_agreement(report, subj)
    with report.rule("weights load lazily (none held after construction)") as r:
        held = held_weights(m)
        assert not held, f"construction already holds {', '.join(held)}; load on the first answer() instead"
        r.detail = "no model held before the first answer()"
    queries = make_queries()
    singles: list = []
    with report.rule("one Answer per query, in order") as r:
        t1 = time.perf_counter()
        singles = [_one(m, q) for q in queries]
        r.detail = f"{len(queries)} queries answered one at a time in {time.perf_counter() - t1:.2f} s " \
                   f"(first includes loading): " + "; ".join(repr(a.text[:24]) for a in singles)
    with report.rule("answers are not all empty") as r:
        assert singles, "single answers failed (see above)"
        empty = [q.kind.value for q, a in zip(queries, singles) if not a.text.strip()]
        assert len(empty) < len(queries), (
            f"every answer ({', '.join(empty)}) was empty text: a VLM that says nothing scores as "
            f"one that is always wrong; check the prompt, the generation settings and the decoding")
        r.detail = (f"{len(queries) - len(empty)} of {len(queries)} answers have text"
                    + (f"; empty: {', '.join(empty)}" if empty else ""))
    with report.rule("a batch answers as the same queries one at a time") as r:
        size = min(m.batch_size, len(queries))
        if size < 2:
            r.status, r.detail = INFO, "batch_size 1: nothing to compare"
        else:
            assert singles, "single answers failed (see above)"
            batched = []
            for i in range(0, len(queries), size):
                chunk = queries[i:i + size]
                answers = m.answer(chunk)
                _check_answers(chunk, answers)
                batched += answers
            diff = [i for i, (a, b) in enumerate(zip(singles, batched)) if (a.text, a.error) != (b.text, b.error)]
            assert not diff, "; ".join(f"query {i} ({queries[i].kind.value}): alone {singles[i].text!r}, "
                                       f"in a batch {batched[i].text!r}" for i in diff[:3]) + \
                " (padding or batching changes answers)"
            r.detail = f"batches of {size}: identical answers"
    with report.rule("close() frees the weights; answer() works again after it") as r:
        m.close()
        held = held_weights(m)
        assert not held, f"after close() the VLM still holds {', '.join(held)}"
        again = _one(m, queries[0])
        if singles:
            assert (again.text, again.error) == (singles[0].text, singles[0].error), \
                f"after close() and reload, {again.text!r} instead of {singles[0].text!r}"
        m.close()
        r.detail = "closed, reloaded, same answer, closed again"
    return report


def make_queries() -> list:
    """Four queries, one per answer kind, on real photos (the kinds a VLM must handle)."""
    from ..types import AnswerKind, Query

    pictures = list(photos(2).values())
    cat, cup = pictures[0], pictures[-1]
    return [
        Query(cat, "Is there a cat in the image?", AnswerKind.YESNO, max_new_tokens=MAX_NEW_TOKENS, sample_id="q1"),
        Query(cup, "What is in the cup?", AnswerKind.CHOICE, ("coffee", "tea", "milk", "water"),
              max_new_tokens=MAX_NEW_TOKENS, sample_id="q2"),
        Query(cat, "What colour is the animal?", AnswerKind.OPEN, max_new_tokens=MAX_NEW_TOKENS, sample_id="q3"),
        Query(cup, "Describe the image.", AnswerKind.CAPTION, max_new_tokens=MAX_NEW_TOKENS, sample_id="q4"),
    ]


def _one(m: Any, query) -> Any:
    answers = m.answer([query])
    _check_answers([query], answers)
    return answers[0]


def _check_answers(queries, answers) -> None:
    from ..types import Answer

    assert isinstance(answers, list), f"answer() returned {type(answers).__name__}, not a list"
    assert len(answers) == len(queries), f"{len(answers)} answers to {len(queries)} queries"
    for a in answers:
        assert isinstance(a, Answer), f"answer() returned a {type(a).__name__}, not cvb.types.Answer"
        assert isinstance(a.text, str), f"Answer.text is a {type(a.text).__name__}"
        assert a.error is None, f"the VLM reported an error: {a.error}"


def held_weights(obj: Any, depth: int = 3) -> list[str]:
    """Attribute paths under ``obj`` holding a torch module or an ONNX Runtime session."""
    torch = sys.modules.get("torch")
    module_type = torch.nn.Module if torch is not None else None
    found: list[str] = []
    seen: set[int] = set()

    def is_weights(value: Any) -> bool:
        if module_type is not None and isinstance(value, module_type):
            return True
        return type(value).__name__ == "InferenceSession"

    def walk(value: Any, path: str, level: int) -> None:
        if id(value) in seen or len(found) >= 5:
            return
        seen.add(id(value))
        if is_weights(value):
            found.append(path)
            return
        if level == 0 or isinstance(value, (str, bytes, int, float, type, types.ModuleType)):
            return
        if isinstance(value, dict):
            items = [(f"{path}[{k!r}]", v) for k, v in list(value.items())[:50]]
        elif isinstance(value, (list, tuple)):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value[:50])]
        elif hasattr(value, "__dict__") and not isinstance(value, (types.ModuleType, types.FunctionType,
                                                                   types.MethodType)):
            items = [(f"{path}.{k}", v) for k, v in vars(value).items()]
        else:
            return
        for sub_path, sub in items:
            walk(sub, sub_path, level - 1)

    walk(obj, type(obj).__name__, depth)
    return found
