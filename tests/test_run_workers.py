"""The ``-j N`` worker processes of a real ``cvb run``: they die with a killed parent (no orphan
keeps computing or holds the terminal's output) and stop quietly when the run is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import subprocess_env
from cvb_fakes.components import log_events
from hang_guard import HANG_S

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _descendants(pid: int) -> list[int]:
    """Live processes below ``pid``: the workers, and the fork server that starts them."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[0] != "Z":
                parents[int(entry.name)] = st[1]
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        todo += kids
    return found


def _workers(pid: int) -> list[int]:
    """The descendants of ``pid`` that run compression units: the fork server's children."""
    out = []
    for p in _descendants(pid):
        st = _stat(p)
        try:
            if st and "forkserver" in Path(f"/proc/{st[1]}/cmdline").read_text():
                out.append(p)
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _survivors(pids: list[int], within: float = HANG_S) -> list[int]:
    """Those of ``pids`` still alive after ``within`` seconds (multiprocessing's helper
    processes end a moment after the last process holding their pipe)."""
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _start(tmp_path: Path):
    images = make_images(tmp_path / "imgs", 40)
    args = ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,2,4,6",
            "--metric", "mse", "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "cache"),
            "-j", "2", "-q"]
    # its own process group, as a shell job is: `kill -TERM -PGID` reaches every process of it
    proc = subprocess.Popen([sys.executable, "-m", "cvb_fakes.cli", *args], start_new_session=True, text=True,
                            env=subprocess_env(CVB_FAKES_ENCODE_DELAY="0.2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if len(_workers(proc.pid)) >= 2:
            time.sleep(0.5)  # the workers are past their start-up and encoding
            return proc, _descendants(proc.pid)
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run started no worker processes")


def test_workers_die_with_a_killed_run(tmp_path):
    proc, workers = _start(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # every worker inherited the run's stdout and stderr: they close once all workers are gone
    out, err = proc.communicate(timeout=HANG_S)
    assert not _survivors(workers), "workers outlived the killed run"
    assert "Traceback" not in err


def test_a_stopped_run_ends_its_workers_quietly(tmp_path):
    """SIGTERM to the whole job (a service manager stopping it, `kill -TERM -PGID`): the run
    saves its work and exits 130; its workers end without a traceback or a hang."""
    proc, workers = _start(tmp_path)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not _survivors(workers)


def test_each_worker_makes_its_codec_once(tmp_path):
    """`cvb run -j 2` over 12 images: every process (the run, each worker) makes the codec once
    for its lifetime, however many units it runs (a learned codec builds its models per
    instance: 8-11 s of CPU for four CompressAI models). Control: every unit was encoded."""
    from collections import Counter

    images = make_images(tmp_path / "imgs", 12)
    log = tmp_path / "events.log"
    args = ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
            "--metric", "none", "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "cache"),
            "-j", "2", "-q"]
    out = subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *args], capture_output=True, text=True,
                         env=subprocess_env(CVB_FAKES_LOG=str(log)), timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert len(log_events(log, "encode")) == 12 * 2
    made = Counter(e.split()[-1] for e in log_events(log, "create fake"))
    assert len(made) >= 2 and set(made.values()) == {1}, made  # the run's and the workers', once each
