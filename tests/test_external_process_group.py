"""An external codec's timeout kills the tool's whole process group: a wrapper script's
children do not live on (``cvb.codecs.external.ExternalCodec.run_tool``)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import VENV_BIN
from hang_guard import HANG_S

WRAPPER = """#!/bin/sh
# stands in for ffmpeg: answers -version, else starts a child that would run for minutes and waits
case "$*" in *-version*) echo "ffmpeg version 0.0-wrapper"; exit 0;; esac
sleep 300 >/dev/null 2>&1 &  # not holding our pipes: only a group kill ends it
echo $! >> "$CVB_TEST_PIDS"
wait
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")  # a zombie waiting for a reaper is dead
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _all_dead(pids: list[int], within: float = HANG_S) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def wrapper(tmp_path):
    script = tmp_path / "ffmpeg"
    script.write_text(WRAPPER)
    script.chmod(0o755)
    pids = tmp_path / "pids"
    yield script, pids
    for pid in _pids(pids):  # never leave a sleeper behind, whatever the outcome
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def test_cvb_compress_timeout_kills_the_wrapper_children(tmp_path, wrapper):
    script, pids = wrapper
    Image.new("RGB", (32, 32), (90, 30, 200)).save(tmp_path / "a.png")
    env = {**os.environ, "CVB_FFMPEG": str(script), "CVB_TEST_PIDS": str(pids), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([str(VENV_BIN / "cvb"), "compress", "-c", "x265", "-l", "30", "-O", "x265.timeout=1",
                          "-i", str(tmp_path / "a.png"), "-m", "none", "--json"],
                         capture_output=True, text=True, timeout=HANG_S, env=env)
    assert out.returncode == 1, out.stderr[-2000:]
    failures = json.loads(out.stdout)["failures"]
    assert len(failures) == 1 and "timed out" in failures[0]["error"]
    started = _pids(pids)
    assert started, "the wrapper never ran"
    assert _all_dead(started), f"children of the timed-out wrapper still running: {started}"


def test_run_tool_kills_the_group_on_timeout(tmp_path, wrapper, monkeypatch):
    from cvb.errors import ExternalToolError
    from cvb.codecs.external import ExternalCodec

    script, pids = wrapper
    monkeypatch.setenv("CVB_TEST_PIDS", str(pids))
    codec = ExternalCodec()
    codec.timeout_s = 0.5
    with pytest.raises(ExternalToolError, match="timed out"):
        codec.run_tool([script, "encode"], cwd=tmp_path)
    assert _pids(pids) and _all_dead(_pids(pids))
    ok = codec.run_tool([script, "-version"], cwd=tmp_path)
    assert ok.returncode == 0 and b"0.0-wrapper" in ok.stdout


def test_a_research_worker_that_times_out_is_killed_with_its_children(tmp_path, wrapper, monkeypatch):
    """``cvb.codecs.research``: the long-lived worker process is killed as a group too."""
    from cvb.errors import CodecError
    from cvb.codecs.research import ResearchCodec

    script, pids = wrapper  # stands in for the research environment's python: never replies
    monkeypatch.setenv("CVB_TEST_PIDS", str(pids))
    (tmp_path / "repo").mkdir()
    (tmp_path / "ckpt").mkdir()

    class Slow(ResearchCodec):
        name = "slow"
        default_levels = ("1",)
        level_min, level_max = 1, 1

    codec = Slow(repo=tmp_path / "repo", python=str(script), checkpoints=tmp_path / "ckpt", timeout=0.5)
    with pytest.raises(CodecError, match="died or timed out starting the worker"):
        codec._worker()
    assert _pids(pids) and _all_dead(_pids(pids))
