"""A first `cvb report` of a study-size store: the fast paths against the ones they replace
(checked on random data and query plans, never by timing; benchmarks/bench_store.py and
bench_report_stats.py print the times).

* the stored answers' summaries from the report's covering and partial indexes == the
  row-by-row query a store without them gets; an older store gets them from `cvb run`;
* the POPE rules' vectorised ``values`` == their ``finish`` to the last bit;
* terminal tables laid out as text: every line fits the terminal, the numbers are the report's.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cvb.run import store as store_mod
from cvb.run.store import Store, report_indexes
from cvb.types import AnswerKind, ImageSource, Sample

CVB = str(Path(sys.executable).with_name("cvb"))


def test_the_whitespace_set_is_every_character_str_strip_removes():
    assert store_mod._whitespace() == "".join(ch for ch in map(chr, range(0x110000)) if ch.isspace())


def _random_store(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    texts = ["yes", "no", "", " ", "\u3000", "\t\n", "\xa0", "\u2028x", " no ", None, "it's 'quoted'",
             'a "json" [1, 2] {"k": null}', "back\\slash\x1f\x00nul\x7f", "\U0001f600 caf\u00e9", "null", "1.50"]
    with Store(path) as store:
        run = store.begin_run({"cvb_version": "t", "argv": [], "options": {}, "plugins": [], "prompts": {}})
        for task in ("pope", "gqa"):
            for vlm in ("a", "b:c[x=1]"):
                for key in [("none", "-"), ("jpeg", "1"), ("jpeg", "10"), ("webp", "3")]:
                    ids = rng.sample([f"s{i:03d}" for i in range(80)], rng.randint(0, 60))
                    store.save_predictions([(task, "1", sid, vlm, "v", *key, "k", "p", rng.choice(texts), None,
                                             rng.choice([0.0, 1.0, 1.0, None, 0.5]),
                                             "timeout" if rng.random() < 0.08 else None, 0.0) for sid in ids], run)


def _drop_report_indexes(path: Path) -> None:
    conn = sqlite3.connect(path)
    for name in report_indexes():
        conn.execute(f"DROP INDEX {name}")
    conn.commit()
    conn.close()


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_answer_summaries_from_the_indexes_equal_the_row_by_row_query(tmp_path, seed):
    path = tmp_path / "s.sqlite"
    _random_store(path, seed)
    assert set(report_indexes()) <= _indexes(path)  # a new store has them
    with Store(path, create=False) as store:
        fast = {(t, v): store.answer_summaries(t, v) for t in ("pope", "gqa") for v in ("a", "b:c[x=1]")}
        plans = [" ".join(str(r) for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql, params)) for sql, params in (
            ("SELECT codec, level, group_concat(sample_id), group_concat(judge), SUM(error IS NULL) FROM predictions"
             " WHERE task=? AND vlm=? GROUP BY codec, level", ("pope", "a")),
            (f"SELECT codec, level, COUNT(*) FROM predictions WHERE task=? AND vlm=? AND error IS NULL AND "
             f"{store_mod._blank_literal()} GROUP BY codec, level", ("pope", "a")))]
    assert "COVERING INDEX predictions_verdicts" in plans[0]
    assert "predictions_blank" in plans[1]
    copy = tmp_path / "old.sqlite"
    shutil.copy(path, copy)
    _drop_report_indexes(copy)
    with Store(copy, create=False) as store:
        slow = {(t, v): store.answer_summaries(t, v) for t in ("pope", "gqa") for v in ("a", "b:c[x=1]")}
    assert fast == slow
    # and both are what the answers say, row by row in Python; so are the answer texts
    with Store(path, create=False) as store:
        for t in ("pope", "gqa"):
            for v in ("a", "b:c[x=1]"):
                rows: dict = {}
                for codec, level, sid, text in store.conn.execute(
                        "SELECT codec, level, sample_id, text FROM predictions"
                        " WHERE task=? AND vlm=? AND error IS NULL",
                        (t, v)):
                    rows.setdefault((codec, level), {})[sid] = text
                assert store.answer_texts(t, v) == rows
    with Store(path, create=False) as store:
        for (t, v), cells in fast.items():
            for (codec, level), (answered, empty, ids, verdicts) in cells.items():
                rows = sorted(store.conn.execute("SELECT sample_id, text, judge, error FROM predictions WHERE task=?"
                                                 " AND vlm=? AND codec=? AND level=?", (t, v, codec, level)))
                assert ids.split(store_mod.ID_SEP) == [r[0] for r in rows]
                assert answered == sum(r[3] is None for r in rows)
                assert empty == sum(r[3] is None and not (r[1] or "").strip() for r in rows)
                assert verdicts == "".join("0" if r[3] is not None or r[2] == 0 else "1" if r[2] == 1 else "x"
                                           for r in rows)


def test_an_older_store_gets_the_report_indexes_when_cvb_run_opens_it(tmp_path):
    path = tmp_path / "old.sqlite"
    _random_store(path, 4)
    _drop_report_indexes(path)  # as a store made by an earlier cvb
    with Store(path, create=False) as store:  # read-only users (export, report) change nothing
        before = store.answer_summaries("pope", "a")
    assert not set(report_indexes()) & _indexes(path)
    Store(path).close()  # `cvb run` opens it for writing
    assert set(report_indexes()) <= _indexes(path)
    with Store(path, create=False) as store:
        assert store.answer_summaries("pope", "a") == before


def test_building_the_indexes_of_an_older_store_is_announced_once(tmp_path):
    """A first `cvb run` on a big older store pauses while the indexes build: it says so first."""
    path = tmp_path / "old.sqlite"
    _random_store(path, 5)
    _drop_report_indexes(path)
    heard: list[str] = []
    Store(path, notice=heard.append).close()
    assert len(heard) == 1 and all(name in heard[0] for name in report_indexes())
    Store(path, notice=heard.append).close()  # built: nothing more to say
    Store(tmp_path / "new.sqlite", notice=heard.append).close()  # a new store is made with them
    assert len(heard) == 1


# ---- the POPE rules' counts of many resamples at once ---------------------------------------

def _pope_samples(n: int) -> list[Sample]:
    rng = random.Random(n)
    return [Sample(id=f"q{i}", image=ImageSource(key=f"im{i // 3}", path="x"), question="Is there a cat?",
                   kind=AnswerKind.YESNO, answer=rng.choice(["yes", "no"]),
                   category=rng.choice(["adversarial", "popular", "random"]), meta={"pair": f"im{i // 3}"})
            for i in range(n)]


def _mme_samples(n: int) -> list[Sample]:
    from cvb_tasks.rules import MME_GROUPS

    cats = [c for g in MME_GROUPS.values() for c in g]
    rng = random.Random(n)
    return [Sample(id=f"q{i}", image=ImageSource(key=f"{cats[i // 2 % len(cats)]}/{i // 2}.png", path="x"),
                   question="Is it red?", kind=AnswerKind.YESNO, answer=rng.choice(["yes", "no"]),
                   category=cats[i // 2 % len(cats)], meta={"pair": f"{cats[i // 2 % len(cats)]}/{i // 2}.png"})
            for i in range(n)]


@pytest.mark.parametrize("rule", ["pope cvb", "pope lmms-eval", "pope vlmevalkit", "mme cvb"])
def test_values_equal_finish_to_the_last_bit(rule, tmp_path):
    from cvb_tasks.pope import pope_scorer
    from cvb_tasks.protocols import lmms_eval, vlmevalkit

    sys.path.insert(0, str(Path(__file__).parent))
    from test_tasks_common import make_task

    tally = {"pope cvb": pope_scorer, "pope lmms-eval": lambda: lmms_eval.Pope().scorer(),
             "pope vlmevalkit": lambda: vlmevalkit.Pope().scorer(),
             "mme cvb": lambda: make_task("mme", str(tmp_path)).scorer()}[rule]()
    assert tally.values is not None
    rng = np.random.default_rng(7)
    answers = ["Yes", "no", "No, it is not.", "maybe", "", " yes ", None, "yes."]
    samples = _mme_samples(400) if rule.startswith("mme") else _pope_samples(300)
    records = list(dict.fromkeys(tally.record(s, answers[rng.integers(len(answers))], None) for s in samples))
    counts = rng.integers(0, 6, size=(400, len(records))).astype(float)
    counts[2:100] *= rng.random((98, len(records))) < 0.3  # many records, images, categories absent
    counts[0] = 0
    counts[0, 0] = 3  # one record only: precision or recall undefined
    counts[1, :] = 0
    counts[1, -1] = 1
    got = tally.values(records, counts)
    for row, value in zip(counts, got):
        tally.counts = Counter({r: int(k) for r, k in zip(records, row) if k})
        assert value == tally.result().value  # exactly, not approximately


def test_vlmevalkit_pope_with_a_judge_has_no_values_and_no_image_in_its_record():
    from cvb_tasks.protocols import vlmevalkit

    (s,) = _pope_samples(1)
    assert vlmevalkit.Pope().scorer().record(s, "yes")[1] == ""  # one record per answer kind, not per image
    assert vlmevalkit.Mme().scorer().record(s, "yes")[1] == "im0"  # MME's acc+ reads the image pair
    assert vlmevalkit.Pope(judge="scripted").scorer().values is None


# ---- terminal tables ------------------------------------------------------------------------

def test_text_tables_fit_the_width_and_keep_every_entry():
    from cvb.report.tables import Reason, Table
    from cvb.report.text_table import plain_lines

    reason = Reason("no overlap in bpp: [0.19, 0.3] vs [2, 3], and a long explanation after it")
    t = Table("a title that is long enough to wrap at forty columns", ["codec", "level", "bpp", "BD-rate"],
              [["jpeg", "1", "0.100", "+1.00"], ["webp", "2", "12.500", reason]], "a note")
    wide = plain_lines(t, 200)
    assert wide[0] == t.title and wide[-1] == "a note"
    assert wide[2].split() == t.header and set(wide[3].strip()) == {"\u2500"}
    row = wide[4]
    assert row.split() == ["jpeg", "1", "0.100", "+1.00"]
    assert wide[2].index("bpp") + len("bpp") == row.index("0.100") + len("0.100")  # numbers right-aligned
    narrow = plain_lines(t, 40)
    assert all(len(line) <= 40 for line in narrow)
    assert " ".join(" ".join(narrow).split()).count("no overlap in bpp") == 1  # wrapped, never cut
    assert "explanation after it" in " ".join(" ".join(narrow).split())


def test_cvb_report_terminal_tables_through_the_cli(tmp_path):
    """A fresh `cvb report` on a store: every line fits COLUMNS, every score is printed as the
    report's JSON has it, and a store without the report's indexes prints the same."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report import make_cells, write_store

    path = write_store(tmp_path / "r.sqlite", make_cells(adapted=True))
    env = {**os.environ, "COLUMNS": "90", "CVB_REPORT_CACHE": "off"}
    out = subprocess.run([CVB, "report", "--store", str(path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(subprocess.run([CVB, "report", "--store", str(path), "--json"], capture_output=True,
                                     text=True, env=env).stdout)
    lines = out.stdout.splitlines()
    assert all(len(line) <= 90 for line in lines)
    for s in data["sections"]:
        for c in s["cells"]:
            if c["score"] is not None:
                want = f"{c['score']:.2f}"
                row = rf"^ {re.escape(c['codec'])}\s+{re.escape(c['level'])}\s.*\s{re.escape(want)}(\s|$)"
                assert any(re.search(row, line) for line in lines), (c["codec"], c["level"], want)
    _drop_report_indexes(path)
    again = subprocess.run([CVB, "report", "--store", str(path)], capture_output=True, text=True, env=env)
    def tables(text: str) -> str:  # the provenance below says when the report was made
        return text[:text.index("provenance: ")]

    assert tables(again.stdout) == tables(out.stdout)


# ---- plots ------------------------------------------------------------------------------------

def test_plots_drawn_by_several_processes_are_those_drawn_one_by_one(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report import make_cells

    from cvb.report.build import build_report
    from cvb.report.plots import write_plots

    report = build_report(make_cells(adapted=True), adapted={"qwen": "cve"})
    heard: list[str] = []
    one = write_plots(report, tmp_path / "one", workers=1)
    two = write_plots(report, tmp_path / "two", progress=heard.append, workers=2)
    assert [(k, [(f.png.name, f.caption) for f in v]) for k, v in one.items()] == \
           [(k, [(f.png.name, f.caption) for f in v]) for k, v in two.items()]
    n = sum(len(v) for v in two.values())
    assert n > 3 and heard[-1] == f"plotting: {n}/{n} figures drawn (2 processes)"
    for figs in two.values():
        for f in figs:
            assert all(p.stat().st_size > 0 for p in f.files)
            assert f.png.read_bytes() == (tmp_path / "one" / f.png.name).read_bytes()  # the same pixels


# ---- MME end to end: the report's replicates are the task's score on each resample ------------

class _Loader:
    def __init__(self, task):
        self.task = task

    def get(self, label, n):
        return self.task, list(self.task.samples(limit=n))


def test_mme_replicates_from_counts_are_the_task_score_of_every_resample(tmp_path):
    import datasets

    sys.path.insert(0, str(Path(__file__).parent))
    from test_tasks_common import image_cell, make_task, write_dataset

    from cvb.analysis import stats
    from cvb.report import uncertainty

    cats = ["OCR", "count", "color", "code_reasoning", "artwork"]
    rows = [(f"{cats[i % 5]}/{i:04d}.png", cats[i % 5], a) for i in range(40) for a in ("Yes", "No")]
    features = datasets.Features({"question_id": datasets.Value("string"), "image": datasets.Image(),
                                  "question": datasets.Value("string"), "answer": datasets.Value("string"),
                                  "category": datasets.Value("string")})
    images = sorted({r[0] for r in rows})
    data = write_dataset({"question_id": [r[0] for r in rows],
                          "image": [image_cell((3 * images.index(r[0]), 100, 100)) for r in rows],
                          "question": [f"Is {i} true? Please answer yes or no." for i in range(len(rows))],
                          "answer": [r[2] for r in rows], "category": [r[1] for r in rows]},
                         features, tmp_path / "MME", split="test", layout="disk")
    task = make_task("mme", str(data))
    samples = list(task.samples())
    rng = random.Random(5)
    keys = [("none", "-"), ("jpeg", "1"), ("jpeg", "5"), ("webp", "2")]
    answers = {k: {s.id: rng.choice(["Yes", "No", "yes.", "unsure"]) for s in samples if rng.random() > 0.05}
               for k in keys}
    with Store(tmp_path / "m.sqlite") as store:
        run = store.begin_run({"cvb_version": "t", "argv": [], "options": {}, "plugins": [], "prompts": {}})
        for k, a in answers.items():
            store.save_predictions([("mme", "1", sid, "vlm", "v", *k, "k", "p", t, None, None, None, 0.0)
                                    for sid, t in a.items()], run)
        group = [{"task": "mme", "vlm": "vlm", "codec": k[0], "level": k[1], "n": len(samples),
                  "score": task.score(samples, answers[k]).value} for k in keys]
        got = uncertainty.section_stats(store, _Loader(task), "mme", "vlm", group, uncertainty.Options(resamples=150))
    assert not got.warnings and got.reason is None
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        groups.setdefault(s.image.key, []).append(i)
    draws = stats.cluster_resamples(list(groups.values()), 150, stats.DEFAULT_SEED)
    for k in keys:
        want = np.array([task.score([samples[i] for i in idx], answers[k]).value for idx in draws])
        np.testing.assert_array_equal(got.replicates[k], want)


def test_the_statistics_cache_marks_what_it_read_once_at_close(tmp_path, monkeypatch):
    from cvb.report import uncertainty
    from cvb.report.stats_cache import StatsCache

    monkeypatch.setenv("CVB_REPORT_CACHE", str(tmp_path / "cache.sqlite"))
    opts = uncertainty.Options(resamples=10)
    st = uncertainty.SectionStats(cells={}, replicates={("none", "-"): np.arange(10.0)}, resamples=10)
    with Store(tmp_path / "s.sqlite") as store:
        cache = StatsCache(store, opts)
        keys = [cache.key("t", f"vlm{i}", "t", "no run records it") for i in range(3)]
        for k in keys:
            cache.put(k, st)
        cache.close()

        def used() -> dict:
            conn = sqlite3.connect(tmp_path / "cache.sqlite")
            try:
                return dict(conn.execute("SELECT key, used FROM section_stats"))
            finally:
                conn.close()

        before = used()
        reader = StatsCache(store, opts)
        assert all(reader.get(k) is not None for k in keys[:2])
        assert used() == before  # nothing written while reading
        reader.close()
        after = used()
        assert all(after[k] > before[k] for k in keys[:2]) and after[keys[2]] == before[keys[2]]
