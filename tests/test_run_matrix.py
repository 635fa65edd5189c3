"""``cvb run`` in-process on the fakes: the matrix, the cache, reruns, failures, exit statuses."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import CALLS, log_events, make_images
from cvb_fakes.harness import cli, counts, use_fakes

N_IMAGES = 6  # two questions each: 12 samples


@pytest.fixture
def env(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    monkeypatch.setenv("CVB_FAKES_LOG", str(tmp_path / "events.log"))
    images = make_images(tmp_path / "imgs", N_IMAGES)
    return {"tmp": tmp_path, "images": images, "store": tmp_path / "r.sqlite", "mp": monkeypatch,
            "base": ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--metric", "mse",
                     "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "cache"), "-q"]}


def run_json(env, *extra, code=0):
    result = cli([*env["base"], "--json", *extra])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_matrix_has_the_reference_and_every_level_and_compresses_each_image_once(env):
    out = run_json(env, "--codec", "fake", "--levels", "1,4,8")
    cells = {(c["codec"], c["level"]): c for c in out["cells"]}
    assert list(cells) == [("none", "-"), ("fake", "1"), ("fake", "4"), ("fake", "8")]
    assert CALLS["encode"] == N_IMAGES * 3 == out["work"]["codec_calls"]  # 12 samples, 6 images
    assert len(log_events(env["tmp"] / "events.log", "encode")) == N_IMAGES * 3
    assert CALLS["create"] == 1 and CALLS["load"] == 1
    assert cells[("none", "-")]["bpp"] == 24.0 and cells[("none", "-")]["metrics"] == {}
    bpp = [cells[("fake", lv)]["bpp"] for lv in ("1", "4", "8")]
    mse = [cells[("fake", lv)]["metrics"]["mse"] for lv in ("1", "4", "8")]
    assert bpp == sorted(bpp) and mse == sorted(mse, reverse=True) and mse[-1] == 0.0  # 8 is lossless
    # coarse levels make smooth images two-tone: the scripted VLM gets them wrong
    assert cells[("none", "-")]["score"] == 100.0 and cells[("fake", "8")]["score"] == 100.0
    assert cells[("fake", "1")]["score"] < 100.0
    assert cells[("fake", "1")]["delta"] == cells[("fake", "1")]["score"] - 100.0
    assert all(c["n"] == 2 * N_IMAGES and c["n_failed"] == 0 for c in out["cells"])
    assert counts(env["store"])["predictions"] == 4 * 2 * N_IMAGES


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_metric_options_that_change_values_are_stored_apart(env, jobs):
    plain = run_json(env, "--codec", "fake", "--levels", "4", "-j", jobs)
    scaled = run_json(env, "--codec", "fake", "--levels", "4", "-j", jobs, "-o", "mse.scale=2")
    a = next(c for c in plain["cells"] if c["codec"] == "fake")["metrics"]["mse"]
    b = next(c for c in scaled["cells"] if c["codec"] == "fake")["metrics"]["mse[scale=2]"]
    assert b == pytest.approx(2 * a) and a > 0
    conn = sqlite3.connect(env["store"])
    names = {r[0] for r in conn.execute("SELECT DISTINCT metric FROM metrics")}
    assert names == {"mse", "mse[scale=2]"}


def test_rerun_of_a_finished_matrix_only_reads(env):
    run_json(env, "--codec", "fake", "--levels", "1,4")
    conn = sqlite3.connect(env["store"])
    before = counts(env["store"])
    stamps = conn.execute("SELECT MAX(updated_ns) FROM predictions").fetchone()[0], \
        conn.execute("SELECT GROUP_CONCAT(updated_at) FROM cells").fetchone()[0]
    conn.close()
    use_fakes(env["mp"])  # a fresh registry and counters, as a new process has
    out = run_json(env, "--codec", "fake", "--levels", "1,4")
    # no codec call; the VLM is built (cheap) to read its version, but never loaded
    assert CALLS == {"encode": 0, "create": 1, "load": 0}
    assert out["work"] == {"codec_calls": 0, "compressed": 0, "metrics": 0, "predictions": 0,
                           "models_loaded": [], "cells_scored": 0, "by_other_runs": 0, "taken_over": 0}
    after = counts(env["store"])
    assert after == {**before, "runs": before["runs"] + 1}
    conn = sqlite3.connect(env["store"])
    assert (conn.execute("SELECT MAX(updated_ns) FROM predictions").fetchone()[0],
            conn.execute("SELECT GROUP_CONCAT(updated_at) FROM cells").fetchone()[0]) == stamps


def test_adding_a_level_does_only_the_new_work(env):
    run_json(env, "--codec", "fake", "--levels", "1,4")
    use_fakes(env["mp"])
    out = run_json(env, "--codec", "fake", "--levels", "1,2,4")
    assert CALLS["encode"] == N_IMAGES and out["work"]["predictions"] == 2 * N_IMAGES
    assert out["work"]["cells_scored"] == 1  # the new cell; the others' inputs did not change


def test_a_new_store_reuses_the_image_cache_without_calling_the_codec(env):
    run_json(env, "--codec", "fake", "--levels", "2")
    use_fakes(env["mp"])
    other = [a if a != str(env["store"]) else str(env["tmp"] / "other.sqlite") for a in env["base"]]
    result = cli([*other, "--codec", "fake", "--levels", "2", "--json"])
    out = json.loads(result.stdout)
    assert CALLS["encode"] == 0 and out["work"]["compressed"] == N_IMAGES
    first = sqlite3.connect(env["store"]).execute("SELECT key, num_bytes, bpp FROM compressed ORDER BY key")
    second = sqlite3.connect(env["tmp"] / "other.sqlite").execute(
        "SELECT key, num_bytes, bpp FROM compressed ORDER BY key")
    assert first.fetchall() == second.fetchall()


def test_new_weights_under_the_same_name_make_stored_answers_stale(env):
    run_json(env, "--codec", "fake", "--levels", "4")
    env["mp"].setenv("CVB_FAKES_VLM_VERSION", "2")  # e.g. a retrained checkpoint in the same folder
    use_fakes(env["mp"])
    out = run_json(env, "--codec", "fake", "--levels", "4")
    assert out["work"]["predictions"] == 2 * 2 * N_IMAGES and CALLS["load"] == 1
    assert out["work"]["cells_scored"] == 2
    conn = sqlite3.connect(env["store"])
    assert conn.execute("SELECT DISTINCT vlm_version FROM predictions").fetchall() == [("2/generate",)]
    assert counts(env["store"])["predictions"] == 2 * 2 * N_IMAGES  # replaced in place, not added
    use_fakes(env["mp"])
    again = run_json(env, "--codec", "fake", "--levels", "4")
    assert again["work"]["predictions"] == 0 and CALLS["load"] == 0


def test_images_shared_by_two_tasks_are_compressed_once(env):
    one, two = f"toy:{env['images']}", f"toy:{env['images']}/"  # two task names, the same images
    base = [a for a in env["base"] if a not in ("--task", one)]
    out = run_json({**env, "base": base}, "--task", f"{one},{two}", "--codec", "fake", "--levels", "4")
    assert [t["label"] for t in out["matrix"]["tasks"]] == [one, two]
    assert CALLS["encode"] == N_IMAGES and len(out["cells"]) == 4
    assert {c["task"] for c in out["cells"]} == {one, two}


def test_worker_processes_compress_each_image_once(env):
    out = run_json(env, "--codec", "fake", "--levels", "1,2,4", "-j", "2")
    assert len(log_events(env["tmp"] / "events.log", "encode")) == N_IMAGES * 3
    assert out["work"]["compressed"] == N_IMAGES * 3 and out["work"]["metrics"] == N_IMAGES * 3
    single = run_json({**env, "base": [a.replace("r.sqlite", "one.sqlite") for a in env["base"]]},
                      "--codec", "fake", "--levels", "1,2,4")
    assert [c["score"] for c in out["cells"]] == [c["score"] for c in single["cells"]]


def test_corrupt_image_and_codec_error_are_recorded_and_exit_1(env, tmp_path):
    images = make_images(tmp_path / "bad", 6, poison=[2], corrupt=[3])
    base = [a if a != f"toy:{env['images']}" else f"toy:{images}" for a in env["base"]]
    result = cli([*base, "--codec", "fake", "--levels", "1,4", "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["status"] == "failures" and out["failure_counts"]["image"] == 1
    assert out["failure_counts"]["compress"] == 2  # poison image x 2 levels
    image_failure = next(f for f in out["failures"] if f["stage"] == "image")
    assert image_failure["item"] == "img0003_textured.png" and "cannot" in image_failure["error"]
    cells = {(c["codec"], c["level"]): c for c in out["cells"]}
    assert cells[("none", "-")]["n_failed"] == 2 and cells[("fake", "1")]["n_failed"] == 4
    conn = sqlite3.connect(tmp_path / "r.sqlite")
    errors = dict(conn.execute("SELECT sample_id || ' ' || codec || level, error FROM predictions "
                               "WHERE error IS NOT NULL"))
    assert set(errors) == {f"img0003_textured-q{q} {c}" for q in (0, 1) for c in ("none-", "fake1", "fake4")} | \
        {f"img0002_smooth-q{q} fake{lv}" for q in (0, 1) for lv in (1, 4)}
    assert "poison pixel" in errors["img0002_smooth-q0 fake1"]
    assert conn.execute("SELECT COUNT(*) FROM predictions WHERE error IS NULL").fetchone()[0] == 3 * 12 - 10
    assert "13 failure(s): 2 compress, 1 image, 10 predict" in " ".join(result.stderr.split())


def test_a_crashing_codec_worker_fails_only_its_image(env, tmp_path):
    images = make_images(tmp_path / "crash", 6, crash=[4])
    base = [a if a != f"toy:{env['images']}" else f"toy:{images}" for a in env["base"]]
    result = cli([*base, "--codec", "fake", "--levels", "1,4", "-j", "2", "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["failure_counts"] == {"compress": 2, "predict": 4}  # image 4 x 2 levels, 2 questions
    assert all("worker process died" in f["error"] for f in out["failures"])
    assert out["work"]["compressed"] == 5 * 2  # the other images, both levels


def test_a_model_error_fails_only_its_sample(env):
    out = run_json(env, "--codec", "fake", "--levels", "4", "-o", "vlm.raise_on=img0003",
                   "-o", "vlm.fail_on=img0000_smooth-q1", "-b", "4", code=1)
    failed = {(f["codec"], f["item"]) for f in out["failures"]}
    assert failed == {(c, s) for c in ("none", "fake") for s in
                      ("img0003_textured-q0", "img0003_textured-q1", "img0000_smooth-q1")}
    assert all(c["n_failed"] == 3 for c in out["cells"])
    conn = sqlite3.connect(env["store"])
    ok = conn.execute("SELECT COUNT(*) FROM predictions WHERE error IS NULL AND sample_id LIKE 'img0002%'")
    assert ok.fetchone()[0] == 4  # shared a batch with img0003 and still answered


def test_a_streamed_scorer_scores_each_cell_as_the_whole_set_score_does(env):
    """The toy task's two shapes (``score`` only, and ``scorer()`` with ``streamed=true``) give
    the same cells, failed samples (scored as missing) and the reference's answers included."""
    opts = ["--codec", "fake", "--levels", "1,4", "-o", "vlm.raise_on=img0003", "-o", "vlm.fail_on=img0000_smooth-q1"]
    whole = run_json(env, *opts, code=1)["cells"]
    streamed = run_json(env, *opts, "-o", "task.streamed=true", code=1)["cells"]
    assert {c["task"] for c in streamed} == {f"toy:{env['images']}[streamed=True]"}

    def shown(cells):
        return [(c["codec"], c["level"], c["n"], c["n_failed"], c["score"], c["details"]) for c in cells]
    assert shown(streamed) == shown(whole)
    assert all(c["details"]["missing"] == 3 and "agreement" in c["details"] for c in whole)
    assert any(c["details"]["agreement"] < 100 for c in whole)  # level 1 changes answers


def test_a_scoring_error_fails_the_cell_and_is_listed_on_reruns(env):
    for _ in range(2):  # the second run reuses the stored cell and still reports it
        out = run_json(env, "--codec", "fake", "--levels", "4", "-o", "task.broken_score=true", code=1)
        assert out["failure_counts"] == {"score": 2}
        assert {c["error"] for c in out["cells"]} == {"score failed: ZeroDivisionError: the scoring rule has a bug"}
        assert all(c["score"] is None and c["n_failed"] == 0 for c in out["cells"])
    assert out["work"]["cells_scored"] == 0
    out = run_json(env, "--codec", "fake", "--levels", "4", "-o", "task.broken_score=true", "-o", "task.streamed=true",
                   code=1)  # a streamed scorer that raises fails its cells the same way
    assert {c["error"] for c in out["cells"]} == {"score failed: ZeroDivisionError: the scoring rule has a bug"}


def test_retry_failed_redoes_only_failures(env, tmp_path):
    images = make_images(tmp_path / "bad", 4, corrupt=[1])
    base = [a if a != f"toy:{env['images']}" else f"toy:{images}" for a in env["base"]]
    assert cli([*base, "--codec", "fake", "--levels", "4"]).exit_code == 1
    make_images(tmp_path / "bad", 4)  # the corrupt file is mended
    use_fakes(env["mp"])
    result = cli([*base, "--codec", "fake", "--levels", "4", "--json"])
    assert result.exit_code == 0, result.output  # new bytes -> new content hash: redone anyway
    out = json.loads(result.stdout)
    assert out["work"]["predictions"] == 4 and CALLS["encode"] == 1
    use_fakes(env["mp"])
    out = run_json({**env, "base": base}, "--codec", "fake", "--levels", "4", "--retry-failed")
    assert out["work"]["predictions"] == 0 and CALLS["load"] == 0


def test_unknown_codec_exits_2_and_lists_names(env):
    result = cli([*env["base"], "--codec", "jpg"])
    assert result.exit_code == 2
    assert "unknown codec 'jpg'" in result.stderr and "fake" in result.stderr and "none" in result.stderr
    assert not env["store"].exists()


@pytest.mark.parametrize("args, message", [
    (["--vlm", "gpt9"], "unknown vlm 'gpt9'"),
    (["--codec", "fake", "--levels", "fake=9"], "has no level '9'"),
    (["--codec", "fake", "--levels", "other=1"], "not among --codec"),
    (["-o", "vlm.nope=1"], "does not accept option(s) nope"),
    (["-o", "banana"], "CATEGORY.KEY=VALUE"),
    (["--metric", "psnr"], "unknown metric 'psnr'"),
])
def test_bad_usage_exits_2(env, args, message):
    result = cli([*env["base"], *args])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not env["store"].exists()  # refused while planning: nothing compressed or stored


def test_newer_schema_is_refused_and_the_store_is_untouched(env):
    run_json(env, "--codec", "fake", "--levels", "4")
    conn = sqlite3.connect(env["store"])
    conn.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    before, mtime = env["store"].read_bytes(), env["store"].stat().st_mtime_ns
    result = cli([*env["base"], "--codec", "fake", "--levels", "4"])
    assert result.exit_code == 1 and "schema version 7, newer" in result.stderr
    assert env["store"].read_bytes() == before and env["store"].stat().st_mtime_ns == mtime


def test_limit_mode_and_label(env):
    out = run_json(env, "--limit", "5", "--mode", "logits", "-b", "2")
    assert [c["n"] for c in out["cells"]] == [5]
    assert out["matrix"]["vlms"][0]["label"] == "scripted[mode=logits]"  # batch size is not in it
    conn = sqlite3.connect(env["store"])
    assert conn.execute("SELECT DISTINCT vlm_version FROM predictions").fetchall() == [("1/logits",)]
    run = conn.execute("SELECT argv, options, plugins, prompts, status, git_commit FROM runs").fetchone()
    assert json.loads(run[1])["limit"] == 5 and json.loads(run[2])[0]["distribution"] == "cvb-fakes"
    assert "yesno" in json.loads(run[3])["suffix"] and run[4] == "ok"


def test_default_metrics_that_are_not_installed_are_skipped_with_a_note(env):
    base = [a for a in env["base"] if a not in ("--metric", "mse")]
    result = cli([*base, "--codec", "fake", "--levels", "4"])
    assert result.exit_code == 0 and "default metric psnr skipped" in result.output


def test_table_output(env):
    result = cli([a for a in env["base"] if a != "-q"] + ["--codec", "fake", "--levels", "1"])
    text = " ".join(result.stdout.split())  # rich wraps lines at the terminal width
    assert result.exit_code == 0
    assert "delta" in text and "models loaded: scripted" in text and "compress" in text


def test_export_csv_and_jsonl(env):
    run_json(env, "--codec", "fake", "--levels", "1,4")
    store = str(env["store"])
    res = cli(["export", "--store", store, "--what", "cells"])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert res.exit_code == 0 and len(rows) == 3 and rows[1]["codec"] == "fake"
    assert float(rows[1]["metric.mse"]) > float(rows[2]["metric.mse"])
    out = env["tmp"] / "preds.jsonl"
    res = cli(["export", "--store", store, "--what", "predictions", "--format", "jsonl", "--output", str(out)])
    assert res.exit_code == 0
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == 3 * 2 * N_IMAGES and {"sample_id", "text", "judge", "key"} <= set(preds[0])
    res = cli(["export", "--store", str(env["tmp"] / "none.sqlite"), "--what", "runs"])
    assert res.exit_code == 2 and "no results store" in res.stderr


def test_each_cell_is_scored_with_the_reference_cells_answers(env):
    out = run_json(env, "--codec", "fake", "--levels", "1,8")
    cells = {(c["codec"], c["level"]): c for c in out["cells"]}
    conn = sqlite3.connect(env["store"])
    answers = {}
    for codec, level, sid, text in conn.execute("SELECT codec, level, sample_id, text FROM predictions"):
        answers.setdefault((codec, level), {})[sid] = text
    ref = answers[("none", "-")]
    for key, cell in cells.items():
        same = sum(answers[key][sid] == ref[sid] for sid in ref)
        assert cell["details"]["agreement"] == 100.0 * same / len(ref)
    assert cells[("fake", "1")]["details"]["agreement"] < 100.0  # the check is not vacuous
