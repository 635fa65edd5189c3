"""The SQLite results store: schema, identity constraints, refusal of foreign or newer files,
clear errors when it cannot be written, and the reader API ``cvb report`` relies on."""

from __future__ import annotations

import json
import sqlite3

import pytest

from cvb.errors import CvbError
from cvb.run.store import SCHEMA_VERSION, Store, StoreError
from cvb.run.store_rows import CompressedRow, MetricRow, PredictionRow, StoredAnswer

PROVENANCE = {"cvb_version": "0", "argv": ["cvb", "run"], "options": {}, "plugins": [], "prompts": {}}


def pred(sample: str, text: str = "yes", error: str | None = None, key: str = "k1", version: str = "1"):
    """A predictions row for task t / vlm v / codec fake level 1."""
    return PredictionRow(task="t", task_version=version, sample_id=sample, vlm="v", vlm_version="1", codec="fake",
                         level="1", key=key, prompt_sha="p1", text=text, parsed=None, judge=None if error else 1.0,
                         error=error, latency_s=0.01)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "r.sqlite") as s:
        yield s


def test_new_store_has_meta_wal_and_every_table(tmp_path):
    path = tmp_path / "sub" / "r.sqlite"  # the folder is created too
    Store(path).close()
    conn = sqlite3.connect(path)
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["application"] == "cvb-results"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "runs", "images", "compressed", "metrics", "predictions", "cells"} <= tables


def test_reopening_keeps_rows(tmp_path):
    with Store(tmp_path / "r.sqlite") as s:
        run = s.begin_run(PROVENANCE)
        s.save_predictions([pred("a")], run)
    with Store(tmp_path / "r.sqlite") as s:
        assert list(s.predictions("t", "v", "fake", "1")) == ["a"]


def test_newer_schema_is_refused_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(StoreError, match="schema version 99, newer"):
        Store(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("content", [b"not a database at all" * 100, None])
def test_a_file_that_is_not_a_cvb_store_is_refused(tmp_path, content):
    path = tmp_path / "other.sqlite"
    if content is None:  # an SQLite file of some other program
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a cvb results store"):
        Store(path)
    assert path.read_bytes() == before


def test_missing_store_is_an_error_when_not_creating(tmp_path):
    with pytest.raises(CvbError, match="no results store"):
        Store(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_a_prediction_is_stored_once_and_an_error_is_replaced_by_a_success(store):
    run = store.begin_run(PROVENANCE)
    store.save_predictions([pred("a", error="boom"), pred("b")], run)
    store.save_predictions([pred("a", "no"), pred("b", "changed")], run)  # rerun of the same cell
    store.save_predictions([pred("b", error="late failure")], run)  # a success is never replaced
    rows = store.predictions("t", "v", "fake", "1", with_text=True)
    assert rows["a"].error is None and rows["a"].text == "no"
    assert rows["b"].error is None and rows["b"].text == "yes"
    assert store.conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 2


def test_a_prediction_for_other_inputs_is_replaced_in_place(store):
    run = store.begin_run(PROVENANCE)
    store.save_predictions([pred("a", "yes", key="k1")], run)
    store.save_predictions([pred("a", "no", key="k2")], run)  # new codec version -> new image key
    store.save_predictions([pred("a", "maybe", key="k2", version="2")], run)  # new task version
    rows = store.predictions("t", "v", "fake", "1", with_text=True)
    assert rows == {"a": StoredAnswer("a", "k2", "2", "p1", None, "maybe", "1")}


def test_compressed_success_is_kept_and_failure_retried(store):
    run = store.begin_run(PROVENANCE)
    ok = CompressedRow("k1", "h1", "fake", "1", "1", "{}", 100, 0.5, 40, 40, 0.01, 0.01, None)
    bad = ok._replace(key="k2", level="2", num_bytes=None, bpp=None, encode_s=None, decode_s=None,
                      error="codec crashed")
    store.save_compression_results([ok, bad], [MetricRow("k1", "mse", 3.0, None)], [], run)
    retried = bad._replace(num_bytes=200, bpp=1.0, encode_s=0.01, decode_s=0.01, error=None)
    changed = ok._replace(num_bytes=999, bpp=9.9)
    store.save_compression_results([retried, changed], [MetricRow("k1", "mse", 7.0, None)], [], run)
    assert store.compressed(["k1", "k2", "k3"]) == {"k1": None, "k2": None}
    assert store.mean_bpp(["k1", "k2"]) == pytest.approx(0.75)  # (0.5 + 1.0) / 2: k1 unchanged
    assert store.mean_metrics(["k1"], ["mse"]) == {"mse": 3.0}


def test_cells_have_exactly_the_keys_report_reads_in_rate_order(store):
    run = store.begin_run(PROVENANCE)
    base = {"task": "t", "vlm": "v", "task_version": "1", "n": 10, "n_failed": 0, "score": 50.0,
            "score_metric": "acc", "higher_is_better": True, "details": {"acc": 50.0},
            "metrics": {"psnr": 30.0}, "codec_kind": "traditional"}
    for codec, level, rank in (("jpeg", "10", 10.0), ("jpeg", "2", 2.0), ("none", "-", None)):
        store.save_cell({**base, "codec": codec, "level": level, "rate_rank": rank,
                         "bpp": 24.0 if codec == "none" else rank / 10}, "fp", run)
    cells = store.cells()
    assert [(c["codec"], c["level"]) for c in cells] == [("none", "-"), ("jpeg", "2"), ("jpeg", "10")]
    assert set(cells[0]) == {"task", "protocol", "judge", "vlm", "codec", "level", "rate_rank", "bpp", "metrics",
                             "score", "score_metric", "higher_is_better", "details", "n", "n_failed", "error"}
    assert cells[1]["metrics"] == {"psnr": 30.0} and cells[1]["details"] == {"acc": 50.0}
    assert cells[1]["higher_is_better"] is True and cells[1]["bpp"] == pytest.approx(0.2)
    assert store.cells(task="other") == [] and len(store.cells(task="t", vlm="v")) == 3


def test_cells_without_bpp_keep_their_rate_order_in_a_curve(store):
    from cvb.analysis.curves import codec_curves

    run = store.begin_run(PROVENANCE)
    for level, rank in (("2", 2.0), ("10", 10.0)):  # every image failed: no bpp, no score
        store.save_cell({"task": "t", "vlm": "v", "codec": "jpeg", "level": level, "rate_rank": rank,
                         "task_version": "1", "n": 4, "n_failed": 4, "bpp": None, "score": None},
                        "fp", run)
    assert codec_curves(store.cells())["jpeg"].levels == ["2", "10"]  # not "10" < "2" as text


def test_failures_lists_every_stage(store):
    run = store.begin_run(PROVENANCE)
    store.add_images("t", [("bad.png", None, None, "cannot read"), ("ok.png", "h1", 10, None)])
    store.save_compression_results(
        [("k1", "h1", "fake", "1", "1", "{}", 9, 0.1, 4, 4, 0.0, 0.0, None),
         ("k2", "h1", "fake", "1", "2", "{}", None, None, 4, 4, None, None, "codec crashed")],
        [("k1", "mse", None, "metric crashed"), ("k1", "psnr", 30.0, None)], [], run)
    store.save_predictions([pred("a", error="model crashed"), pred("b")], run)
    failures = store.failures()
    stages = {f["stage"]: f for f in failures}
    assert len(failures) == 4 and set(stages) == {"image", "compress", "metric", "predict"}
    assert stages["metric"]["item"] == "mse k1" and stages["metric"]["level"] == "1"
    assert stages["image"]["item"] == "bad.png"
    assert stages["compress"]["error"] == "codec crashed" and stages["compress"]["level"] == "2"
    assert stages["predict"]["item"] == "a" and stages["predict"]["vlm"] == "v"


def test_disk_full_is_a_clear_error_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "r.sqlite"
    with Store(path) as s:
        run = s.begin_run(PROVENANCE)
        s.save_predictions([pred(f"s{i}") for i in range(50)], run)
    with Store(path) as s:
        pages = s.conn.execute("PRAGMA page_count").fetchone()[0]
        s.conn.execute(f"PRAGMA max_page_count={pages}")  # what a full disk looks like to SQLite
        big = [pred(f"x{i}", text="y" * 5000) for i in range(200)]
        with pytest.raises(StoreError, match="disk full"):
            s.save_predictions(big, run)
    with Store(path) as s:
        assert len(s.predictions("t", "v", "fake", "1")) == 50
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_read_only_store_is_a_clear_error(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path).close()
    with Store(path) as s:
        s.conn.execute("PRAGMA query_only=1")  # root ignores file modes; SQLite's own read-only
        with pytest.raises(StoreError, match="read-only"):
            s.begin_run(PROVENANCE)


def test_export_rows_decode_json_columns(store):
    run = store.begin_run({**PROVENANCE, "options": {"codecs": {"fake": {"levels": ["1"]}}}})
    store.finish_run(run, "ok", {"work": {"predictions": 0}})
    rows = list(store.export_rows("runs"))
    assert rows[0]["options"] == {"codecs": {"fake": {"levels": ["1"]}}}
    assert rows[0]["status"] == "ok" and rows[0]["summary"] == {"work": {"predictions": 0}}
    with pytest.raises(StoreError, match="cannot export"):
        list(store.export_rows("secrets"))
    assert json.loads(json.dumps(rows[0]["argv"])) == ["cvb", "run"]


def test_answer_counts_count_blank_answers_as_python_strips_them(store):
    """``cvb run``'s empty-answer warning counts in SQL; blank means what ``str.strip`` leaves
    nothing of (a no-break or ideographic space too), and failed samples are no answers."""
    from cvb.run.summary import empty_answers_note

    run = store.begin_run(PROVENANCE)
    texts = {"a": "", "b": " \n", "c": "\u00a0\u3000", "d": "yes", "e": " no "}
    store.save_predictions([pred(k, t) for k, t in texts.items()] + [pred("f", "", error="boom")], run)
    answered = [t for t in texts.values()]
    assert store.answer_counts("t", "v", "fake", "1") == (len(answered), sum(not t.strip() for t in answered))
    assert store.answer_counts("t", "v", "fake", "9") == (0, 0)
    note = empty_answers_note({("fake", "1"): store.answer_counts("t", "v", "fake", "1"), ("none", "-"): (4, 2)})
    assert note.startswith("most answers are empty in 1 cell(s) (fake 1: 3/5)")


def test_a_run_whose_process_is_gone_is_marked_killed_on_the_next_writable_open(tmp_path):
    """Gone: a pid that no longer exists, or a live pid now naming another process (reused).
    Controls: a live process that is the run's own, a run of another host, a run recorded
    before cvb kept pids, and a read-only open (it changes nothing)."""
    import subprocess
    import sys

    from cvb.run import run_process

    path = tmp_path / "r.sqlite"
    with Store(path) as s:
        prov = {"cvb_version": "0"}
        ids = {name: s.begin_run(prov) for name in ("dead", "reused", "alive", "elsewhere", "old", "done")}
        s.finish_run(ids["done"], "ok")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid exists no longer
    pid, host, start = run_process.this_process()
    assert start is None or start.count(":") == 1
    rows = {"dead": (child.pid, host, None), "reused": (pid, host, "another-boot:1"),
            "alive": (pid, host, start), "elsewhere": (child.pid, host + "-other", None), "old": (None, None, None)}
    with sqlite3.connect(path) as db:
        for name, (p, h, st) in rows.items():
            db.execute("UPDATE runs SET pid=?, host=?, pid_start=? WHERE id=?", (p, h, st, ids[name]))
    statuses = lambda: dict(sqlite3.connect(path).execute("SELECT id, status FROM runs").fetchall())
    Store(path, create=False).close()  # reading a store (`cvb report`) marks nothing
    assert set(statuses().values()) == {"running", "ok"}
    Store(path).close()
    got = statuses()
    expect_reused = "killed" if start is not None else "running"  # no /proc: a live pid is taken as the run
    assert {name: got[i] for name, i in ids.items()} == {
        "dead": "killed", "reused": expect_reused, "alive": "running", "elsewhere": "running", "old": "running",
        "done": "ok"}
