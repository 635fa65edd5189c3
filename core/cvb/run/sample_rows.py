"""Per-sample rows of a results store (``cvb export --what samples``): each answer beside what
was asked, the gold answer, the verdict and the image it was given for.

What lmms-eval's ``--log_samples`` writes per document, and where it is here: ``doc_id`` ->
``sample_id``; ``doc`` (the document's non-image fields) -> ``question``, ``options``,
``category``, ``meta``; ``target`` -> ``gold``; ``arguments`` (prompt and generation settings)
-> ``prompt``, ``generation``; ``resps`` -> ``answer`` (the raw text); ``filtered_resps`` ->
``parsed``; the per-sample metric -> ``verdict``; ``doc_hash`` -> ``prompt_sha`` (of what was
asked); ``input_media`` -> ``image`` (the task's key) and ``key`` (the exact decoded image,
``cvb cache show KEY``). Beyond it: ``codec``, ``level``, ``bpp`` of that image, the model's
``vlm_version_id`` (its full text once per model in ``cvb export --what versions``),
``condition`` (what an adapted VLM was told about the image, where the store keeps it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from typing import TYPE_CHECKING, Any, Iterator

from .store_rows import SampleRow

if TYPE_CHECKING:
    from .store import Store

COLUMNS = {
    "samples": ("task", "protocol", "sample_id", "vlm", "vlm_version_id", "codec", "level", "bpp",
                "image", "key", "category", "kind", "question", "options", "gold", "prompt",
                "generation", "answer", "parsed", "verdict", "scored_as", "error", "condition",
                "latency_s", "run_id", "task_version", "prompt_sha", "meta"),
    "versions": ("vlm", "vlm_version_id", "vlm_version", "answers"),
}
#: lmms-eval 0.7.3's ``--log_samples`` record (lmms_eval/evaluator.py, ``logged_sample``) ->
#: the columns that carry the same thing here (None: not recorded by cvb)
LMMS_EVAL_LOG_SAMPLES = {
    "doc_id": ("sample_id",),
    "doc": ("question", "options", "category", "kind", "meta"),
    "target": ("gold",),
    "arguments": ("prompt", "generation"),
    "resps": ("answer",),
    "filtered_resps": ("parsed",),
    "token_counts": None,  # cvb's VLM protocol returns text, not token counts
    "doc_hash": ("prompt_sha",),
    "input_media": ("image", "key"),
}
_JSON = ("options", "gold", "generation", "meta")


def asked_row(task: str, task_version: str, sample, prompt_sha: str) -> SampleRow:
    """The ``samples`` row of one sample: what ``query_for`` asks, with the exact prompt text."""
    from ..jsonsafe import json_safe
    from ..prompts import build_prompt
    from .plan import query_for

    q = query_for(sample, None)
    dump = lambda v: json.dumps(json_safe(v), default=str, ensure_ascii=False)
    generation = {"max_new_tokens": q.max_new_tokens, "stop": list(q.stop)}
    path = os.path.abspath(sample.image.path) if sample.image.path and sample.image.data is None else None
    return SampleRow(task, sample.id, task_version, prompt_sha, sample.image.key, path, sample.kind.value,
                     sample.question, dump(list(sample.options)), dump(sample.answer), sample.category or None,
                     build_prompt(q), dump(generation), dump(dict(sample.meta or {})))


@functools.lru_cache(maxsize=16384)
def _decoded(text: str) -> Any:
    """A JSON column's value; the same sample's options, gold answer and settings repeat in
    every cell, so each text is decoded once (read-only use: the rows are only written out)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def version_id(version: str | None) -> str | None:
    """A short, stable name of a VLM version text (sha1, 12 hex digits)."""
    return None if version is None else hashlib.sha1(version.encode()).hexdigest()[:12]


def _columns(store: "Store", table: str) -> set[str]:
    return {r[1] for r in store._read(f"PRAGMA table_info({table})")}


def sample_rows(store: "Store") -> Iterator[dict[str, Any]]:
    """One row per stored answer, in (task, vlm, codec, level, sample_id) order, streamed."""
    from ..identity import scoring_of

    have_samples = bool(_columns(store, "samples"))
    # the condition an adapted VLM was given: the VLM's note on its answer (``answer_meta``,
    # ``{"condition": ...}``, from plugin cvb_adapt) where the store keeps one
    have = _columns(store, "predictions")
    condition = ("json_extract(p.answer_meta, '$.condition')" if "answer_meta" in have
                 else "p.condition" if "condition" in have else "NULL")
    asked = ("s.image, s.category, s.kind, s.question, s.options, s.gold, s.prompt, s.generation, s.meta"
             if have_samples else ", ".join(["NULL"] * 9))
    join = "LEFT JOIN samples s ON s.task = p.task AND s.sample_id = p.sample_id" if have_samples else ""
    sql = (f"SELECT p.task, p.sample_id, p.vlm, p.vlm_version, p.codec, p.level, c.bpp, p.key, {asked},"
           f" p.text, p.parsed, p.judge, p.scored_as, p.error, {condition}, p.latency_s, p.run_id,"
           f" p.task_version, p.prompt_sha FROM predictions p"
           f" LEFT JOIN compressed c ON c.key = p.key AND p.codec != 'none' {join}"
           f" ORDER BY p.task, p.vlm, p.codec, p.level, p.sample_id")
    ids: dict[str | None, str | None] = {}
    protocols: dict[str, str | None] = {}
    try:
        cur = store.conn.execute(sql)
    except sqlite3.Error as exc:
        raise store._error(exc) from None
    for (task, sid, vlm, version, codec, level, bpp, key, image, category, kind, question, options,
         gold, prompt, generation, meta, text, parsed, judge, scored_as, error, cond, latency,
         run_id, task_version, prompt_sha) in cur:
        if version not in ids:
            ids[version] = version_id(version)
        label = scored_as or task  # the label whose rule gave the verdict names the protocol
        if label not in protocols:
            protocols[label] = scoring_of(label)["protocol"]
        row = {"task": task, "protocol": protocols[label], "sample_id": sid, "vlm": vlm,
               "vlm_version_id": ids[version], "codec": codec, "level": level, "bpp": bpp,
               "image": image, "key": key, "category": category, "kind": kind, "question": question,
               "options": options, "gold": gold, "prompt": prompt, "generation": generation,
               "answer": text, "parsed": parsed, "verdict": judge, "scored_as": scored_as, "error": error,
               "condition": cond, "latency_s": latency, "run_id": run_id, "task_version": task_version,
               "prompt_sha": prompt_sha, "meta": meta}
        for col in _JSON:
            if isinstance(row[col], str):
                row[col] = _decoded(row[col])
        yield row


def version_rows(store: "Store") -> Iterator[dict[str, Any]]:
    """Each VLM version once: (vlm, vlm_version_id, vlm_version, answers)."""
    for vlm, version, n in store._read(
            "SELECT vlm, vlm_version, COUNT(*) FROM predictions GROUP BY vlm, vlm_version ORDER BY vlm, vlm_version"):
        yield {"vlm": vlm, "vlm_version_id": version_id(version), "vlm_version": version, "answers": n}
