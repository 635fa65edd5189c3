"""The report's fast statistics against the straightforward computation they replace: resamples
as draw counts, a ``Tally`` scorer's score from resampled counts (POPE's F1), the stored verdicts
aggregated by SQLite, BD intervals of all replicates at once; end to end through a fresh
``cvb report``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cvb.analysis import stats
from cvb.analysis.bd import bd_metric, bd_metric_replicates
from cvb.report import uncertainty
from cvb.run.store import Store
from cvb.types import AnswerKind, ImageSource, Sample, TaskScore

from test_openai_vlm import KEY, FakeServer, reply
from test_tasks_common import make_task

CVB = str(Path(sys.executable).with_name("cvb"))
sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))


def pope_data(root: Path, images: int = 30, questions: int = 3) -> Path:
    from cvb_fakes.pope_data import pope_layout

    return pope_layout(root, images, questions, color=lambda i: (8 * i % 256, 90, 30),
                       categories=("popular", "random", "random"))


# ---- the pieces ----------------------------------------------------------------------------

def test_draw_counts_give_the_sums_and_means_of_the_concatenated_resamples():
    groups = [[0, 1, 2], [3], [4, 5], [6, 7, 8, 9]]
    x = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0, 1], dtype=float)
    draws = stats.cluster_draws(len(groups), 300, seed=5)
    idx = stats.cluster_resamples(groups, 300, seed=5)
    w = stats.draw_counts(draws)
    assert w.shape == (300, 4) and (w.sum(axis=1) == 4).all()
    per_group = np.array([x[g].sum() for g in groups])
    sizes = np.array([len(g) for g in groups], dtype=float)
    assert (w @ per_group == np.array([x[i].sum() for i in idx])).all()
    # the accuracy shortcut: bit for bit the mean of each resample, as the report computed it before
    assert (100.0 * ((w @ per_group) / (w @ sizes)) == np.array([100.0 * x[i].mean() for i in idx])).all()


@pytest.mark.parametrize("protocol", ["cvb", "lmms-eval", "vlmevalkit"])
def test_pope_scores_through_a_tally_the_report_can_resample(tmp_path, protocol):
    from cvb.scoring.tally import Tally

    task = make_task("pope", str(pope_data(tmp_path / "POPE")), protocol=protocol)
    assert isinstance(task.scorer(), Tally)  # the fast path applies; its numbers: the end-to-end test


def test_bd_replicates_are_bd_metric_per_replicate():
    rng = np.random.default_rng(0)
    cases = [([0.1, 0.2, 0.4, 0.8], [0.15, 0.3, 0.5, 1.0]),
             ([0.1, 0.2, 0.2, 0.8, 0.0], [0.15, 0.3, 0.5, 1.0, 2.0]),  # a repeated rate, a bpp of 0
             ([0.1, 0.2], [0.3, 0.6])]  # no overlap: undefined
    for method in ("pchip", "akima", "cubic"):
        for ra, rt in cases:
            sa, st = rng.random((len(ra), 50)) * 50, rng.random((len(rt), 50)) * 50
            sa[1, 3] = np.nan  # a replicate without a score at one point
            got = bd_metric_replicates(ra, sa, rt, st, method)
            want = np.array([bd_metric(ra, sa[:, b], rt, st[:, b], method).value for b in range(50)])
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---- the stored verdicts, aggregated by SQLite -----------------------------------------------

def _store_answers(store: Store, cells: dict) -> None:
    run = store.begin_run({"cvb_version": "t", "argv": [], "options": {}, "plugins": [], "prompts": {}})
    for (codec, level), rows in cells.items():
        store.save_predictions([("gone", "1", sid, "vlm", "v", codec, level, "k", "p", text, None, judge, error, 0.0)
                                for sid, text, judge, error in rows], run)


def _old_sample_verdicts(store, task, vlm, codec, level) -> dict[str, tuple]:
    """The former row-by-row read: sample id -> (text, judge, error) of one cell."""
    return {sid: (text, judge, error) for sid, text, judge, error in store.conn.execute(
        "SELECT sample_id, text, judge, error FROM predictions WHERE task=? AND vlm=? AND codec=? AND level=?",
        (task, vlm, codec, level))}


def _old_empty_answers_warning(stored) -> str | None:
    """The former note on blank answers, from the rows read one by one."""
    from cvb.run.summary import empty_answers_note

    counts = {}
    for k, rows in stored.items():
        answered = [text for text, _judge, error in rows.values() if error is None]
        counts[k] = (len(answered), sum(1 for text in answered if not (text or "").strip()))
    return empty_answers_note(counts)


def _old_stored_mcnemar(stored, ref_key):
    """The report's former per-row computation (McNemar from stored verdicts)."""
    out = {}
    ref = stored[ref_key]
    for k, rows in stored.items():
        if k == ref_key:
            continue
        common = sorted(set(ref) & set(rows))
        a = [ref[s][1] if ref[s][2] is None else 0.0 for s in common]
        b = [rows[s][1] if rows[s][2] is None else 0.0 for s in common]
        if common and all(x in (0, 1) for x in a + b):
            out[k] = stats.mcnemar(a, b)
    return out


def test_stored_verdicts_tests_and_empty_warnings_match_the_per_answer_computation(tmp_path):
    rng = random.Random(3)
    blanks = ["", " ", "\u3000", "\t\n", "\xa0", None]
    cells = {}
    for c, key in enumerate([("none", "-"), ("jpeg", "1"), ("jpeg", "5"), ("webp", "1"), ("webp", "9"), ("avif", "2")]):
        ids = [f"s{i:03d}" for i in range(60)]
        if key == ("webp", "1"):
            ids = ids[5:] + ["extra"]  # another sample set: paired on the shared samples
        rows = []
        for sid in ids:
            error = "timeout" if rng.random() < 0.05 else None
            text = rng.choice(blanks) if (c == 2 or rng.random() < 0.1) else "yes"
            judge = float(rng.random() < 0.6)
            if key == ("avif", "2") and sid == "s007":
                judge = 0.5  # a graded verdict: no McNemar for this cell
            rows.append((sid, text, judge, error))
        cells[key] = rows
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        _store_answers(store, cells)
        stored = {k: _old_sample_verdicts(store, "gone", "vlm", *k) for k in cells}
        group = [{"task": "gone", "vlm": "vlm", "codec": k[0], "level": k[1], "score": 1.0, "n": 60} for k in cells]
        loader = uncertainty.TaskLoader(store, registry=None)
        got = uncertainty.section_stats(store, loader, "gone", "vlm", group, uncertainty.Options(resamples=100))
    want = _old_stored_mcnemar(stored, ("none", "-"))
    assert set(want) == {("jpeg", "1"), ("jpeg", "5"), ("webp", "1"), ("webp", "9")}  # not avif 2 (a 0.5)
    assert {k: v for k, v in got.cells.items()} == {k: {**v, "significant": v["p"] < 0.05} for k, v in want.items()}
    assert got.reason.startswith("no run in the store records")
    assert got.warnings == [_old_empty_answers_warning(stored)] and "jpeg 5" in got.warnings[0]


# ---- a task's count hook in the report: used when right, set aside when wrong ----------------

class CountingTask:
    """Share of "yes" answers in percent (no accuracy), scored through a ``Tally``."""

    name = "counting"
    version = "1"

    def __init__(self, hook: str = "right"):
        self.hook = hook
        self.calls = 0

    def samples(self, limit=None):
        return [Sample(id=f"q{i}", image=ImageSource(key=f"im{i // 3}", path="x"), question="?",
                       kind=AnswerKind.YESNO, answer="yes") for i in range(45)][:limit]

    def judge(self, sample, prediction):
        return None

    def score(self, samples, predictions, reference=None):
        self.calls += 1
        yes = sum(predictions.get(s.id) == "yes" for s in samples)
        return TaskScore(value=100.0 * yes / len(samples) if samples else 0.0, metric="yes share")

    def scorer(self):
        from cvb.scoring.tally import Tally

        def record(sample, prediction, reference):
            if self.hook == "raises":
                raise KeyError("oops")
            return prediction == "yes"

        scale = 100.0 if self.hook == "right" else 1.0  # "wrong": disagrees with score()

        def finish(counts):
            n = sum(counts.values())
            return TaskScore(value=scale * counts[True] / n if n else 0.0, metric="yes share")

        return Tally(record, finish)


class _Loader:
    def __init__(self, task):
        self.task = task

    def get(self, label, n):
        return self.task, list(self.task.samples(n))


@pytest.mark.parametrize("hook", ["right", "wrong", "raises"])
def test_a_count_hook_gives_the_intervals_of_rescoring_every_resample(tmp_path, hook):
    rng = random.Random(1)
    keys = [("none", "-"), ("jpeg", "1"), ("jpeg", "9")]
    task = CountingTask(hook)
    answers = {k: {s.id: rng.choice(["yes", "no"]) for s in task.samples()} for k in keys}
    with Store(tmp_path / "c.sqlite") as store:
        _store_answers(store, {k: [(sid, t, None, None) for sid, t in a.items()] for k, a in answers.items()})
        group = [{"task": "gone", "vlm": "vlm", "codec": k[0], "level": k[1], "n": 45,
                  "score": task.score(list(task.samples()), answers[k]).value} for k in keys]
        task.calls = 0
        got = uncertainty.section_stats(store, _Loader(task), "gone", "vlm", group, uncertainty.Options(resamples=200))
    calls = task.calls
    # the straightforward way: the task's score on each resample of whole images
    samples = list(task.samples())
    groups = {}
    for i, s in enumerate(samples):
        groups.setdefault(s.image.key, []).append(i)
    draws = stats.cluster_resamples(list(groups.values()), 200, stats.DEFAULT_SEED)
    reps = {k: np.array([task.score([samples[i] for i in idx], answers[k]).value for idx in draws]) for k in keys}
    for k in keys:
        np.testing.assert_allclose(got.replicates[k], reps[k], rtol=1e-12)
        assert got.cells[k]["ci"] == pytest.approx(list(stats.percentile_interval(reps[k])), rel=1e-12)
        if k != keys[0]:
            assert got.cells[k]["p"] == stats.bootstrap_p(reps[k] - reps[keys[0]])
    few, warnings = got.warnings[0], got.warnings[1:]
    assert few.startswith("only 15 images: with few clusters")  # said for a small task, first
    if hook == "right":
        assert calls < 3 + 3 + 1 and not warnings  # the full sets and one cell's checks, not 600 calls
    else:
        assert calls > 600 and "every resample rescored with its score instead" in warnings[0]


# ---- end to end: a fresh `cvb report` against the straightforward bootstrap ------------------

def _answer(req, seen):
    text = req["messages"][0]["content"][-1]["text"]
    image = next(c["image_url"]["url"] for c in req["messages"][0]["content"] if c.get("type") == "image_url")
    h = int(hashlib.sha256((image + text).encode()).hexdigest(), 16)
    return 200, {}, reply("yes" if h % 3 else "no")


@pytest.mark.parametrize("protocol", ["cvb", "lmms-eval", "vlmevalkit"])
@pytest.mark.slow
def test_cvb_report_pope_f1_intervals_equal_rescoring_every_resample(tmp_path, protocol):
    data = pope_data(tmp_path / "POPE", images=20, questions=3)
    env = {**os.environ, "CVB_TEST_KEY": KEY, "CVB_REPORT_CACHE": str(tmp_path / "stats.sqlite")}
    env.pop("CVB_LOAD_PLUGINS", None)
    store = tmp_path / "p.sqlite"
    with FakeServer(_answer) as server:
        res = subprocess.run([CVB, "run", "-c", "jpeg", "-l", "1,50,90", "--vlm", "openai:tiny-vl",
                              "-t", f"pope:{data}",
                              "-o", f"task.protocol={protocol}", "-o", f"vlm.base_url={server.url}",
                              "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none", "--store", str(store),
                              "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    report = [CVB, "report", "--store", str(store), "--json", "--resamples", "300", "--seed", "11"]
    res = subprocess.run(report, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    (sec,) = json.loads(res.stdout)["sections"]
    assert "resampling" in res.stderr and "(1/1)" in res.stderr and "reused" not in res.stderr

    # the straightforward computation: rebuild the task, rescore each resample with its score
    task = make_task("pope", str(data), protocol=protocol)
    samples = list(task.samples())
    exported = subprocess.run([CVB, "export", "--store", str(store), "--what", "predictions"],
                              capture_output=True, text=True, env=env).stdout
    answers = {}
    for p in csv.DictReader(io.StringIO(exported)):
        answers.setdefault((p["codec"], p["level"]), {})[p["sample_id"]] = p["text"]
    groups = {}
    for i, s in enumerate(samples):
        groups.setdefault(s.image.key, []).append(i)
    draws = stats.cluster_resamples(list(groups.values()), 300, 11)
    reps = {k: np.array([task.score([samples[i] for i in idx], a).value for idx in draws]) for k, a in answers.items()}
    ref = reps[("none", "-")]
    for c in sec["cells"]:
        r = reps[(c["codec"], c["level"])]
        assert c["ci_method"] == "cluster bootstrap"
        assert c["ci"] == pytest.approx(list(stats.percentile_interval(r)), abs=1e-12)
        if c["codec"] != "none":
            assert c["delta_ci"] == pytest.approx(list(stats.percentile_interval(r - ref)), abs=1e-12)
            assert c["p"] == stats.bootstrap_p(r - ref)

    # the same report again: the statistics come from the cache, the numbers are the same
    again = subprocess.run(report, capture_output=True, text=True, env=env)
    assert "resampling" not in again.stderr and "reused from" in again.stderr
    assert json.loads(again.stdout)["sections"] == [sec]
    other = subprocess.run([*report[:-1], "12"], capture_output=True, text=True, env=env)  # another seed
    assert "resampling" in other.stderr and json.loads(other.stdout)["sections"] != [sec]
    # the task's data gone: no cached intervals, the reason, as without the cache
    import shutil

    shutil.rmtree(data)
    (gone,) = json.loads(subprocess.run(report, capture_output=True, text=True, env=env).stdout)["sections"]
    assert "cannot" in gone["uncertainty"]["reason"] and all(c["ci"] is None for c in gone["cells"])


def test_cached_statistics_are_keyed_on_the_store_state_and_never_kept_during_a_run(tmp_path, monkeypatch):
    from cvb.report.stats_cache import StatsCache

    monkeypatch.setenv("CVB_REPORT_CACHE", str(tmp_path / "cache.sqlite"))
    opts = uncertainty.Options(resamples=10)
    st = uncertainty.SectionStats(cells={("jpeg", "1"): {"ci": [1.0, 2.0], "p": math.nan}},
                                  replicates={("none", "-"): np.arange(10.0), ("jpeg", "1"): np.ones(10)},
                                  reason=None, resamples=10, warnings=["w"])
    with Store(tmp_path / "s.sqlite") as store:
        _store_answers(store, {("none", "-"): [("a", "yes", 1.0, None)]})  # its run never finished
        assert not StatsCache(store, opts).enabled  # answers may still be changing
        store.finish_run(1, "ok")
        cache = StatsCache(store, opts)
        key = cache.key("t", "vlm", "t", "no run records it")
        cache.put(key, st)
        got = StatsCache(store, opts).get(key)
        assert got.cells == {("jpeg", "1"): {"ci": [1.0, 2.0], "p": pytest.approx(math.nan, nan_ok=True)}}
        assert all((got.replicates[k] == st.replicates[k]).all() for k in st.replicates)
        assert (got.reason, got.resamples, got.warnings) == (None, 10, ["w"])
        other = StatsCache(store, uncertainty.Options(resamples=10, seed=1))
        assert other.key("t", "vlm", "t", "no run records it") != key
        _store_answers(store, {("jpeg", "1"): [("a", "no", 0.0, None)]})  # a new answer, another run
        store.finish_run(2, "ok")
        assert StatsCache(store, opts).key("t", "vlm", "t", "no run records it") != key
    monkeypatch.setenv("CVB_REPORT_CACHE", "off")
    with Store(tmp_path / "s.sqlite") as store:
        assert not StatsCache(store, opts).enabled
