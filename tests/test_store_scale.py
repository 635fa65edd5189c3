"""The store at study scale: what must not read every answer does not (checked on the query
plans, not by timing; benchmarks/bench_store.py prints the times on tens of millions of rows)."""

from __future__ import annotations

import sqlite3

from cvb.run.store import Store
from cvb.run.store_rows import PredictionRow


def _row(vlm, version, sample, codec="none"):
    return PredictionRow("pope", "1", sample, vlm, version, codec, "-", "k", "p", "yes", None, 1.0, None, 0.1)


def test_component_versions_are_every_distinct_version_by_index_lookups(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    run = store.begin_run({"cvb_version": "t", "argv": [], "options": {}, "plugins": [], "prompts": {}})
    store.save_predictions([_row("b", "v2", "s1"), _row("b", "v1", "s2"), _row("a", None, "s1"),
                            _row("a", "v9", "s2"), _row("b", "v2", "s3", "jpeg"), _row("c", None, "s1")], run)
    assert store.component_versions()["vlms"] == {"a": [None, "v9"], "b": ["v1", "v2"], "c": [None]}
    plan = " ".join(str(r) for r in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT MIN(vlm_version) FROM predictions WHERE vlm=? AND vlm_version>?", ("a", "")))
    assert "predictions_by_vlm_version" in plan and "SCAN" not in plan.replace("SCAN CONSTANT", "")
    store.close()


def test_a_store_made_before_the_index_gets_it_when_opened_for_writing(tmp_path):
    path = tmp_path / "old.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX predictions_by_vlm_version")  # as a store made by an earlier cvb
    conn.commit()
    conn.close()
    with Store(path, create=False) as store:  # read-only users (export, report) change nothing
        assert store.component_versions()["vlms"] == {}
    assert "predictions_by_vlm_version" not in _indexes(path)
    Store(path).close()  # `cvb run` opens it for writing
    assert "predictions_by_vlm_version" in _indexes(path)


def _indexes(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()
