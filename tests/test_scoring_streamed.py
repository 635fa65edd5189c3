"""Streamed scoring (``Task.scorer()``, ``cvb.scoring.tally``): every built-in rule fed one sample at a
time gives the whole-set score, keeps only what the rule needs, and a task with only the
whole-set ``score`` (the older plugin shape) is still scored by it."""

from __future__ import annotations

import random

import pytest

from cvb.protocols import Scorer
from cvb.scoring.tally import Tally, WholeSet, score_whole, scorer_for
from cvb.types import AnswerKind, ImageSource, Sample, TaskScore
from scoring_sets import CASES, predictions, samples, task_of


def _fields(ts: TaskScore) -> tuple:
    return ts.value, ts.metric, list(ts.details.items()), ts.higher_is_better, ts.accuracy_scale


def _streamed(task, ss, preds) -> TaskScore:
    scorer = task.scorer()
    assert isinstance(scorer, Scorer)
    for s in ss:
        scorer.add(s, preds.get(s.id), None)
    return scorer.result()


@pytest.mark.parametrize("name,protocol", CASES)
def test_streamed_score_equals_the_whole_set_score(name, protocol):
    """On random prediction sets (tricky answers, failed samples, sizes from 1 up), one sample
    at a time gives exactly the whole-set score: value, metric, every detail in the same order."""
    seeds = range(2) if (name, protocol) == ("coco-caption", "lmms-eval") else range(8)  # Java: slow
    for seed in seeds:
        rng = random.Random(seed)
        task = task_of(name, protocol)
        ss = samples(task, name, rng.choice([1, 3, 20, 80]), rng)
        preds = predictions(rng, ss, missing=rng.choice([0.0, 0.2, 1.0]))
        whole = task.score(ss, preds)
        assert _fields(_streamed(task_of(name, protocol), ss, preds)) == _fields(whole)
        assert whole.details["questions"] > 0 and whole.metric


BOUNDED = [("pope", "cvb"), ("pope", "lmms-eval"), ("pope", "vlmevalkit"), ("seedbench", "cvb"),
           ("seedbench", "lmms-eval"), ("seedbench", "vlmevalkit"), ("ocrbench", "cvb"), ("ocrbench", "lmms-eval"),
           ("ocrbench", "vlmevalkit"), ("gqa", "cvb"), ("gqa", "lmms-eval"), ("gqa", "vlmevalkit"), ("mmbench", "cvb")]


@pytest.mark.parametrize("name,protocol", BOUNDED)
def test_counting_rules_keep_a_tally_that_does_not_grow_with_the_cell(name, protocol):
    """An accuracy or an F1 keeps counts: 2000 samples leave as many distinct records as 200."""
    sizes = []
    for n in (200, 2000):
        rng = random.Random(n)
        task = task_of(name, protocol)
        ss = samples(task, name, n, rng)
        preds = predictions(rng, ss)
        scorer = task.scorer()
        for s in ss:
            scorer.add(s, preds.get(s.id))
        kept = scorer.counts if isinstance(scorer, Tally) else scorer.units
        sizes.append(len(kept))
        assert scorer.result().details["questions"] == n
    assert sizes[1] <= 60 and sizes[1] < 2000 / 20, sizes


def test_mme_keeps_pairs_not_answers():
    task = task_of("mme", "cvb")
    rng = random.Random(3)
    ss = samples(task, "mme", 400, rng)
    preds = {s.id: f"{rng.choice(['Yes', 'No'])}, and a long explanation {i}" for i, s in enumerate(ss)}
    scorer = task.scorer()
    for s in ss:
        scorer.add(s, preds[s.id])
    assert len(scorer.counts) <= len(ss) // 2 * 2 and not any(p in str(scorer.counts) for p in preds.values())
    assert _fields(scorer.result()) == _fields(task.score(ss, preds))


class OldShapeTask:
    """A third-party task from before streamed scoring: a list of samples, a whole-set score
    that reads the reference answers."""

    name, version = "old", "1"

    def samples(self, limit=None):
        img = ImageSource(key="i", data=b"")
        return [Sample(f"s{i}", img, "q?", AnswerKind.YESNO, "yes") for i in range(5)]

    def judge(self, sample, prediction):
        return float(prediction == "yes")

    def score(self, samples, predictions, reference=None):
        agree = sum(predictions.get(s.id) == reference.get(s.id) for s in samples)
        return TaskScore(value=float(len(predictions)), metric="answered",
                         details={"agree": float(agree), "ids": float(len(samples))})


def test_a_task_with_only_score_is_scored_on_the_whole_set():
    task = OldShapeTask()
    ss = list(task.samples())
    preds = {"s0": "yes", "s1": "no", "s3": "yes"}
    ref = {"s0": "yes", "s1": "yes", "s2": "no", "s3": "yes"}
    scorer = scorer_for(task)
    assert isinstance(scorer, WholeSet)
    got = score_whole(scorer, ss, preds, ref)
    assert _fields(got) == _fields(task.score(ss, preds, reference=ref))
    assert got.value == 3 and got.details == {"agree": 3.0, "ids": 5.0}  # s0, s3, and s4 (neither)


def test_spooled_texts_read_like_the_dict_they_replace():
    from cvb.text_spool import SpooledTexts

    texts = {f"s{i}": f"answer {i % 7}" for i in range(2500)}  # more than one write batch
    spooled = SpooledTexts()
    for k, v in texts.items():
        spooled.put(k, v)
    assert len(spooled) == len(texts) and list(spooled) == list(texts)
    assert dict(spooled.items()) == texts and list(spooled.values()) == list(texts.values())
    assert spooled["s1234"] == texts["s1234"] and "s0" in spooled and spooled.get("s9999") is None
    assert "nope" not in spooled and 3 not in spooled
    with pytest.raises(KeyError):
        spooled["nope"]
    assert spooled == texts  # Mapping equality, as a task comparing dicts would see
    spooled.close()


def test_a_score_only_task_is_scored_from_the_spool_in_a_run(tmp_path, monkeypatch):
    """The toy task written the simple way (samples() a list, only score()) through the real
    `cvb run`: score() of a large cell gets the samples as a read-only view of the run's spool
    and the predictions from a temporary file, not lists and dicts of the whole cell, and the cell's
    score is the one the task's own score() gives on its list and a dict of the stored answers."""
    import json
    import sqlite3
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins" / "cvb-fakes"))
    from cvb_fakes import make_images
    from cvb_fakes.components import ToyTask
    from cvb_fakes.harness import cli, use_fakes

    use_fakes(monkeypatch)
    monkeypatch.setattr(WholeSet, "IN_MEMORY", 10)  # a small cell taken as a large one (> 10)
    seen = []
    original = ToyTask.score

    def spy(self, samples, predictions, reference=None):
        seen.append((type(samples).__name__, type(predictions).__name__, len(samples), len(predictions)))
        return original(self, samples, predictions, reference)

    monkeypatch.setattr(ToyTask, "score", spy)
    images = make_images(tmp_path / "imgs", 6)
    store = tmp_path / "r.sqlite"
    res = cli(["run", "--task", f"toy:{images}", "-o", "task.questions=3", "--vlm", "scripted", "--codec", "fake",
               "--levels", "1", "--metric", "none", "--store", str(store), "--cache-dir", str(tmp_path / "c"),
               "-q", "--json"])
    assert res.exit_code == 0, res.output
    assert seen == [("SampleView", "SpooledTexts", 18, 18)] * 2  # the reference cell and fake 1
    monkeypatch.setattr(WholeSet, "IN_MEMORY", 18)  # control: a cell this small is held as before
    seen.clear()
    res = cli(["run", "--task", f"toy:{images}", "-o", "task.questions=3", "--vlm", "scripted", "--codec", "fake",
               "--levels", "1", "--metric", "none", "--store", str(tmp_path / "r2.sqlite"),
               "--cache-dir", str(tmp_path / "c"), "-q", "--json"])
    assert res.exit_code == 0 and seen == [("list", "dict", 18, 18)] * 2, (res.output, seen)
    cells = {c["codec"]: c for c in json.loads(res.stdout)["cells"]}
    task = ToyTask(str(images), questions=3)
    conn = sqlite3.connect(store)
    for codec, cell in cells.items():
        preds = dict(conn.execute("SELECT sample_id, text FROM predictions WHERE codec=?", (codec,)))
        ref = dict(conn.execute("SELECT sample_id, text FROM predictions WHERE codec='none'"))
        assert cell["score"] == original(task, task.samples(), preds, ref).value
        assert cell["details"] == original(task, task.samples(), preds, ref).details
