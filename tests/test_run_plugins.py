"""`cvb run` end to end with the real built-in plugins (not the fakes): the hf plugin on a tiny
real-architecture checkpoint, the openai plugin against a local HTTP server, and the offline
reference models on the bundled sample task."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvb.cli import cli

from test_openai_vlm import KEY, FakeServer, reply


@pytest.fixture
def real_registry(monkeypatch):
    from cvb import plugins

    monkeypatch.delenv("CVB_LOAD_PLUGINS", raising=False)
    monkeypatch.setattr(plugins, "_REGISTRY", None)  # load the installed entry points afresh


@pytest.fixture
def folder_task(tmp_path):
    """Three photos-like images with yes/no and open questions in the folder task's JSONL."""
    rng = np.random.default_rng(1)
    d = tmp_path / "imgs"
    d.mkdir()
    lines = []
    for i in range(3):
        y, x = np.mgrid[0:40, 0:56]
        arr = np.stack([x * 4, y * 6, (x + y) * 3], -1) + rng.integers(0, 30, (40, 56, 3))
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(d / f"im{i}.png")
        lines.append({"image": f"im{i}.png", "question": "Is there a cat?", "answer": "no"})
        lines.append({"image": f"im{i}.png", "question": "What colour dominates?"})
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    return f"folder:{d}", str(tmp_path / "q.jsonl")


def run(tmp_path, *args):
    res = CliRunner().invoke(cli, ["run", "--store", str(tmp_path / "s.sqlite"), "--cache-dir",
                                   str(tmp_path / "cache"), "-q", "--json", *args])
    return res.exit_code, (json.loads(res.stdout) if res.stdout.strip().startswith("{") else res.output)


def test_hf_plugin_end_to_end_and_rerun_loads_nothing(real_registry, tiny_vlm_dirs, folder_task, tmp_path):
    task, questions = folder_task
    args = ["-c", "jpeg", "-l", "10", "--vlm", f"hf:{tiny_vlm_dirs['qwen2_5_vl']}", "-t", task,
            "-o", f"task.questions={questions}", "-o", "vlm.max_new_tokens=4", "-m", "psnr"]
    code, out = run(tmp_path, *args)
    assert code == 0, out
    assert out["work"]["predictions"] == 6 * 2  # 6 questions x (none, jpeg 10)
    assert len(out["work"]["models_loaded"]) == 1
    assert {c["codec"] for c in out["cells"]} == {"none", "jpeg"}
    code, again = run(tmp_path, *args)
    assert code == 0 and again["work"]["predictions"] == 0 and again["work"]["models_loaded"] == []


def test_openai_plugin_end_to_end_against_a_local_server(real_registry, folder_task, tmp_path, monkeypatch):
    monkeypatch.setenv("CVB_TEST_KEY", KEY)
    task, questions = folder_task

    def answer(req, seen):  # "no" to the yes/no question, a colour otherwise
        text = req["messages"][0]["content"][-1]["text"]
        return 200, {}, reply("no" if "cat" in text else "blue")

    with FakeServer(answer) as server:
        code, out = run(tmp_path, "-c", "webp", "-l", "50", "--vlm", "openai:tiny-vl", "-t", task,
                        "-o", f"task.questions={questions}", "-o", f"vlm.base_url={server.url}",
                        "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none")
        n_requests = len(server.requests)
    assert code == 0, out
    assert n_requests == 6 * 2
    scores = {c["codec"]: c["score"] for c in out["cells"]}
    assert scores["none"] == scores["webp"] == 100.0  # every answered question right


def test_reference_models_on_the_sample_task(real_registry, tmp_path):
    code, out = run(tmp_path, "-c", "jpeg", "-l", "1", "--vlm", "reference", "-t", "sample",
                    "--limit", "16", "-m", "none")
    assert code == 0, out
    cells = {c["codec"]: c for c in out["cells"]}
    assert cells["none"]["n"] == cells["jpeg"]["n"] == 16
    assert cells["none"]["score"] > 50  # 8 yes / 8 no object questions: above chance clean
