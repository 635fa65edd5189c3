"""``cvb list tasks --source lmms-eval``: every task lmms-eval defines, and whether cvb runs it.

Each YAML under lmms-eval's ``tasks`` folder is read as lmms-eval's index reads it
(``TaskManager._get_task_and_group`` with ``load_yaml_config`` in ``simple`` mode: ``include``
merged under the file, ``!function`` tags left as names, no task code imported), with libyaml's
C parser (lmms-eval's pure-Python ``full_load`` takes ~10 s for its ~1900 files); a file is a
task when its ``task`` is one name and it names no ``class`` (tasks/__init__.py:186-199). What
the listing says about each task:

- ``kind``: image, video, audio or text, from the task's YAML (``dataset_kwargs.video``,
  ``doc_to_audio``, no ``doc_to_visual``) and the source of its ``doc_to_visual``;
- ``output_type``: lmms-eval's, and whether cvb asks it (``generate_until`` as generated text,
  ``multiple_choice`` read from logits);
- whether ``process_results`` (or an aggregation, or a function of the task's folder they call)
  calls a judge model (an OpenAI/GPT/Reka client in its source): those are listed as
  unsupported (cvb's judge path serves its own protocols only). A text heuristic: a judge
  reached through another package's helper goes unseen, and the task then fails when scored;
- ``data``: a local copy under ``$CVB_DATA_DIR`` or the Hugging Face cache, else the hub (and
  "needs a local copy" where HF offline mode is set).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

#: output types cvb can ask: generated text, or one of the choices read from logits
GENERATE = ("generate_until",)
BY_LOGITS = ("multiple_choice",)
_JUDGE = re.compile(r"openai|gpt-4|gpt4|get_chat_response|get_eval|llm_judge|judge_model|"
                    r"API_KEY|azure|anthropic|gemini\.|reka|chat\.completions", re.I)
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_VIDEO = re.compile(r"video|\.mp4|decord|frames", re.I)
_AUDIO = re.compile(r"audio|\.wav|librosa|soundfile", re.I)


def rows() -> list[dict[str, Any]]:
    """One row per lmms-eval task (groups and tags are names of several tasks: left out)."""
    from cvb_tasks import default_path, offline_reason

    from . import upstream

    reason = upstream.missing_reason()
    if reason:
        return [{"name": "lmms-eval:*", "kind": "", "summary": "", "usable": False, "status": reason}]
    index: dict[str, Path] = {}
    for path in sorted(upstream.tasks_root().rglob("*.yaml")):
        if "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        try:
            config = load_simple(str(path))
        except Exception:  # noqa: BLE001 - lmms-eval's index skips what it cannot read, too
            continue
        if isinstance(config, dict) and isinstance(config.get("task"), str) and "class" not in config:
            index.setdefault(config["task"], path)
    out = []
    for name in sorted(index):
        found = {"yaml_path": str(index[name])}
        row: dict[str, Any] = {"name": f"lmms-eval:{name}", "kind": "", "output_type": "", "data": "",
                               "summary": "", "usable": False}
        config = load_simple(found["yaml_path"])
        kind = media_kind(config, Path(found["yaml_path"]).parent)
        output = str(config.get("output_type") or "generate_until")
        dataset = str(config.get("dataset_path") or "")
        row.update(kind=kind, output_type=output, summary=dataset + (f" ({config['dataset_name']})"
                                                                     if config.get("dataset_name") else ""))
        if default_path(dataset) is not None:
            row["data"] = "local copy ($CVB_DATA_DIR)"
        elif offline_reason(dataset, name) is None and _hub_cached(dataset):
            row["data"] = "Hugging Face cache"
        else:
            row["data"] = "hub" if offline_reason(dataset, name) is None else "needs a local copy (offline)"
        judge = judged(config, Path(found["yaml_path"]).parent)
        if kind != "image":
            status = f"unsupported: {kind} task (cvb compresses images)"
        elif output not in GENERATE + BY_LOGITS:
            status = f"unsupported: output_type {output} (cvb asks generate_until, or multiple_choice by logits)"
        elif judge:
            status = f"unsupported: scored by a judge model ({judge})"
        else:
            status = "ok" + (" (needs a VLM that reads choices from logits)" if output in BY_LOGITS else "")
        row["usable"] = status.startswith("ok")
        row["status"] = status
        out.append(row)
    return out


@functools.lru_cache(maxsize=4096)
def _yaml(path: str) -> Any:
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    with open(path, "rb") as f:
        return yaml.load(f, Loader=Loader)


def load_simple(path: str) -> dict:
    """lmms-eval's ``load_yaml_config(path, mode="simple")`` (utils.py:1013-1054): the file over
    its ``include`` files (the last included first), ``!function`` tags as their names."""
    import copy
    import os

    config = copy.deepcopy(_yaml(path))
    if not isinstance(config, dict) or "include" not in config:
        return config
    includes = config.pop("include")
    merged: dict = {}
    for inc in reversed([includes] if isinstance(includes, str) else list(includes)):
        inc_path = inc if os.path.isfile(inc) else os.path.join(os.path.dirname(path), inc)
        merged.update(load_simple(inc_path))
    merged.update(config)
    return merged


def _hub_cached(dataset: str) -> bool:
    from cvb_tasks import hub_cached as cached

    return bool(dataset) and cached(dataset)


def _function_name(value: Any) -> str | None:
    """The ``utils.fn`` of a ``!function`` tag left unresolved (a YAML node) or a string."""
    text = getattr(value, "value", value)
    return text if isinstance(text, str) else None


@functools.lru_cache(maxsize=512)
def _functions(folder: str) -> dict[str, str]:
    """Function name -> its source text, for every .py file of a task folder."""
    found: dict[str, str] = {}
    for py in Path(folder).glob("*.py"):
        try:
            source = py.read_text(errors="replace")
            tree = ast.parse(source)
        except (OSError, SyntaxError, ValueError):
            continue
        lines = source.splitlines()
        for node in tree.body:  # module-level functions and classes (what a YAML names), methods
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.setdefault(node.name, "\n".join(lines[node.lineno - 1:node.end_lineno]))
            for sub in node.body if isinstance(node, ast.ClassDef) else ():
                if isinstance(sub, ast.FunctionDef) and not sub.name.startswith("__"):
                    found.setdefault(sub.name, "\n".join(lines[sub.lineno - 1:sub.end_lineno]))
    return found


def _source_of(config: dict, key: str, folder: Path) -> str:
    name = _function_name(config.get(key))
    if not name:
        return ""
    return _functions(str(folder)).get(name.rsplit(".", 1)[-1], "")


def media_kind(config: dict, folder: Path) -> str:
    """image, video, audio or text."""
    kwargs = config.get("dataset_kwargs") or {}
    if isinstance(kwargs, dict) and (kwargs.get("video") or kwargs.get("From_YouTube")):
        return "video"
    if config.get("doc_to_audio") is not None:
        return "audio"
    visual = config.get("doc_to_visual")
    if visual is None:
        return "text"
    name = _function_name(visual) or ""
    body = _source_of(config, "doc_to_visual", folder)
    if _VIDEO.search(name) or _VIDEO.search(body):
        return "video"
    if _AUDIO.search(name) or _AUDIO.search(body):
        return "audio"
    return "image"


def judged(config: dict, folder: Path) -> str | None:
    """What in ``process_results`` or an aggregation, or in a function of the task's folder
    they call (MathVista's ``extract_answer``), calls a judge model, if anything."""
    functions = _functions(str(folder))
    sources = [_source_of(config, "process_results", folder)]
    for metric in config.get("metric_list") or []:
        name = _function_name(metric.get("aggregation")) if isinstance(metric, dict) else None
        if name:
            sources.append(functions.get(name.rsplit(".", 1)[-1], ""))
    called = {name for text in sources for name in _CALL.findall(text or "")}
    sources += [functions[name] for name in sorted(called) if name in functions]
    for text in sources:
        hit = _JUDGE.search(text or "")
        if hit:
            return hit.group(0)
    return None
