"""Statistics of ``cvb report``: intervals, paired tests, BD intervals; checked against closed
forms computed here, and end to end through the real ``cvb`` executable (fresh processes)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvb.analysis import stats

from test_openai_vlm import KEY, FakeServer, reply
from hang_guard import HANG_S

CVB = str(Path(sys.executable).with_name("cvb"))


def wilson_closed_form(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(0, 10), (37, 75), (74, 75), (500, 1000)])
def test_wilson_is_the_closed_form(k, n):
    assert stats.wilson(k, n) == pytest.approx(wilson_closed_form(k, n), abs=1e-12)


def test_mcnemar_is_the_exact_binomial_of_discordant_pairs():
    ref = [1] * 19 + [1, 0, 0] + [1] * 10
    cmp_ = [0] * 19 + [1, 0, 1] + [1] * 10
    r = stats.mcnemar(ref, cmp_)
    assert (r["b"], r["c"]) == (19, 1)
    assert r["p"] == pytest.approx(2 * sum(math.comb(20, i) for i in range(2)) / 2 ** 20)
    assert stats.mcnemar([1, 0], [1, 0])["p"] == 1.0
    with pytest.raises(ValueError):
        stats.mcnemar([1], [1, 0])


def test_bootstrap_p_and_interval():
    assert stats.bootstrap_p([1.0] * 999) == pytest.approx(2 / 1000)  # never 0
    assert stats.bootstrap_p([-1.0, 1.0] * 50) == 1.0
    # the 2nd smallest and 2nd largest: 2 (k + 1) / 102 < 0.05 for k = 0, 1 (tail_p)
    assert stats.percentile_interval(range(101)) == (1.0, 99.0)
    assert stats.percentile_interval(range(1000)) == (24.0, 975.0)
    draws = stats.cluster_resamples([[0, 1], [2, 3, 4]], 200, seed=3)
    again = stats.cluster_resamples([[0, 1], [2, 3, 4]], 200, seed=3)
    assert all((a == b).all() for a, b in zip(draws, again))  # fixed seed: reproducible
    # whole images are drawn: an image's questions always come together
    assert all(sorted(d.tolist()).count(0) == sorted(d.tolist()).count(1) for d in draws)


# ---- end to end ----------------------------------------------------------------------------

def _folder(root: Path, name: str, answered: bool) -> Path:
    rng = np.random.default_rng(len(name))
    d = root / name
    d.mkdir()
    lines = []
    for i in range(10):
        arr = rng.integers(0, 255, (24, 32, 3)).astype(np.uint8)
        Image.fromarray(arr).save(d / f"im{i}.png")
        for j in range(2):
            q = {"image": f"im{i}.png", "question": f"Is there a cat number {j}?"}
            lines.append({**q, "answer": "no"} if answered else {**q, "question": f"What colour {j}?"})
    (d / "q.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    return d


def _answer(req, seen):
    """Deterministic per (image, question); "no" is right. Open questions get mostly empty answers."""
    content = req["messages"][0]["content"]
    text = content[-1]["text"]
    image = next(c["image_url"]["url"] for c in content if c.get("type") == "image_url")
    h = int(hashlib.sha256((image + text).encode()).hexdigest(), 16)
    if "colour" in text:
        return 200, {}, reply("" if h % 4 else ("red" if h % 8 else "blue"))
    return 200, {}, reply("no" if h % 3 else "yes")


def cvb(*args, env=None, check=True):
    res = subprocess.run([CVB, *args], capture_output=True, text=True, env=env, timeout=HANG_S)
    if check:
        assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def stats_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stats")
    a, b = _folder(tmp, "answered", True), _folder(tmp, "open", False)
    env = {**os.environ, "CVB_TEST_KEY": KEY, "COLUMNS": "80"}
    env.pop("CVB_LOAD_PLUGINS", None)
    store = tmp / "s.sqlite"
    with FakeServer(_answer) as server:
        run = cvb("run", "-c", "jpeg,webp", "-l", "jpeg=1,20,90", "-l", "webp=1,30,90", "--vlm", "openai:tiny-vl",
            "-t", f"folder:{a},folder:{b}", "-o", "folder.questions=q.jsonl", "-o",
            f"vlm.base_url={server.url}", "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none",
            "--store", str(store), "--cache-dir", str(tmp / "cache"), env=env)
    return store, env, a, b, run


def _sections(store, env, *extra):
    res = cvb("report", "--store", str(store), "--json", "--resamples", "300", *extra, env=env)
    return {s["task"].split("/")[-1].split("[")[0]: s for s in json.loads(res.stdout)["sections"]}, res


def test_accuracy_cells_get_wilson_and_mcnemar(stats_store):
    """--inference mcnemar: questions as independent, as named."""
    store, env, a, _, _ = stats_store
    sections, res = _sections(store, env, "--inference", "mcnemar")
    s = sections["answered"]
    assert s["score_metric"] == "acc"
    preds = list(csv.DictReader(io.StringIO(cvb("export", "--store", str(store), "--what", "predictions",
                                                 env=env).stdout)))
    task = f"folder:{a}[questions=q.jsonl]"
    verdict = {(p["task"], p["codec"], p["level"], p["sample_id"]): float(p["judge"])
               for p in preds if p["task"] == task}
    ids = sorted({k[3] for k in verdict if k[0] == task})
    for c in s["cells"]:
        k = round(c["score"] * c["n"] / 100)
        assert c["ci_method"] == "wilson"
        assert c["ci"] == pytest.approx([100 * x for x in wilson_closed_form(k, c["n"])], abs=1e-9)
        if c["codec"] == "none":
            continue
        ref = [verdict[(task, "none", "-", i)] for i in ids]
        got = [verdict[(task, c["codec"], c["level"], i)] for i in ids]
        b = sum(r == 1 and g == 0 for r, g in zip(ref, got))
        cc = sum(r == 0 and g == 1 for r, g in zip(ref, got))
        tail = sum(math.comb(b + cc, i) for i in range(min(b, cc) + 1))
        p = 1.0 if b + cc == 0 else min(1.0, 2 * tail / 2 ** (b + cc))
        assert (c["test"], c["b"], c["c"]) == ("mcnemar", b, cc)
        assert c["p"] == pytest.approx(p) and c["significant"] == (p < 0.05)
        assert c["delta_ci"][0] <= c["delta"] <= c["delta_ci"][1]
    bd = s["bd"][0]["bd_metric"]
    assert bd["ci"][0] <= bd["value"] <= bd["ci"][1]
    assert "resampling" in res.stderr  # progress notes on stderr, not in the JSON


def test_aggregate_scores_get_a_paired_bootstrap_and_empty_answers_a_warning(stats_store):
    store, env, _, _, run = stats_store
    assert "open[questions=q.jsonl] x openai:tiny-vl" in run.stderr and "most answers are empty" in run.stderr
    assert "answered[questions=q.jsonl] x openai" not in run.stderr.split("most answers")[0].splitlines()[-1]
    sections, res = _sections(store, env)
    s = sections["open"]
    assert s["score_metric"] == "consistency"
    for c in s["cells"]:
        if c["codec"] != "none":
            assert c["ci_method"] == "cluster bootstrap" and c["test"] == "cluster bootstrap"
            assert 0 < c["p"] <= 1 and c["ci"][0] <= c["score"] <= c["ci"][1]
    assert any("most answers are empty" in w for w in s["warnings"])
    again, _ = _sections(store, env)  # fixed seed: the same numbers
    assert again["open"]["cells"] == s["cells"] and again["answered"]["bd"] == sections["answered"]["bd"]
    other, _ = _sections(store, env, "--seed", "7")
    assert other["open"]["cells"] != s["cells"]


def test_terminal_report_fits_80_columns_with_provenance(stats_store):
    store, env, _, _, _ = stats_store
    res = cvb("report", "--store", str(store), "--resamples", "100", env=env)
    lines = res.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80
    assert any("95% CI" in x for x in lines) and any(x.split()[:1] == ["jpeg"] for x in lines)
    # an 80x24 terminal ends with one short provenance line, not a screen of it
    last = [x for x in lines if x.strip()][-1]
    assert last.startswith("provenance: cvb ") and "1 run" in last and "seed 20260401" in last
    assert "--provenance" in last and "cvb run -c" not in res.stdout
    full = cvb("report", "--store", str(store), "--resamples", "100", "--provenance", env=env).stdout
    assert "cvb run -c" in full and "version pillow" in full and "provenance: cvb " not in full
    assert "word F1" in res.stdout and "(ref.)" in res.stdout  # graded consistency; no tautology
    assert "warning:" in res.stderr and "most answers are empty" in res.stderr


def test_run_table_uses_the_report_headings_and_progress_goes_to_stderr(stats_store, tmp_path):
    _, env, a, _, _ = stats_store
    store = tmp_path / "r.sqlite"
    with FakeServer(_answer) as server:
        res = cvb("run", "-c", "jpeg", "-l", "1,20,90", "--vlm", "openai:tiny-vl", "-t", f"folder:{a}",
                  "-o", "folder.questions=q.jsonl", "-o", f"vlm.base_url={server.url}",
                  "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "psnr", "--store", str(store),
                  "--cache-dir", str(tmp_path / "cache"), env=env)
    report = cvb("report", "--store", str(store), "--resamples", "0", env=env)
    heading = ["codec", "level", "bpp", "acc", "delta", "psnr"]
    assert any(x.split() == heading for x in res.stdout.splitlines())
    assert any(x.split()[:2] == heading[:2] and x.split()[-2:] == ["p", "psnr"] for x in report.stdout.splitlines())
    row = next(x.split() for x in res.stdout.splitlines() if x.split()[:2] == ["jpeg", "20"])
    again = next(x.split() for x in report.stdout.splitlines() if x.split()[:2] == ["jpeg", "20"])
    assert row[:5] == again[:5]  # same numbers, same decimals
    # stderr is no terminal here: plain progress lines, on stderr only
    assert "compress: 30/30 (100%)" in res.stderr and "infer openai:tiny-vl" in res.stderr
    assert "compress:" not in res.stdout and "\x1b[" not in res.stderr


def test_export_and_output_paths(stats_store, tmp_path):
    store, env, _, _, _ = stats_store
    empty = cvb("export", "--store", str(store), "--what", "failures", env=env).stdout
    assert empty == "stage,task,vlm,codec,level,item,error\n"  # a header, never a 0-byte file
    cells = list(csv.DictReader(io.StringIO(cvb("export", "--store", str(store), env=env).stdout)))
    assert "detail.questions" in cells[0] and "details" not in cells[0]
    out = tmp_path / "rep"
    cvb("report", "--store", str(store), "--resamples", "50", "--out", str(out), "--no-plots", env=env)
    report_cols = next(csv.reader((out / "cells.csv").open()))
    assert "detail.questions" in report_cols and "ci_low" in report_cols and "p" in report_cols
    res = cvb("export", "--store", str(store), "--output", str(tmp_path / "jpeg.quality=4"), env=env)
    assert "looks like an option" in res.stderr
    res = cvb("compress", "-c", "jpeg", "-l", "5", "-m", "none", "-q", "-o", str(tmp_path / "rd"),
              env=env, check=False)
    assert res.returncode == 2 and "--out" in res.stderr
    import sqlite3

    with sqlite3.connect(store) as con:
        rows = con.execute("SELECT name, value FROM cell_values WHERE kind='detail' LIMIT 3").fetchall()
    assert rows and all(isinstance(v, (int, float)) for _, v in rows)


def test_intervals_of_a_limited_run_and_of_a_store_whose_task_is_gone(stats_store, tmp_path):
    """--limit: the report rebuilds the same subset; a task whose data is gone: no interval,
    the reason, and McNemar's test from the verdicts the run stored."""
    import shutil

    _, env, a, _, _ = stats_store
    folder = tmp_path / "copy"
    shutil.copytree(a, folder)
    store = tmp_path / "l.sqlite"
    with FakeServer(_answer) as server:
        cvb("run", "-c", "jpeg", "-l", "1,90", "--vlm", "openai:tiny-vl", "-t", f"folder:{folder}",
            "-o", "folder.questions=q.jsonl", "-o", f"vlm.base_url={server.url}", "--limit", "12",
            "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none", "--store", str(store),
            "--cache-dir", str(tmp_path / "cache"), env=env)
    (sec,) = json.loads(cvb("report", "--store", str(store), "--json", "--resamples", "50", "--inference", "mcnemar",
                            env=env).stdout)["sections"]
    assert sec["uncertainty"]["reason"] is None and all(c["n"] == 12 and c["ci"] for c in sec["cells"])
    tested = {(c["codec"], c["level"]): (c["b"], c["c"], c["p"]) for c in sec["cells"] if c["codec"] != "none"}
    shutil.rmtree(folder)
    (gone,) = json.loads(cvb("report", "--store", str(store), "--json", env=env).stdout)["sections"]
    assert "cannot be rebuilt here" in gone["uncertainty"]["reason"]
    assert all(c["ci"] is None for c in gone["cells"])
    assert {(c["codec"], c["level"]): (c["b"], c["c"], c["p"]) for c in gone["cells"] if c["codec"] != "none"} == tested
    table = cvb("report", "--store", str(store), env=env).stdout
    flat = " ".join(table.split())
    assert "no intervals: task" in flat and "exact McNemar (questions as independent)" in flat


def test_pope_f1_under_a_peer_protocol_gets_bootstrap_intervals(tmp_path):
    """A scoring protocol is part of the cell's label but not of the stored answers' label: the
    report reads the answers where the run stored them and rescores with the protocol's rule."""
    from test_protocol_run import pope_copy

    data = pope_copy(tmp_path / "POPE")
    env = {**os.environ, "CVB_TEST_KEY": KEY}
    env.pop("CVB_LOAD_PLUGINS", None)
    store = tmp_path / "p.sqlite"
    with FakeServer(_answer) as server:
        cvb("run", "-c", "jpeg", "-l", "1,50", "--vlm", "openai:tiny-vl", "-t", f"pope:{data}",
            "-o", "task.protocol=lmms-eval", "-o", f"vlm.base_url={server.url}",
            "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none", "--store", str(store),
            "--cache-dir", str(tmp_path / "cache"), env=env)
    (sec,) = json.loads(cvb("report", "--store", str(store), "--json", "--resamples", "100",
                            env=env).stdout)["sections"]
    assert sec["task"].endswith("[protocol=lmms-eval]") and "f1" in sec["score_metric"]
    assert sec["uncertainty"]["reason"] is None
    for c in sec["cells"]:
        assert c["ci_method"] == "cluster bootstrap" and c["ci"][0] <= c["score"] <= c["ci"][1]
        if c["codec"] != "none":
            assert c["test"] == "cluster bootstrap" and 0 < c["p"] <= 1


def test_adapted_vlm_gets_gap_and_gain_intervals_and_overlaid_curves(stats_store, tmp_path):
    _, env, a, _, _ = stats_store

    def answer(req, seen):  # the "adapted" model is right more often
        status, headers, body = _answer(req, seen)
        if req.get("model") == "tiny-vl-a":
            content = req["messages"][0]["content"]
            h = int(hashlib.sha256(json.dumps(content).encode()).hexdigest(), 16)
            body = reply("no" if h % 6 else "yes")
        return status, headers, body

    store = tmp_path / "a.sqlite"
    with FakeServer(answer) as server:
        cvb("run", "-c", "jpeg", "-l", "1,20,90", "--vlm", "openai:tiny-vl,openai:tiny-vl-a",
            "-t", f"folder:{a}", "-o", "folder.questions=q.jsonl", "-o", f"vlm.base_url={server.url}",
            "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none", "--store", str(store),
            "--cache-dir", str(tmp_path / "cache"), env=env)
    vlms = sorted({s["vlm"] for s in json.loads(cvb("report", "--store", str(store), "--json",
                                                    "--resamples", "0", env=env).stdout)["sections"]})
    (base,) = [v for v in vlms if v.startswith("openai:tiny-vl[")]
    (adapted,) = [v for v in vlms if v.startswith("openai:tiny-vl-a[")]
    out = tmp_path / "rep"
    res = cvb("report", "--store", str(store), "--json", "--resamples", "200", "--adapted",
              f"{base}={adapted}", "--out", str(out), env=env)
    sec = next(s for s in json.loads(res.stdout)["sections"] if s["vlm"] == base)
    assert sec["gap"] and all(g["generalization_ci"][0] <= g["generalization"] <= g["generalization_ci"][1]
                              for g in sec["gap"])
    (gain,) = sec["adapter_bd"]
    assert gain["bd_metric"]["ci"][0] <= gain["bd_metric"]["value"] <= gain["bd_metric"]["ci"][1]
    (svg,) = [p.read_text() for p in out.glob("score_*.svg") if "tiny-vl_" in p.name]
    assert "adapted" in svg and "uncompressed" in svg  # the adapted curves and both clean lines
    text = cvb("report", "--store", str(store), "--resamples", "100", "--adapted", f"{base}={adapted}",
               env=env).stdout
    flat = " ".join(text.split())
    assert "gap decomposition with" in flat and "gen. CI" in flat and max(len(x) for x in text.splitlines()) <= 80


def _always_wrong(req, seen):
    """POPE copy: thing i is there for even i; answer the opposite (every verdict 0, F1 0)."""
    text = req["messages"][0]["content"][-1]["text"]
    i = int(text.split("thing ")[1].split()[0])
    return 200, {}, reply("no" if i % 2 == 0 else "yes")


def test_an_all_wrong_fraction_f1_is_not_taken_for_a_percentage(tmp_path):
    """lmms-eval's POPE F1 is a fraction, and not an accuracy: with every answer wrong it is 0, as
    is every accuracy on any scale; the report must not give it a Wilson interval of up to ~39
    "percent" (the accuracy scale comes from the task's declared score, never from the values)."""
    from test_protocol_run import pope_copy

    data = pope_copy(tmp_path / "POPE")
    env = {**os.environ, "CVB_TEST_KEY": KEY}
    env.pop("CVB_LOAD_PLUGINS", None)
    store = tmp_path / "p.sqlite"
    with FakeServer(_always_wrong) as server:
        cvb("run", "--vlm", "openai:tiny-vl", "-t", f"pope:{data}", "-o", "task.protocol=lmms-eval",
            "-o", f"vlm.base_url={server.url}", "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "none",
            "--store", str(store), "--cache-dir", str(tmp_path / "cache"), env=env)
    (sec,) = json.loads(cvb("report", "--store", str(store), "--json", "--resamples", "50",
                            env=env).stdout)["sections"]
    (c,) = sec["cells"]
    assert c["score_metric"] == "pope_f1_score" and c["score"] == 0
    assert c["ci_method"] == "cluster bootstrap" and c["ci"] == [0, 0]
