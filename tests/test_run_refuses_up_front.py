"""A VLM that cannot answer here (no API key for ``openai:``, a hub model not in the cache while
offline) stops ``cvb run`` before any compression, as an unknown name does; a rerun whose
answers are all stored does not need it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import VENV_BIN
from hang_guard import HANG_S


def _cvb(tmp_path, *args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    full_env.update({"OMP_NUM_THREADS": "1", **(env or {})})
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, timeout=HANG_S,
                          env=full_env, cwd=tmp_path)


def _run_args(tmp_path, vlm):
    return ["run", "--vlm", vlm, "--task", "sample", "--limit", "3", "--codec", "jpeg", "--levels", "50",
            "--metric", "psnr", "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "c"), "-q"]


def _compressed(tmp_path) -> int:
    import sqlite3

    if not (tmp_path / "r.sqlite").exists():
        return 0
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM compressed").fetchone()[0]


@pytest.mark.parametrize("vlm,env,message", [
    ("openai:gpt-4o", {}, "$OPENAI_API_KEY is not set"),
    ("hf:nobody-here/NoSuchVLM-1B", {"HF_HUB_OFFLINE": "1"},
     "nobody-here/NoSuchVLM-1B is not in the local cache and HF_HUB_OFFLINE is set"),
])
def test_a_vlm_that_cannot_load_fails_before_any_compression(tmp_path, vlm, env, message):
    env = {**env, "HF_HUB_CACHE": str(tmp_path / "empty-hub")}
    out = _cvb(tmp_path, *_run_args(tmp_path, vlm), env=env)
    assert out.returncode == 1, out.stderr[-2000:]
    assert message in out.stderr and "nothing was run" in out.stderr
    assert "Traceback" not in out.stderr
    assert _compressed(tmp_path) == 0  # no codec or metric work was done first


def test_a_rerun_with_every_answer_stored_needs_no_key(tmp_path):
    """Answers stored through a server (OPENAI_BASE_URL, not part of the label); the rerun has
    neither the server nor a key: nothing to ask, so it is not refused."""
    from test_openai_vlm import FakeServer

    with FakeServer() as server:
        first = _cvb(tmp_path, *_run_args(tmp_path, "openai:tiny-vl"), env={"OPENAI_BASE_URL": server.url})
        assert first.returncode == 0, first.stderr[-2000:]
        asked = len(server.requests)
    assert asked == 6  # 3 samples x (none, jpeg 50)
    again = _cvb(tmp_path, *_run_args(tmp_path, "openai:tiny-vl"), "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["work"]["predictions"] == 0
    more = _cvb(tmp_path, *_run_args(tmp_path, "openai:tiny-vl")[:-1], "--limit", "4", "-q")
    assert more.returncode == 1 and "$OPENAI_API_KEY is not set" in more.stderr and "2 questions" in more.stderr


def test_a_bad_cache_max_size_is_refused_before_any_work(tmp_path):
    """``$CVB_CACHE_MAX_SIZE`` is read when the run prunes the cache, at its end; a bad value is
    refused while planning, as a bad ``$CVB_MAX_IMAGE_PIXELS`` is, not after the whole run."""
    out = _cvb(tmp_path, *_run_args(tmp_path, "reference"), env={"CVB_CACHE_MAX_SIZE": "lots"})
    assert out.returncode == 2, out.stderr[-2000:]
    assert "$CVB_CACHE_MAX_SIZE='lots'" in out.stderr and "e.g. 20G" in out.stderr
    assert "Traceback" not in out.stderr
    assert _compressed(tmp_path) == 0 and not (tmp_path / "c").exists()  # nothing compressed nor cached
    good = _cvb(tmp_path, *_run_args(tmp_path, "reference"), env={"CVB_CACHE_MAX_SIZE": "1G"})  # the control
    assert good.returncode == 0, good.stderr[-2000:]
    assert _compressed(tmp_path) > 0
