"""lmms-eval 0.7.3's own task code, run offline as the scoring oracle of ``protocol=lmms-eval``.

``scripts/setup.sh`` installs ``lmms-eval==0.7.3`` without its dependencies (its package
``__init__`` pulls torch, accelerate, evaluate...); the task files themselves need only loguru,
pandas, pyyaml, requests and pycocoevalcap (the ``test`` extra). So the parent packages are
registered here as bare namespaces and each task file is imported on its own. The generic steps
lmms-eval runs around a task's ``process_results`` are reproduced, each citing its line:
the stop-string cut of the model wrapper and the strip before ``process_results``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import re
import string
import sys
import types
from pathlib import Path

import numpy as np


def _root() -> Path:
    spec = importlib.machinery.PathFinder.find_spec("lmms_eval")  # locates it without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("lmms-eval==0.7.3 is not installed: run scripts/setup.sh (it installs it --no-deps)")
    return Path(list(spec.submodule_search_locations)[0])


def load(dotted: str):
    """``lmms_eval.<dotted>`` imported without executing lmms_eval/__init__.py or tasks/__init__.py."""
    root = _root()
    for name, path in (("lmms_eval", root), ("lmms_eval.tasks", root / "tasks"),
                       ("lmms_eval.tasks._task_utils", root / "tasks" / "_task_utils")):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [str(path)]
            sys.modules[name] = mod
    return importlib.import_module(f"lmms_eval.{dotted}")


def exact_match_hf_evaluate():
    """api/metrics.py's ``exact_match_hf_evaluate``, its source executed alone (the module's
    imports pull torch and evaluate)."""
    source = (_root() / "api" / "metrics.py").read_text()
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "exact_match_hf_evaluate")
    namespace = {"np": np, "re": re, "string": string}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "lmms_eval/api/metrics.py", "exec"), namespace)
    return namespace["exact_match_hf_evaluate"]


def yaml_of(task_dir: str, name: str) -> dict:
    """A task yaml with its ``!function`` tags read as plain strings."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    return yaml.load((_root() / "tasks" / task_dir / name).read_text(), Loader=Loader)


def model_output(generation: str, until: list[str]) -> str:
    """A wrapper's cut at the stop strings (models/simple/qwen2_5_vl.py:353-356), then the strip
    before process_results (api/task.py:1587-1589)."""
    for term in until:
        if len(term) > 0:
            generation = generation.split(term)[0]
    return generation.strip()
