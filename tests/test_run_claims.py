"""Concurrent ``cvb run``s of one matrix on one store share the work (issue 21, item 7): each
compressed image and each answer is claimed in the store before it is made, so two runs
started together call the codec once per image x level and the model once per question, and
end with the store and cache a single run makes. A dead run's claims are taken over."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.components import log_events
from cvb_fakes.harness import cli, count, spawn, use_fakes
from hang_guard import HANG_S

N_IMAGES, LEVELS, QUESTIONS = 30, ("1", "2", "4", "6"), 2
UNITS = N_IMAGES * len(LEVELS)  # compressed images: one codec call each
ANSWERS = N_IMAGES * QUESTIONS * (1 + len(LEVELS))  # questions the model answers


def run_args(images: Path, store: Path, cache: Path, *extra: str) -> list[str]:
    return ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake",
            "--levels", ",".join(LEVELS), "--metric", "mse", "--store", str(store),
            "--cache-dir", str(cache), "-b", "2", "-q", "--json", *extra]


def results(store: Path) -> dict[str, list]:
    """What a store holds, without what says which run made it or how long it took."""
    with sqlite3.connect(store) as db:
        return {
            "compressed": db.execute("SELECT key, content_hash, codec, level, num_bytes, bpp, width, height, error"
                                     " FROM compressed ORDER BY key").fetchall(),
            "metrics": db.execute("SELECT key, metric, value, error FROM metrics ORDER BY key, metric").fetchall(),
            "predictions": db.execute("SELECT task, vlm, codec, level, sample_id, key, prompt_sha, text, parsed,"
                                      " judge, error FROM predictions ORDER BY task, vlm, codec, level,"
                                      " sample_id").fetchall(),
            "cells": db.execute("SELECT task, vlm, codec, level, n, n_failed, score, details, bpp, metrics"
                                " FROM cells ORDER BY task, vlm, codec, level").fetchall(),
            "images": db.execute("SELECT task, image_key, content_hash, width, height, error FROM images"
                                 " ORDER BY task, image_key").fetchall(),
        }


def cache_entries(cache: Path) -> dict[str, bytes]:
    from cvb.run.image_cache import ImageCache

    entries = ImageCache(cache)
    return {p.stem: entries.bits(p.stem) for p in sorted(cache.rglob("*.cvbc"))}


def calls(log: Path) -> tuple[int, int]:
    """(codec calls, questions answered) one run logged."""
    return len(log_events(log, "encode ")), len(log_events(log, "answer "))


@pytest.fixture
def single(tmp_path, monkeypatch):
    """The images, and what one run alone (in this process) leaves in its store and cache."""
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", N_IMAGES)
    store, cache = tmp_path / "single.sqlite", tmp_path / "single-cache"
    result = cli(run_args(images, store, cache, "-o", f"task.questions={QUESTIONS}"))
    assert result.exit_code == 0, result.output
    work = json.loads(result.stdout)["work"]
    assert (work["codec_calls"], work["predictions"]) == (UNITS, ANSWERS)
    return images, results(store), cache_entries(cache)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_two_runs_at_once_do_each_unit_once(tmp_path, single, jobs):
    images, want, want_cache = single
    store, cache = tmp_path / "r.sqlite", tmp_path / "cache"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    args = run_args(images, store, cache, "-o", f"task.questions={QUESTIONS}", "-j", jobs)
    # slow enough that the two runs overlap for seconds whatever the machine's load
    procs = [spawn(args, CVB_FAKES_LOG=str(log), CVB_FAKES_ENCODE_DELAY="0.02", CVB_FAKES_DELAY="0.02")
             for log in logs]
    outs = [p.communicate(timeout=HANG_S) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outs]
    per_run = [calls(log) for log in logs]
    assert sum(c for c, _ in per_run) == UNITS, per_run  # before claims: 2 x 120 at worst
    assert sum(a for _, a in per_run) == ANSWERS, per_run
    assert results(store) == want  # the same rows as one run alone
    assert cache_entries(cache) == want_cache
    assert count(store, "SELECT COUNT(*) FROM claims") == 0  # each run dropped its claims
    for (out, _), (codec_calls, answers) in zip(outs, per_run):
        assert len(json.loads(out)["cells"]) == 1 + len(LEVELS)  # the whole matrix, from shared results
        assert json.loads(out)["work"]["by_other_runs"] <= UNITS - codec_calls + ANSWERS - answers


@pytest.mark.slow
def test_a_run_killed_with_9_leaves_its_claims_to_the_next(tmp_path, single):
    images, want, want_cache = single
    store, cache = tmp_path / "r.sqlite", tmp_path / "cache"
    args = run_args(images, store, cache, "-o", f"task.questions={QUESTIONS}")
    first_log, second_log = tmp_path / "a.log", tmp_path / "b.log"
    proc = spawn(args, CVB_FAKES_LOG=str(first_log), CVB_FAKES_ENCODE_HOLD_AFTER="8")
    start = time.monotonic()
    while True:  # killed while it holds claims and has stored part of its work
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - start < HANG_S, "the run made no progress"
        try:
            if count(store, "SELECT COUNT(*) FROM compressed") >= 4:
                break
        except sqlite3.Error:  # the store is still being created
            pass
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=HANG_S)
    stored = count(store, "SELECT COUNT(*) FROM compressed")
    assert stored < UNITS and count(store, "SELECT COUNT(*) FROM claims") > 0

    rerun = spawn(args, CVB_FAKES_LOG=str(second_log))
    out, err = rerun.communicate(timeout=HANG_S)
    assert rerun.returncode == 0, err[-3000:]
    # the rerun compressed exactly what the dead run had not stored, its claimed units included
    assert calls(second_log)[0] == UNITS - stored
    assert results(store) == want and cache_entries(cache) == want_cache
    assert count(store, "SELECT COUNT(*) FROM claims") == 0


# ---- the claims table itself --------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    from cvb.run.store import Store

    with Store(tmp_path / "s.sqlite") as s:
        yield s


def _claims(store, run_id: int):
    from cvb.run.claims import Claims

    return Claims(store, run_id)


def _hold(store, unit: str, run_id: int, host: str, pid: int | None, start: str | None, expires_ns: int) -> None:
    with store.write() as c:
        c.execute("INSERT INTO claims VALUES (?,?,?,?,?,?)", (unit, run_id, host, pid, start, expires_ns))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_run_keeps_its_claims_and_a_dead_ones_are_taken_over(store):
    from cvb.run import run_process

    me = _claims(store, 2)
    host, far = run_process.host(), time.time_ns() + 10**12
    pid, _, start = run_process.this_process()
    _hold(store, "compress live", 1, host, pid, start, far)  # this very process: alive
    _hold(store, "compress dead", 1, host, _dead_pid(), "x", far)  # gone: taken over at once
    _hold(store, "compress reused", 1, host, pid, "another-start", far)  # pid reused by another process
    _hold(store, "compress far-live", 1, "another-host", 1, None, far)  # unknowable: until it lapses
    _hold(store, "compress far-lapsed", 1, "another-host", 1, None, time.time_ns() - 1)
    got = me.claim(["compress live", "compress dead", "compress reused", "compress far-live",
                    "compress far-lapsed", "compress new"])
    assert got == {"compress dead", "compress reused", "compress far-lapsed", "compress new"}
    assert me.taken_over == 3
    assert _claims(store, 3).claim(["compress new"]) == set()  # now this run's, alive
    assert me.claim(["compress new"]) == {"compress new"}  # claiming again is a no-op
    me.release(["compress new"])
    assert _claims(store, 3).claim(["compress new"]) == set()  # dropped with this run's next write...
    me.renew()
    assert _claims(store, 3).claim(["compress new"]) == {"compress new"}  # ...such as this one
    me.release_all()
    assert {u for (u,) in store.conn.execute("SELECT unit FROM claims WHERE run_id=2")} == set()


def test_an_older_store_gets_the_claims_table_and_killed_runs_drop_theirs(tmp_path):
    from cvb.run.store import Store

    path = tmp_path / "old.sqlite"
    with Store(path) as s:
        run = s.begin_run({"cvb_version": "0"})
        s.conn.execute("DROP TABLE claims")  # as a store made before claims existed
        s.conn.execute("UPDATE runs SET pid=?, pid_start='x' WHERE id=?", (_dead_pid(), run))
    with Store(path) as s:  # a writable open adds the table, and marks the run killed
        _hold(s, "compress k", run, "any-host", None, None, 0)
    with Store(path) as s:
        s.conn.execute("UPDATE runs SET status='running' WHERE id=?", (run,))
    with Store(path) as s:
        assert s.conn.execute("SELECT status FROM runs").fetchone()[0] == "killed"
        assert s.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize("holder", ["answers", "gives up"])
def test_a_run_leaves_units_a_live_run_holds_until_they_are_free(tmp_path, single, holder):
    """The answers of one cell are held by a live process (this test, as another run would):
    the run does everything else, then waits; once the claims are gone it reads the answers
    the holder stored, or asks those it did not store itself."""
    from cvb.run import run_process
    from cvb.run.claims import answer_unit
    from cvb.run.store import Store

    images, want, _ = single
    store, cache, log = tmp_path / "r.sqlite", tmp_path / "cache", tmp_path / "run.log"
    held = [answer_unit(task, vlm, codec, level, sid) for task, vlm, codec, level, sid, *_ in want["predictions"]
            if (codec, level) == ("fake", "6")]
    assert len(held) == N_IMAGES * QUESTIONS
    pid, host, start = run_process.this_process()
    with Store(store) as s, s.write() as c:  # another run's claims: alive, on this host
        c.executemany("INSERT INTO claims VALUES (?, 999, ?, ?, ?, 0)", [(u, host, pid, start) for u in held])
    proc = spawn(run_args(images, store, cache, "-o", f"task.questions={QUESTIONS}"), CVB_FAKES_LOG=str(log))
    began = time.monotonic()
    while count(store, "SELECT COUNT(*) FROM predictions") < ANSWERS - len(held):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - began < HANG_S, "the run made no progress"
        time.sleep(0.05)
    assert proc.poll() is None  # everything else is done: it waits for the held answers
    assert count(store, "SELECT COUNT(*) FROM predictions WHERE codec='fake' AND level='6'") == 0
    with sqlite3.connect(store) as db:
        if holder == "answers":  # the holder stores its answers (those a single run gives), then lets go
            cols = [r[1] for r in db.execute("PRAGMA table_info(predictions)") if r[1] not in ("id", "updated_ns")]
            db.execute("ATTACH ? AS single", (str(tmp_path / "single.sqlite"),))
            db.execute(f"INSERT INTO predictions ({', '.join(cols)}, updated_ns) SELECT {', '.join(cols)}, ?"
                       " FROM single.predictions WHERE codec='fake' AND level='6'", (time.time_ns(),))
        db.execute("DELETE FROM claims WHERE run_id=999")
    out, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 0, err[-3000:]
    work = json.loads(out)["work"]
    if holder == "answers":  # read, not asked again
        assert calls(log) == (UNITS, ANSWERS - len(held)) and work["by_other_runs"] == len(held)
    else:  # it asked the freed answers itself, once each
        assert calls(log) == (UNITS, ANSWERS) and work["by_other_runs"] == 0
    assert results(store) == want
