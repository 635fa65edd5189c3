"""A task of many distinct images (one question each, as POPE-like benchmarks at scale have
one to a few): the per-image state lives on disk (the sample spool's images table, the job
spool), images given as encoded bytes (as hub datasets give them) are read from the spool when
needed, and the run's answers, stored rows and scores are those the model gives on each image,
through an interruption and a resume, in fresh ``cvb`` processes. Memory figures are in
``benchmarks/bench_run.py``, not here."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.components import CountingCodec, texture_answer
from cvb_fakes.harness import count, spawn
from hang_guard import HANG_S

N_IMAGES, LEVELS = 24, ("1", "4")
CORRUPT, POISON = (5,), (7,)  # an unreadable file; an image the fake codec cannot encode


def run_args(images: Path, store: Path, cache: Path, *extra: str, streamed: bool = True) -> list[str]:
    return ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", ",".join(LEVELS),
            "--metric", "mse", "-o", "task.questions=1", "-o", f"task.streamed={str(streamed).lower()}",
            "--store", str(store), "--cache-dir", str(cache), "-b", "2", "-q", "--json", *extra]


def rows(store: Path) -> list[tuple]:
    """Every stored answer, without the task label (which names the task's options); an error
    by its reason (an image given as a file is named by its path, one given as bytes by its key)."""
    conn = sqlite3.connect(store)
    try:
        found = conn.execute("SELECT sample_id, vlm, codec, level, key, prompt_sha, text, error, judge FROM predictions"
                             " ORDER BY sample_id, codec, level").fetchall()
    finally:
        conn.close()
    return [(*r[:7], None if r[7] is None else r[7].rsplit(": ", 1)[-1], r[8]) for r in found]


def cells(summary: dict) -> list[tuple]:
    return [(c["codec"], c["level"], c["n"], c["n_failed"], c["score"], c["bpp"], c["metrics"], c["details"])
            for c in summary["cells"]]


def expected_answers(images: Path) -> dict[tuple[str, str, str], str | None]:
    """(sample id, codec, level) -> what the model answers, computed here from the images and
    the fake codec directly (None: no answer, the image or its compression fails)."""
    from PIL import Image

    from cvb.codecs.base import compress
    from cvb.types import AnswerKind, Query

    out: dict[tuple[str, str, str], str | None] = {}
    codec = CountingCodec()
    for path in sorted(images.glob("img*.png")):
        stem = path.stem
        try:
            original = Image.open(path).convert("RGB")
        except OSError:
            original = None
        sid = f"{stem}-q0"
        ask = lambda image: texture_answer(Query(image=image, prompt="Is the image smooth?", kind=AnswerKind.YESNO))
        out[(sid, "none", "-")] = None if original is None else ask(original)
        for level in LEVELS:
            try:
                out[(sid, "fake", level)] = None if original is None else ask(compress(codec, original, level).image)
            except Exception:  # noqa: BLE001 - the poisoned image
                out[(sid, "fake", level)] = None
    return out


def test_images_as_bytes_answer_as_files_do_and_resume_after_a_kill(tmp_path):
    images = make_images(tmp_path / "imgs", N_IMAGES, corrupt=CORRUPT, poison=POISON)
    total = N_IMAGES * (1 + len(LEVELS))

    files = spawn(run_args(images, tmp_path / "files.sqlite", tmp_path / "files-cache"))
    out, err = files.communicate(timeout=HANG_S)
    assert files.returncode == 1, err  # the corrupt and the poisoned image fail alone
    by_files = json.loads(out)
    assert by_files["work"]["predictions"] == total

    # the model really answered each image as it is (or as the codec left it)
    want = expected_answers(images)
    got = {(sid, codec, level): (text if error is None else None)
           for sid, _, codec, level, _, _, text, error, _ in rows(tmp_path / "files.sqlite")}
    assert got == want
    assert sum(v is None for v in want.values()) == (1 + len(LEVELS)) + len(LEVELS)  # corrupt + poisoned

    # the same images given as bytes: killed in the middle of inference, then resumed
    store, cache = tmp_path / "bytes.sqlite", tmp_path / "bytes-cache"
    proc = spawn(run_args(images, store, cache, "-o", "task.inline=true"), CVB_FAKES_HOLD_AFTER="12")
    deadline = time.monotonic() + HANG_S
    while count_or_zero(store) < 12:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=HANG_S)
    at_kill = count(store, "SELECT COUNT(*) FROM predictions")
    assert 12 <= at_kill < total
    rerun = spawn(run_args(images, store, cache, "-o", "task.inline=true"))
    out, err = rerun.communicate(timeout=HANG_S)
    assert rerun.returncode == 1, err
    resumed = json.loads(out)
    assert resumed["work"]["predictions"] == total - at_kill  # only the missing ones asked
    assert rows(store) == rows(tmp_path / "files.sqlite")  # same keys, prompts, answers, errors, verdicts
    assert cells(resumed) == cells(by_files)
    assert {f["item"] for f in resumed["failures"] if f["stage"] == "image"} == {
        f["item"] for f in by_files["failures"] if f["stage"] == "image"}

    # a rerun does nothing
    again = spawn(run_args(images, store, cache, "-o", "task.inline=true"))
    out, err = again.communicate(timeout=HANG_S)
    assert again.returncode == 1, err
    work = json.loads(out)["work"]
    assert (work["predictions"], work["codec_calls"], work["cells_scored"]) == (0, 0, 0)


def count_or_zero(store: Path) -> int:
    try:
        return count(store, "SELECT COUNT(*) FROM predictions")
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def test_a_task_returning_a_list_of_images_as_bytes_still_runs(tmp_path):
    """The older shape: ``samples()`` returns a whole list (here of images given as bytes)."""
    images = make_images(tmp_path / "imgs", 8, corrupt=(3,))
    proc = spawn(run_args(images, tmp_path / "s.sqlite", tmp_path / "cache", "-o", "task.inline=true",
                          streamed=False))
    out, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 1, err  # the corrupt image fails alone
    assert json.loads(out)["work"]["predictions"] == 8 * (1 + len(LEVELS))
    got = {(sid, codec, level): (text if error is None else None)
           for sid, _, codec, level, _, _, text, error, _ in rows(tmp_path / "s.sqlite")}
    assert got == expected_answers(images)
