"""Typed identities through the real command line: one model however its folder is written or
whatever its speed settings, answers never asked twice, and stores made before the store had a
``components`` table (cvb of 2026-12-07) read, reported and resumed as they were."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import adapt_helpers
from hang_guard import HANG_S

CVB = [sys.executable, "-m", "cvb"]
#: the schema of the results store as cvb wrote it before typed identities (its schema.sql)
OLD_SCHEMA = Path(__file__).with_name("store_schema_2026_12_07.sql")


def _cvb(*args, cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVB_CACHE_DIR": str(cwd / "cache")}
    out = subprocess.run([*CVB, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _run(cwd: Path, store: Path, *args) -> dict:
    return json.loads(_cvb("run", "-t", "sample", "--limit", "2", "-c", "none", "-m", "none", "--device", "cpu",
                           "--store", store, "--json", "-q", *args, cwd=cwd))


def _report(cwd: Path, store: Path) -> dict:
    """The report as JSON, without its provenance (the date it was made, the runs so far)."""
    report = json.loads(_cvb("report", "--store", store, "--format", "json", "--resamples", "0", "-q", cwd=cwd))
    report.pop("provenance")
    return report


def _make_old(store: Path, renames: dict[str, str] = {}) -> None:
    """Turn a store into one cvb of 2026-12-07 wrote: no ``components`` table, and each VLM
    labelled as it labelled it (``renames``: today's label -> that cvb's)."""
    old_tables = _tables_of_sql(OLD_SCHEMA.read_text())
    with sqlite3.connect(store) as db:
        for table in set(_tables(store)) - set(old_tables):  # components, and any table newer still
            db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM meta WHERE key='components'")
        for new, old in renames.items():
            for table in ("predictions", "cells"):
                db.execute(f"UPDATE {table} SET vlm=? WHERE vlm=?", (old, new))
    assert _tables(store) == old_tables


def _tables(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        return _columns(db)


def _tables_of_sql(sql: str) -> dict[str, list[str]]:
    db = sqlite3.connect(":memory:")
    db.executescript(sql)
    return _columns(db)


def _columns(db: sqlite3.Connection) -> dict[str, list[str]]:
    """table -> its columns, of every table of ``db``."""
    tables = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    return {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for (t,) in tables.fetchall()}


def _vlms(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        return {v for (v,) in db.execute("SELECT vlm FROM predictions UNION SELECT vlm FROM cells")}


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_vlm_dirs):
    """A folder holding a tiny Qwen2.5-VL checkpoint (``qwen``) and an adapter trained on it
    for one step (``adapter``)."""
    root = tmp_path_factory.mktemp("identity")
    model = tiny_vlm_dirs["qwen2_5_vl"]
    (root / "qwen").symlink_to(model, target_is_directory=True)
    data, cache = adapt_helpers.prepared(adapt_helpers.smooth_photos(root / "photos", per_side=2), root / "c")
    adapt_helpers.train(model, root / "adapter", data, cache, steps=1)
    return root


@pytest.mark.slow  # a tiny checkpoint and an adapter trained for one step
def test_one_model_shares_its_answers_however_written_and_whatever_its_speed_settings(models):
    root, store = models, models / "speed.sqlite"
    for name, first, again in (("hf", "qwen", "./qwen"), ("adapted", "adapter", f"{models}/adapter")):
        done = _run(root, store, "--vlm", f"{name}:{first}", "-o", "vlm.prefetch=on")
        assert done["work"]["predictions"] == 2
        label = f"{name}:{(root / first).resolve()}"
        assert [v["label"] for v in done["matrix"]["vlms"]] == [label]
        same = _run(root, store, "--vlm", f"{name}:{again}", "-o", "vlm.prefetch=off")
        assert same["work"]["predictions"] == 0 and same["work"]["models_loaded"] == [], same["work"]
        assert [v["label"] for v in same["matrix"]["vlms"]] == [label]
    assert _vlms(store) == {f"hf:{(root / 'qwen').resolve()}", f"adapted:{(root / 'adapter').resolve()}"}
    # the report finds the adapter however its folder is typed
    report = json.loads(_cvb("report", "--store", store, "--vlm", "adapted:./adapter", "--format", "json",
                             "--resamples", "0", "-q", cwd=root))
    assert {s["vlm"] for s in report["sections"]} == {f"adapted:{(root / 'adapter').resolve()}"}


@pytest.mark.slow  # a tiny checkpoint and an adapter trained for one step
def test_answers_an_older_cvb_filed_under_another_label_are_taken_over(models, tmp_path):
    """A store of 2026-12-07 named the model as typed (``hf:./qwen``) and an adapted VLM with
    its prefetch setting: a rerun files those answers under the model's identity and asks none."""
    store = tmp_path / "old.sqlite"
    hf, adapted = f"hf:{(models / 'qwen').resolve()}", f"adapted:{(models / 'adapter').resolve()}"
    first = _run(models, store, "--vlm", "hf:./qwen", "--vlm", "adapted:adapter", "-o", "vlm.prefetch=on")
    assert first["work"]["predictions"] == 4
    _make_old(store, {hf: "hf:./qwen", adapted: "adapted:adapter[prefetch=on]"})
    again = _run(models, store, "--vlm", "hf:qwen", "--vlm", "adapted:./adapter", "-o", "vlm.prefetch=on")
    assert again["work"]["predictions"] == 0 and again["work"]["models_loaded"] == [], again["work"]
    assert _vlms(store) == {hf, adapted}
    assert [c["score"] for c in again["cells"]] == [c["score"] for c in first["cells"]]


def test_an_old_store_opens_reports_identically_and_resumes_without_asking(tmp_path):
    store = tmp_path / "r.sqlite"
    args = ["--vlm", "reference", "-c", "jpeg", "-l", "10,50", "-m", "psnr", "--limit", "3"]
    first = json.loads(_cvb("run", "-t", "sample", "--store", store, "--json", "-q", *args, cwd=tmp_path))
    assert first["work"]["predictions"] == 9
    before = _report(tmp_path, store)
    _make_old(store)
    assert _report(tmp_path, store) == before  # read as it is: nothing is written by a report
    assert "components" not in _tables(store)
    export = ["export", "--store", store, "--what", "components", "--format", "jsonl"]
    parts = _cvb(*export, cwd=tmp_path)  # read from the labels: the table is not there yet
    assert {json.loads(line)["label"] for line in parts.splitlines()} == {"reference", "sample", "psnr"}
    again = json.loads(_cvb("run", "-t", "sample", "--store", store, "--json", "-q", *args, cwd=tmp_path))
    assert again["work"]["predictions"] == 0 and again["work"]["codec_calls"] == 0, again["work"]
    assert _report(tmp_path, store) == before
    assert _cvb(*export, cwd=tmp_path) == parts  # the table the run made holds the same
    with sqlite3.connect(store) as db:  # the migration gave the old labels their columns
        rows = set(db.execute("SELECT category, label, name, arg, options FROM components"))
    assert {("vlm", "reference", "reference", None, "{}"), ("task", "sample", "sample", None, "{}"),
            ("metric", "psnr", "psnr", None, "{}")} <= rows


def test_an_old_store_gets_the_parts_of_its_labels_once(tmp_path):
    """The one-time migration parses every label an old store holds into columns."""
    from cvb.run.store import Store

    path = tmp_path / "r.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA.read_text())
    db.executescript("INSERT INTO meta VALUES ('application', 'cvb-results'), ('schema_version', '1');")
    db.execute("INSERT INTO predictions (task, task_version, sample_id, vlm, codec, level, prompt_sha, updated_ns)"
               " VALUES ('pope[split=all]', '1', 's', 'hf:Qwen/X[mode=logits]', 'none', '-', 'p', 0)")
    db.execute("INSERT INTO cells (task, vlm, codec, level, task_version, n, n_failed, updated_at)"
               " VALUES ('pope[protocol=vlmevalkit,split=all]', 'hf:Qwen/X[mode=logits]', 'none', '-', '1', 1, 0, '')")
    db.commit()
    db.close()
    with Store(path) as store:
        got = {(c["category"], c["label"]): (c["name"], c["arg"], c["options"]) for c in store.components()}
    assert got == {
        ("vlm", "hf:Qwen/X[mode=logits]"): ("hf", "Qwen/X", {"mode": "logits"}),
        ("task", "pope[split=all]"): ("pope", None, {"split": "all"}),
        ("task", "pope[protocol=vlmevalkit,split=all]"): ("pope", None, {"protocol": "vlmevalkit", "split": "all"}),
    }


def test_cvb_list_names_the_options_that_change_only_speed(tmp_path):
    rows = {r["name"]: r for r in json.loads(_cvb("list", "vlms", "--json", cwd=tmp_path))["vlms"]}
    for name in ("hf:ORG/NAME|PATH|ALIAS", "adapted:ADAPTER_FOLDER"):
        assert {"prefetch", "batch_size", "device"} <= set(rows[name]["speed_options"]) <= set(rows[name]["options"])
        assert "max_new_tokens" not in rows[name]["speed_options"]
    assert {"timeout", "max_retries"} <= set(rows["openai:MODEL"]["speed_options"])
