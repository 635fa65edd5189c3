"""External tools die with the run (``cvb.tool_guard``): ``kill -9`` or SIGTERM of ``cvb run``
leaves no tool or child of it behind, at ``-j 1`` and ``-j 2``; Ctrl-C stops a hanging tool at
once and exits 130. The tool is a fake ffmpeg that starts a child and hangs (600 s timeout)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conftest import VENV_BIN
from test_external_process_group import _alive, _all_dead, _pids
from hang_guard import HANG_S

HANGING_FFMPEG = """#!/bin/sh
# stands in for ffmpeg: answers -version; else records itself and a child, then hangs
case "$*" in *-version*) echo "ffmpeg version 0.0-hanging"; exit 0;; esac
echo $$ >> "$CVB_TEST_PIDS"
sleep 3600 >/dev/null 2>&1 &
echo $! >> "$CVB_TEST_PIDS"
wait
"""
#: far beyond the tests' hang guard: a run that waited for the tool would fail the test
TOOL_TIMEOUT_S = 4 * HANG_S


def _as_from_a_shell() -> None:
    """Ctrl-C as a terminal delivers it (a pytest-xdist worker may have SIGINT blocked or ignored)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def hanging_run(tmp_path):
    """Start ``cvb run -c x265`` on the hanging tool; returns (process, pids file) once the tool runs."""
    tool, pids = tmp_path / "ffmpeg", tmp_path / "pids"
    tool.write_text(HANGING_FFMPEG)
    tool.chmod(0o755)
    started: list[subprocess.Popen] = []

    def start(jobs: int) -> tuple[subprocess.Popen, list[int]]:
        env = {**os.environ, "CVB_FFMPEG": str(tool), "CVB_TEST_PIDS": str(pids), "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(
            [str(VENV_BIN / "cvb"), "run", "-c", "x265", "-l", "30", "--vlm", "reference", "-t", "sample",
             "--limit", "4", "-m", "none", "--store", str(tmp_path / "s.db"), "-j", str(jobs),
             "-o", f"x265.timeout={TOOL_TIMEOUT_S}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, preexec_fn=_as_from_a_shell)  # its own group: Ctrl-C goes to it all
        started.append(proc)
        deadline = time.monotonic() + HANG_S
        while len(_pids(pids)) < 2 * jobs and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)  # every worker's tool and its child are running
        assert len(_pids(pids)) >= 2 * jobs, f"the tool never ran: {proc.communicate()[1][-2000:]}"
        return proc, _pids(pids)

    yield start
    for proc in started:  # whatever the outcome, leave nothing running
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
    for pid in _pids(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("jobs,sig", [(1, signal.SIGKILL), (2, signal.SIGKILL), (1, signal.SIGTERM),
                                      (2, signal.SIGTERM)])
def test_killing_the_run_kills_its_tools_and_their_children(hanging_run, jobs, sig):
    proc, tools = hanging_run(jobs)
    os.kill(proc.pid, sig)  # the run alone, as `kill` from another terminal
    proc.communicate(timeout=HANG_S)
    assert _all_dead(tools), f"still running after {sig.name} of cvb run: {tools}"
    if sig == signal.SIGTERM:
        assert proc.returncode == 130  # stopped as cleanly as Ctrl-C


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_stops_a_hanging_tool_at_once_and_exits_130(hanging_run, jobs):
    proc, tools = hanging_run(jobs)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
    _, err = proc.communicate(timeout=HANG_S)  # far below the tool's timeout and sleep: nothing waited it out
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    if jobs == 1:  # the tool ran in the run's own compression thread: killed before the run ended,
        # not left to the guard (which would end it only after the thread's 5 s grace)
        assert not [p for p in tools if _alive(p)], f"tools alive when cvb exited: {tools}"
    assert _all_dead(tools), f"tools still running after Ctrl-C: {tools}"
