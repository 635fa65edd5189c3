"""One verdict per cell: the interval, the p-value and the star come from one method and agree
in every output (terminal, Markdown, HTML, JSON, CSV, JSONL, Parquet), on a store built so that
the clustered method (paired cluster bootstrap over images) and the independent-question one
(exact McNemar) disagree: compression breaks every answer about two of six images."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
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
IMAGES, QUESTIONS, HIT = 6, 10, 2  # images, questions per image, images whose answers break


@pytest.mark.parametrize("r", [20, 39, 40, 199, 1000])
def test_bootstrap_interval_excludes_zero_exactly_when_p_is_below_alpha(r):
    rng = np.random.default_rng(r)
    for shift in np.linspace(-3, 3, 61):
        d = np.round(rng.normal(shift, 1.0, r), 1)  # rounded: many ties and exact zeros
        got = stats.paired_bootstrap(d)
        lo_hi = got["delta_ci"]
        excludes = lo_hi is not None and (lo_hi[0] > 0 or lo_hi[1] < 0)
        assert got["significant"] == excludes == (got["p"] < 0.05), (r, shift, got)
    # a one-sided bootstrap: the smallest p it can give is 2 / (R + 1), and R = 20 can never reject
    assert stats.paired_bootstrap(np.ones(20)) == {"delta_ci": None, "p": 2 / 21, "significant": False}
    assert stats.paired_bootstrap(np.ones(1000))["p"] == pytest.approx(2 / 1001)


def test_mcnemar_interval_excludes_zero_exactly_when_mcnemar_rejects():
    for b in range(0, 30):
        for c in range(0, 12):
            p = stats.mcnemar_counts(b, c)["p"]
            lo, hi = stats.mcnemar_interval(b, c, 100, 100.0)
            assert lo <= 100 * (c - b) / 100 <= hi
            assert (lo > 0 or hi < 0) == (p < 0.05), (b, c, p, lo, hi)


def _noise(i: int, bright: bool) -> Image.Image:
    rng = np.random.default_rng(i)
    base = 190 if bright else 70
    return Image.fromarray(np.clip(base + rng.normal(0, 45, (32, 32, 3)), 0, 255).astype(np.uint8))


def _answer(req, seen):
    """ "no" is right; on a heavily compressed (smooth) bright image every answer is "yes"."""
    content = req["messages"][0]["content"]
    url = next(c["image_url"]["url"] for c in content if c.get("type") == "image_url")
    arr = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("L"), dtype=float)
    smooth = np.abs(np.diff(arr, axis=1)).mean() < 20
    return 200, {}, reply("yes" if smooth and arr.mean() > 130 else "no")


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verdict")
    d = tmp / "photos"
    d.mkdir()
    lines = []
    for i in range(IMAGES):
        _noise(i, i < HIT).save(d / f"im{i}.png")
        lines += [{"image": f"im{i}.png", "question": f"Is there a cat number {j}?", "answer": "no"}
                  for j in range(QUESTIONS)]
    (d / "q.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    env = {**os.environ, "CVB_TEST_KEY": KEY, "COLUMNS": "80", "CVB_REPORT_CACHE": "off"}
    env.pop("CVB_LOAD_PLUGINS", None)
    store = tmp / "s.sqlite"
    with FakeServer(_answer) as server:
        res = subprocess.run([CVB, "run", "-c", "jpeg", "-l", "1,95", "--vlm", "openai:tiny-vl", "-t",
                              f"folder:{d}", "-o", "folder.questions=q.jsonl", "-o", f"vlm.base_url={server.url}",
                              "-o", "vlm.api_key_env=CVB_TEST_KEY", "-m", "psnr", "--store", str(store),
                              "--cache-dir", str(tmp / "cache")],
                             capture_output=True, text=True, env=env, timeout=HANG_S)
    assert res.returncode == 0, res.stderr
    return store, env, tmp


def cvb(env, *args):
    res = subprocess.run([CVB, *args], capture_output=True, text=True, env=env, timeout=HANG_S)
    assert res.returncode == 0, res.stderr
    return res


def _cells(report: dict) -> dict:
    return {c["level"]: c for s in report["sections"] for c in s["cells"] if c["codec"] == "jpeg"}


def test_clustered_and_independent_verdicts_differ_and_each_agrees_with_itself(clustered):
    store, env, tmp = clustered
    boot = json.loads(cvb(env, "report", "--store", str(store), "--json").stdout)
    mcn = json.loads(cvb(env, "report", "--store", str(store), "--json", "--inference", "mcnemar").stdout)
    hit_b, hit_m = _cells(boot)["1"], _cells(mcn)["1"]
    assert hit_b["delta"] == hit_m["delta"] == pytest.approx(-100 * HIT / IMAGES)
    # questions as independent: 20 of 60 answers broke, none fixed -> McNemar rejects at once
    assert (hit_m["test"], hit_m["b"], hit_m["c"], hit_m["significant"]) == ("mcnemar", HIT * QUESTIONS, 0, True)
    assert hit_m["p"] < 1e-4 and hit_m["delta_ci"][1] < 0 and hit_m["ci_method"] == "wilson"
    # by image: a resample draws no broken image with probability (4/6)^6 = 8.8 %: no verdict
    assert hit_b["test"] == "cluster bootstrap" and hit_b["significant"] is False
    assert 0.1 < hit_b["p"] < 0.3 and hit_b["delta_ci"][0] < 0 <= hit_b["delta_ci"][1]
    assert hit_b["ci_method"] == "cluster bootstrap" and "b" not in hit_b
    for rep in (boot, mcn):
        for c in _cells(rep).values():
            lo, hi = c["delta_ci"]
            assert c["significant"] == (c["p"] < 0.05) == (lo > 0 or hi < 0)
    assert boot["inference"] == {"method": "bootstrap", "name": "paired cluster bootstrap over images",
                                 "unit": "image", "resamples": 1000, "seed": 20260401, "confidence": 0.95}
    assert boot["sections"][0]["uncertainty"]["seed"] == 20260401
    assert any("only 6 images" in w for w in boot["sections"][0]["warnings"])  # few clusters: said
    assert not any("only 6 images" in w for w in mcn["sections"][0]["warnings"])


@pytest.mark.parametrize("inference", ["bootstrap", "mcnemar"])
def test_star_p_and_interval_agree_in_every_output(clustered, inference):
    import pyarrow.parquet as pq

    store, env, tmp = clustered
    out = tmp / f"out-{inference}"
    res = cvb(env, "report", "--store", str(store), "--inference", inference, "--resamples", "400",
              "--seed", "11", "--out", str(out), "--no-plots")
    rep = json.loads((out / "report.json").read_text())
    want = {lv: (c["significant"], c["p"], c["delta_ci"]) for lv, c in _cells(rep).items()}
    assert want["1"][0] is (inference == "mcnemar")
    assert rep["inference"]["resamples"] == 400 and rep["inference"]["seed"] == 11
    # the cells table: CSV, JSONL and Parquet, one schema, same numbers
    rows_csv = [r for r in csv.DictReader((out / "cells.csv").open()) if r["codec"] == "jpeg"]
    rows_jsonl = [json.loads(x) for x in (out / "cells.jsonl").read_text().splitlines()]
    rows_pq = pq.read_table(out / "cells.parquet").to_pylist()
    assert list(csv.DictReader((out / "cells.csv").open()).fieldnames) == list(rows_jsonl[0]) == list(rows_pq[0])
    for r in rows_csv:
        sig, p, (lo, hi) = want[r["level"]]
        assert (r["significant"], float(r["p"]), float(r["delta_ci_low"]), float(r["delta_ci_high"])) == \
            ("true" if sig else "false", pytest.approx(p), pytest.approx(lo), pytest.approx(hi))
        assert (r["resamples"], r["seed"]) == ("400", "11")
    for rows in (rows_jsonl, rows_pq):
        for r in (r for r in rows if r["codec"] == "jpeg"):
            sig, p, (lo, hi) = want[r["level_label"]]
            assert r["level"] == float(r["level_label"])
            assert (r["significant"], r["p"], r["delta_ci_low"], r["delta_ci_high"]) == (sig, p, lo, hi)
            assert (r["resamples"], r["seed"], r["method"]) == \
                (400, 11, "mcnemar" if inference == "mcnemar" else "cluster bootstrap")
    meta = json.loads(pq.read_schema(out / "cells.parquet").metadata[b"cvb_report"])
    assert meta["inference"]["seed"] == 11 and meta["inference"]["resamples"] == 400
    # the rendered tables: a star exactly on the significant cells, the p and interval shown
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    term = cvb(env, "report", "--store", str(store), "--inference", inference, "--resamples", "400",
               "--seed", "11").stdout
    for level, (sig, p, (lo, hi)) in want.items():
        shown_p = "\\<0.001" if p < 0.001 else f"{p:.3f}"
        md_row = next(x for x in md.splitlines() if x.startswith(f"| jpeg | {level} |"))
        cols = [c.strip() for c in md_row.strip("|").split("|")]
        assert cols[5].endswith("*") == sig and cols[7] == shown_p
        assert cols[6] == f"{lo:+.2f}..{hi:+.2f}"
        html_row = re.search(rf"<tr><td>jpeg</td><td>{level}</td>(.*?)</tr>", html).group(1)
        tds = re.findall(r"<td[^>]*>(.*?)</td>", html_row)
        assert tds[3].endswith("*") == sig and tds[5] == shown_p.replace("\\<", "&lt;")
        term_row = next(x.split() for x in term.splitlines() if x.split()[:2] == ["jpeg", level])
        assert term_row[5].endswith("*") == sig and term_row[6] == f"{lo:+.2f}..{hi:+.2f}"
    for text in (md, html, term):
        flat = " ".join(text.split())
        assert "400 resamples" in flat and "seed 11" in flat
        assert ("exact McNemar (questions as independent)" if inference == "mcnemar"
                else "paired cluster bootstrap over images") in flat
    assert "wrote" in res.stderr
