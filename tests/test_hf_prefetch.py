"""``prefetch``: the next batch's inputs processed on a CPU thread while the model answers.

The answers must be exactly those without it, the work must really move to the thread, the
condition of an adapted encoder must still be set for the batch being answered, and the local
executor must hand a VLM with ``prepare`` each batch one step early (and answer them all)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading

import pytest

from conftest import VENV_BIN
from cvb.types import Answer, AnswerKind, Query
from test_hf_vlm import _image, _queries, _texts, _vlm
from hang_guard import HANG_S


def _spy_processed(vlm, monkeypatch) -> list[str]:
    """The thread name of every processor call the VLM makes."""
    threads: list[str] = []
    original = type(vlm).processed

    def processed(self, queries, prompts, processor=None):
        threads.append(threading.current_thread().name)
        return original(self, queries, prompts, processor)

    monkeypatch.setattr(type(vlm), "processed", processed)
    return threads


@pytest.mark.parametrize("arch,mode", [("qwen2_5_vl", "generate"), ("idefics3", "logits"), ("llava", "generate")])
def test_prefetched_answers_equal_answers_without_it(tiny_vlm_dirs, arch, mode, monkeypatch):
    queries = _queries()
    plain = _vlm(tiny_vlm_dirs[arch], mode=mode, batch_size=2, prefetch="off")
    expected = plain.answer(queries)
    vlm = _vlm(tiny_vlm_dirs[arch], mode=mode, batch_size=2, prefetch="on")
    assert vlm.version == plain.version  # the option changes speed, never the answer's identity
    vlm.load()
    threads = _spy_processed(vlm, monkeypatch)
    vlm.prepare(queries)  # 5 queries in batches of 2 (logits mode: split again by kind)
    got = vlm.answer(queries)
    assert _texts(got) == _texts(expected)
    assert [a.meta.get("logprobs") for a in got] == [a.meta.get("logprobs") for a in expected]
    assert threads and all(name.startswith("cvb-hf-prefetch") for name in threads), threads
    assert not vlm._prefetcher._ahead  # every prepared batch was taken
    vlm.close()
    assert vlm._prefetcher is None


def test_auto_prefetches_only_on_a_gpu_and_off_never(tiny_vlm_dirs, monkeypatch):
    queries = _queries()[:2]
    for option in ("auto", "off"):  # the tests run on CPU: auto means off here
        vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"], prefetch=option)
        vlm.load()
        threads = _spy_processed(vlm, monkeypatch)
        vlm.prepare(queries)
        _texts(vlm.answer(queries))
        assert vlm._prefetcher is None and threads == ["MainThread"]
        monkeypatch.undo()


def test_a_query_never_prepared_or_prepared_differently_is_processed_at_once(tiny_vlm_dirs):
    queries = _queries()
    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"], batch_size=5, prefetch="on")
    expected = _texts(_vlm(tiny_vlm_dirs["qwen2_5_vl"], batch_size=5, prefetch="off").answer(queries))
    vlm.prepare(queries[:2])  # another batch than the one asked: never used, dropped in time
    assert _texts(vlm.answer(queries)) == expected
    assert len(vlm._prefetcher._ahead) == 1


def test_a_bad_image_still_fails_alone_with_prefetch(tiny_vlm_dirs):
    queries = _queries()
    queries[1] = Query(_image(600, 2, 9), "Is it red?", AnswerKind.YESNO)  # rejected: fails on the thread
    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"], batch_size=5, prefetch="on")
    vlm.prepare(queries)
    answers = vlm.answer(queries)
    assert answers[1].error and all(a.error is None for i, a in enumerate(answers) if i != 1)


def test_unknown_prefetch_value_is_a_usage_error(tiny_vlm_dirs):
    from cvb.errors import UsageError

    with pytest.raises(UsageError, match="prefetch"):
        _vlm(tiny_vlm_dirs["qwen2_5_vl"], prefetch="sometimes")


# ---- the local executor ------------------------------------------------------------------------

class _Recorder:
    def __init__(self, with_prepare: bool):
        self.log: list[tuple[str, tuple]] = []
        self.batch_size = 2
        self.version = "1"
        if with_prepare:
            self.prepare = lambda qs: self.log.append(("prepare", _ids(qs)))

    def answer(self, queries):
        self.log.append(("answer", _ids(queries)))
        return [Answer(text=f"a{q.sample_id}") for q in queries]


def _ids(queries):
    return tuple(int(q.sample_id) for q in queries)


def _numbered(*ids):
    """Real queries (the session reads each one's images and answer mode), named by number."""
    from cvb.types import Query
    return [Query(image=None, prompt="q", sample_id=str(i)) for i in ids]


def _executor(model):
    from cvb.run.plan import VLMPlan
    from cvb.run.vlm_session import LocalInference, VLMSession

    return LocalInference(VLMSession(VLMPlan("rec", "rec", {}, model, None), None, None))


def test_local_executor_hands_a_preparing_vlm_each_batch_one_step_early():
    model = _Recorder(with_prepare=True)
    ex = _executor(model)
    ex.submit("t1", _numbered(1, 2))
    assert model.log == [("prepare", (1, 2))] and ex.pending() == 1
    assert ex.collect(block=False) == []
    ex.submit("t2", _numbered(3, 4))  # batch 2 is prepared before batch 1 is answered
    assert model.log == [("prepare", (1, 2)), ("prepare", (3, 4)), ("answer", (1, 2))]
    done = ex.collect(block=False)
    assert [(token, [a.text for a in answers]) for token, answers, _ in done] == [("t1", ["a1", "a2"])]
    assert ex.pending() == 1
    done = ex.collect(block=True)  # the end of the run: the last batch is answered
    assert [(token, [a.text for a in answers]) for token, answers, _ in done] == [("t2", ["a3", "a4"])]
    assert ex.pending() == 0 and model.log[-1] == ("answer", (3, 4))


def test_local_executor_keeps_as_many_batches_ahead_as_the_vlm_prepares():
    model = _Recorder(with_prepare=True)
    model.prepare_ahead = 2
    ex = _executor(model)
    for n in range(4):
        ex.submit(f"t{n}", _numbered(2 * n, 2 * n + 1))
    answered = [qs for what, qs in model.log if what == "answer"]
    assert answered == [(0, 1), (2, 3)] and ex.pending() == 4
    tokens = []
    while ex.pending():
        tokens += [t for t, *_ in ex.collect(block=True)]
    assert tokens == ["t0", "t1", "t2", "t3"]


def test_local_executor_answers_at_once_without_prepare():
    model = _Recorder(with_prepare=False)
    ex = _executor(model)
    ex.submit("t1", _numbered(1, 2))
    assert model.log == [("answer", (1, 2))] and ex.pending() == 1
    assert [t for t, *_ in ex.collect(block=False)] == ["t1"]


# ---- the way a user runs it ----------------------------------------------------------------------

def _run(tmp_path, store, path, prefetch):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [str(VENV_BIN / "cvb"), "run", "--vlm", f"hf:{path}", "-t", "sample", "--limit", "6", "-c", "jpeg",
         "-l", "10,40", "-m", "none", "-b", "4", "-o", f"vlm.prefetch={prefetch}", "--store", str(store),
         "--cache-dir", str(tmp_path / "cache"), "--json", "-q"],
        capture_output=True, text=True, timeout=HANG_S, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT codec, level, sample_id, text, error FROM predictions "
                          "ORDER BY codec, level, sample_id").fetchall()
    return json.loads(out.stdout), rows


@pytest.mark.slow
def test_cvb_run_with_prefetch_stores_the_same_answers_under_the_same_label(tiny_vlm_dirs, tmp_path):
    path = tiny_vlm_dirs["qwen2_5_vl"]
    result, rows = _run(tmp_path, tmp_path / "on.sqlite", path, "on")
    _, plain = _run(tmp_path, tmp_path / "off.sqlite", path, "off")
    assert rows == plain and len(rows) == 18 and all(r[4] is None for r in rows)
    assert result["failures"] == []
    again, _ = _run(tmp_path, tmp_path / "on.sqlite", path, "off")  # not part of the label: resumes
    assert again["work"]["predictions"] == 0 and again["work"]["models_loaded"] == [], again["work"]
