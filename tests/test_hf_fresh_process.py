"""The ``hf`` plugin the way a user runs it: ``cvb run`` in a fresh process.

In-process tests cannot see an import-order fault: the tiny-checkpoint builders apply cvb's
torchvision compatibility step (``cvb.compat``) to the test process first. Here every tiny
architecture is answered by the real ``cvb`` CLI in a new interpreter, in both answer modes.
"""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VENV_BIN
from hang_guard import HANG_S

ARCHS = ("llava", "idefics3", "janus", "qwen2_5_vl", "paligemma", "internvl")


def _cvb_run(tmp_path: Path, vlms: str, mode: str) -> dict:
    store = tmp_path / f"{mode}.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [str(VENV_BIN / "cvb"), "run", "--vlm", vlms, "--task", "sample", "--limit", "2", "--codec", "none",
         "--metric", "none", "--mode", mode, "--store", str(store), "--cache-dir", str(tmp_path / "cache"),
         "--json", "-q"],
        capture_output=True, text=True, timeout=HANG_S, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    with sqlite3.connect(store) as db:
        result["rows"] = db.execute("SELECT vlm, text, error FROM predictions").fetchall()
    return result


@pytest.mark.parametrize("mode", ["generate", "logits"])
@pytest.mark.slow
def test_every_tiny_architecture_answers_through_cvb_run_in_a_fresh_process(tiny_vlm_dirs, tmp_path, mode):
    vlms = ",".join(f"hf:{tiny_vlm_dirs[arch]}" for arch in ARCHS)
    result = _cvb_run(tmp_path, vlms, mode)
    assert result["failures"] == [], result["failures"][:3]
    assert len(result["work"]["models_loaded"]) == len(ARCHS)
    assert len(result["rows"]) == 2 * len(ARCHS)
    assert all(error is None for _, _, error in result["rows"])
    if mode == "logits":  # the sample task's first questions are yes/no: read from logits
        assert {text for _, text, _ in result["rows"]} <= {"Yes", "No"}


def test_every_image_text_to_text_config_imports_after_the_compat_step():
    """Beyond the tiny checkpoints: the config class of every model type that
    AutoModelForImageTextToText knows resolves in a fresh process once ``transformers_ready``
    ran (without it, LLaVA, LLaVA-NeXT, Idefics3, Janus, PaliGemma ... fail on this set-up)."""
    probe = (
        "from cvb_hf.loading import transformers_ready\n"
        "transformers_ready()\n"
        "from transformers import CONFIG_MAPPING\n"
        "from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES as N\n"
        "bad = []\n"
        "for model_type in N:\n"
        "    try:\n"
        "        CONFIG_MAPPING[model_type]\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{model_type}: {exc}')\n"
        "print(len(N), bad)\n")
    out = subprocess.run([str(VENV_BIN / "python"), "-c", probe], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    count, bad = out.stdout.strip().split(" ", 1)
    assert int(count) > 20 and bad == "[]", bad


def test_every_transformers_import_in_cvb_hf_follows_the_compat_step():
    """The mechanism, kept: a function of plugins/cvb_hf that imports transformers calls
    ``transformers_ready()`` before it (a new one that forgets would fail on this set-up only
    in a fresh process)."""
    offenders = []
    for path in sorted((ROOT / "plugins" / "cvb_hf").glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name == "transformers_ready":
                continue
            ready_at = [n.lineno for n in ast.walk(fn) if isinstance(n, ast.Call)
                        and getattr(n.func, "id", getattr(n.func, "attr", None)) == "transformers_ready"]
            for node in ast.walk(fn):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                if any(n.split(".")[0] == "transformers" for n in names):
                    if not ready_at or min(ready_at) > node.lineno:
                        offenders.append(f"{path.name}:{node.lineno} in {fn.name}()")
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in top:
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n.split(".")[0] == "transformers" for n in names):
                offenders.append(f"{path.name}:{node.lineno} at module level")
    assert not offenders, offenders
