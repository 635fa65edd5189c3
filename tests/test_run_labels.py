"""Only settings that can change predictions enter a label or a cache key: changing a timeout,
retries or parallelism (``Spec.execution_options``) never asks a paid API again nor recompresses."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import VENV_BIN
from cvb.identity import label_of
from cvb.plugins import get_registry
from hang_guard import HANG_S


def _cvb(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([str(VENV_BIN / "cvb"), "run", "--task", "sample", "--limit", "2", "--metric", "none",
                          "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "c"), "--json", "-q",
                          *args], capture_output=True, text=True, timeout=HANG_S, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_openai_request_settings_do_not_re_ask(tmp_path):
    from test_openai_vlm import FakeServer

    with FakeServer() as server:
        base = ["--vlm", "openai:tiny-vl", "--codec", "none", "-o", f"openai.base_url={server.url}"]
        first = _cvb(tmp_path, *base, "-o", "openai.timeout=3")
        assert first["work"]["predictions"] == 2 and len(server.requests) == 2
        again = _cvb(tmp_path, *base, "-o", "openai.timeout=5", "-o", "openai.max_retries=1",
                     "-o", "openai.concurrency=2", "-o", "openai.backoff=0.5", "-o", "openai.batch_size=1")
        assert again["work"]["predictions"] == 0 and len(server.requests) == 2  # nothing asked again
        assert [v["label"] for v in again["matrix"]["vlms"]] == [f"openai:tiny-vl[base_url={server.url}]"]
        hotter = _cvb(tmp_path, *base, "-o", "openai.temperature=0.5")  # changes answers: asked
        assert hotter["work"]["predictions"] == 2 and len(server.requests) == 4


def test_a_codec_timeout_does_not_recompress(tmp_path):
    args = ["--vlm", "reference", "--codec", "x265", "--levels", "40"]
    first = _cvb(tmp_path, *args, "-o", "x265.timeout=100")
    assert first["work"]["codec_calls"] == 1  # the two samples ask about one image
    again = _cvb(tmp_path, *args, "-o", "x265.timeout=200")
    assert again["work"]["codec_calls"] == 0 and again["work"]["predictions"] == 0
    slower = _cvb(tmp_path, *args, "-o", "x265.preset=slow")  # changes the bitstream: redone
    assert slower["work"]["codec_calls"] == 1


def test_label_of_leaves_out_execution_options():
    registry = get_registry()
    assert label_of(registry.spec("vlm", "reference"), "reference", {"threads": 0}) == "reference"
    openai = registry.spec("vlm", "openai")
    options = {"concurrency": 8, "timeout": 5, "temperature": 0.2}
    assert label_of(openai, "openai:gpt-4o", options) == "openai:gpt-4o[temperature=0.2]"
