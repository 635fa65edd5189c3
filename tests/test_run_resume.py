"""Real processes: ``kill -9`` in the middle of a run, then a rerun, loses and duplicates
nothing; two runs at once on one store leave it whole."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import cli, count, counts, spawn, use_fakes
from hang_guard import HANG_S

N_IMAGES, LEVELS = 10, ("1", "4")
N_SAMPLES = 2 * N_IMAGES
N_PREDICTIONS = N_SAMPLES * (1 + len(LEVELS))


def run_args(images: Path, store: Path, cache: Path) -> list[str]:
    return ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake",
            "--levels", ",".join(LEVELS), "--metric", "mse", "--store", str(store),
            "--cache-dir", str(cache), "-b", "2", "-q", "--json"]


def comparable(cells: list[dict]) -> list[tuple]:
    return [(c["task"], c["codec"], c["level"], c["n"], c["n_failed"], c["score"], c["bpp"],
             c["metrics"], c["details"]) for c in cells]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """Images, and the cells of an uninterrupted run (in-process, its own store and cache)."""
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", N_IMAGES)
    result = cli(run_args(images, tmp_path / "reference.sqlite", tmp_path / "reference-cache"))
    assert result.exit_code == 0, result.output
    return images, comparable(json.loads(result.stdout)["cells"])


def wait_until(proc, store: Path, sql: str, at_least: int, timeout: float = HANG_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended before it could be killed: {proc.communicate()}"
        try:
            if count(store, sql) >= at_least:
                return
        except Exception:  # noqa: BLE001 - the store is still being created
            pass
        time.sleep(0.02)
    raise AssertionError("run made no progress")


def run_statuses(store: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(store) as db:
        return [status for (status,) in db.execute("SELECT status FROM runs ORDER BY id")]


def assert_complete(store: Path) -> None:
    c = counts(store)
    assert (c["compressed"], c["metrics"], c["predictions"], c["cells"]) == (
        N_IMAGES * len(LEVELS), N_IMAGES * len(LEVELS), N_PREDICTIONS, 1 + len(LEVELS))
    distinct = count(store, "SELECT COUNT(*) FROM (SELECT DISTINCT task, vlm, codec, level, sample_id "
                            "FROM predictions)")
    assert distinct == N_PREDICTIONS
    assert count(store, "SELECT COUNT(*) FROM predictions WHERE error IS NOT NULL") == 0


@pytest.mark.parametrize("stage, env, progress_sql, at_least", [
    ("compress", {"CVB_FAKES_ENCODE_HOLD_AFTER": "2"}, "SELECT COUNT(*) FROM compressed", 2),
    ("infer", {"CVB_FAKES_HOLD_AFTER": "10"}, "SELECT COUNT(*) FROM predictions", 10),
])
def test_sigkill_then_rerun_finishes_with_nothing_lost_or_doubled(tmp_path, setup, stage, env,
                                                                   progress_sql, at_least):
    images, expected = setup
    store, cache = tmp_path / "r.sqlite", tmp_path / "cache"
    proc = spawn(run_args(images, store, cache), **env)
    wait_until(proc, store, progress_sql, at_least)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=HANG_S)
    assert proc.returncode == -signal.SIGKILL
    at_kill = counts(store)
    assert at_kill["predictions"] < N_PREDICTIONS  # it really died mid-run
    if stage == "compress":
        assert at_kill["compressed"] < N_IMAGES * len(LEVELS)
    assert run_statuses(store) == ["running"]  # nothing could record its end

    rerun = spawn(run_args(images, store, cache))
    out, err = rerun.communicate(timeout=HANG_S)
    assert rerun.returncode == 0, err
    assert run_statuses(store) == ["killed", "ok"]  # the rerun's open found its process gone
    shown = cli(["report", "--store", str(store), "--json"])  # its provenance says so too
    assert shown.exit_code == 0, shown.output
    assert [r["status"] for r in json.loads(shown.stdout)["provenance"]["runs"]] == ["killed", "ok"]
    summary = json.loads(out)
    assert summary["work"]["predictions"] == N_PREDICTIONS - at_kill["predictions"]  # none redone
    assert_complete(store)
    assert comparable(summary["cells"]) == expected
    from cvb.run.image_cache import ImageCache

    entries = ImageCache(cache)
    for path in cache.rglob("*.cvbc"):  # whatever the kill interrupted, no half file is an entry
        assert entries.info(path.stem) is not None and entries.bits(path.stem) is not None


def test_two_runs_at_once_on_one_store(tmp_path, setup):
    images, expected = setup
    store, cache = tmp_path / "r.sqlite", tmp_path / "cache"
    env = {"CVB_FAKES_DELAY": "0.02", "CVB_FAKES_ENCODE_DELAY": "0.01"}
    procs = [spawn(run_args(images, store, cache), **env) for _ in range(2)]
    results = [p.communicate(timeout=HANG_S) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]
    assert_complete(store)
    assert count(store, "SELECT COUNT(*) FROM runs WHERE status = 'ok'") == 2
    for out, _ in results:
        assert comparable(json.loads(out)["cells"]) == expected


def test_ctrl_c_stops_cleanly_with_finished_work_saved(tmp_path, setup):
    images, expected = setup
    store, cache = tmp_path / "r.sqlite", tmp_path / "cache"
    # the model holds after 6 answers: the run is caught in the middle however slow the machine
    proc = spawn(run_args(images, store, cache), CVB_FAKES_HOLD_AFTER="6")
    wait_until(proc, store, "SELECT COUNT(*) FROM predictions", 6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 130 and "interrupted: finished work is saved" in err, (
        proc.returncode, count(store, "SELECT COUNT(*) FROM predictions"), err[-2000:])
    saved = count(store, "SELECT COUNT(*) FROM predictions")
    assert 6 <= saved < N_PREDICTIONS
    assert count(store, "SELECT COUNT(*) FROM runs WHERE status = 'interrupted'") == 1
    rerun = spawn(run_args(images, store, cache))
    out, err = rerun.communicate(timeout=HANG_S)
    assert rerun.returncode == 0, err
    assert json.loads(out)["work"]["predictions"] == N_PREDICTIONS - saved
    assert_complete(store)
