"""``cvb report`` on synthetic cell dicts: numbers, reasons, files, self-contained HTML."""

import base64
import csv
import io
import json
import re
import warnings

import bjontegaard
import pytest

from cvb.errors import UsageError
from cvb.report import build_report, write_report
from cvb.report.tables import cells_csv, markdown_report, rich_tables

CLEAN = 86.2
JPEG = [("1", 0.19, 60.6, 23.1), ("3", 0.23, 66.0, 24.0), ("5", 0.27, 70.9, 24.8), ("6", 0.30, 73.7, 25.3)]
ELIC = [("4", 0.40, 84.1, 31.0), ("1", 0.12, 76.4, 27.5), ("2", 0.18, 79.5, 28.4), ("3", 0.26, 82.0, 29.9)]
FAR = [("1", 2.0, 85.0, 40.0), ("2", 3.0, 85.5, 42.0)]      # no bpp overlap with jpeg
ONE = [("10", 0.25, 70.0, 26.0)]                             # a single point


def cell(codec, level, bpp, score, psnr=None, vlm="qwen", task="pope", n_failed=0):
    return {"task": task, "vlm": vlm, "codec": codec, "level": level, "bpp": bpp,
            "metrics": {} if psnr is None else {"psnr": psnr, "ssim": psnr / 50},
            "score": score, "score_metric": "f1", "higher_is_better": True,
            "details": {} if score is None else {"acc": score / 100}, "n": 500, "n_failed": n_failed}


def make_cells(adapted=False):
    cells = [cell("none", "-", 24.0, CLEAN)]
    for codec, pts in (("elic", ELIC), ("jpeg", JPEG), ("hm", FAR), ("webp", ONE)):
        cells += [cell(codec, lv, b, s, p) for lv, b, s, p in pts]
    cells.append(cell("jpeg", "1", 0.19, 61.0, 23.1, task="gqa", n_failed=3))
    if adapted:
        cells.append(cell("none", "-", 24.0, 86.0, vlm="cve"))
        cells += [cell("jpeg", lv, b, s + 10, p, vlm="cve") for lv, b, s, p in JPEG]
    return cells


#: the codecs as the run named them (`cvb run -c jpeg,...`): jpeg is the default anchor
RUN = ["jpeg", "elic", "hm", "webp"]


def _bj(fn, a, t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, t = sorted(a, key=lambda p: p[1]), sorted(t, key=lambda p: p[1])
        return fn([p[1] for p in a], [p[2] for p in a], [p[1] for p in t], [p[2] for p in t],
                  method="pchip", require_matching_points=False)


def section(report, task="pope", vlm="qwen"):
    (s,) = [s for s in report["sections"] if s["task"] == task and s["vlm"] == vlm]
    return s


def test_sections_reference_and_default_anchor():
    r = build_report(make_cells(), codec_order=["webp", "jpeg", "elic"])
    assert [(s["task"], s["vlm"]) for s in r["sections"]] == [("pope", "qwen"), ("gqa", "qwen")]
    s = section(r)
    assert s["anchor"] == "webp"  # the codec the run named first, although elic came first in the store
    assert section(build_report(make_cells(), codec_order=["vtm", "jpeg"]))["anchor"] == "jpeg"  # vtm: not here
    assert section(build_report(make_cells()))["anchor"] == "elic"  # no order known: the section's first codec
    assert "Anchor: the codec the run named first, else the first codec." in markdown_report(r)
    assert s["reference"]["score"] == CLEAN
    # reference first, then codecs in store order, each by increasing bpp
    assert [(c["codec"], c["level"]) for c in s["cells"]][:6] == [
        ("none", "-"), ("elic", "1"), ("elic", "2"), ("elic", "3"), ("elic", "4"), ("jpeg", "1")]
    gqa = section(r, "gqa")
    assert gqa["reference"] is None and gqa["bd"] == [] and gqa["n_failed"] == 3
    # no codec is the anchor by its name: without the run's order, jpeg is not preferred
    no_jpeg = build_report([c for c in make_cells() if c["codec"] != "jpeg"])
    assert section(no_jpeg)["anchor"] == "elic"


def test_bd_values_match_reference_and_reasons():
    s = section(build_report(make_cells(), codec_order=RUN))
    bd = {row["codec"]: row for row in s["bd"]}
    assert set(bd) == {"elic", "hm", "webp"}
    expected = _bj(bjontegaard.bd_psnr, JPEG, ELIC)
    assert bd["elic"]["bd_metric"]["value"] == pytest.approx(expected, abs=1e-9)
    assert bd["elic"]["bd_rate"]["reason"] == "no overlap in score: [60.6, 73.7] vs [76.4, 84.1]"
    assert bd["hm"]["bd_metric"]["reason"] == "no overlap in bpp: [0.19, 0.3] vs [2, 3]"
    assert bd["webp"]["bd_metric"]["reason"] == (
        "webp needs >= 2 points with distinct bpp for pchip interpolation, got 1")
    # the anchor swaps the sign of a symmetric comparison
    flipped = {row["codec"]: row for row in section(build_report(make_cells(), anchor="elic"))["bd"]}
    assert flipped["jpeg"]["bd_metric"]["value"] == pytest.approx(-expected, abs=1e-9)


def test_markdown_and_terminal_tables_hold_the_numbers():
    r = build_report(make_cells(), codec_order=RUN)
    md = markdown_report(r)
    expected = _bj(bjontegaard.bd_psnr, JPEG, ELIC)
    assert f"{expected:+.2f}" in md
    # one cell row, with delta vs clean computed here; fixed decimals per column
    row = next(line for line in md.splitlines() if line.startswith("| jpeg | 3 |"))
    cols = [c.strip() for c in row.strip("|").split("|")]
    assert cols[2:5] == ["0.230", "66.00", f"{66.0 - CLEAN:+.2f}"]
    assert cols[5] == "24.00" and cols[6] == f"{24.0 / 50:.4f}"
    assert "no overlap in bpp: [0.19, 0.3] vs [2, 3]" in md
    assert "Uncompressed f1: 86.2" in md and "Uncompressed f1: not run" in md

    from rich.console import Console

    con = Console(record=True, width=250)
    for item in rich_tables(r):
        con.print(item)
    text = con.export_text()
    assert f"{expected:+.2f}" in text and "pope x qwen" in text
    assert "webp needs >= 2 points" in text


def test_correlation_matches_numpy():
    import numpy as np

    s = section(build_report(make_cells(), codec_order=RUN))
    comp = [c for c in make_cells() if c["task"] == "pope" and c["codec"] != "none"]
    x = [c["score"] for c in comp]
    y = [c["metrics"]["psnr"] for c in comp]
    row = next(r for r in s["correlation"] if r["metric"] == "psnr")
    assert row["n"] == len(comp)
    assert row["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))  # no ties in this data
    assert row["spearman"] == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_gap_and_adapter_sections():
    r = build_report(make_cells(adapted=True), adapted={"qwen": "cve"})
    s = section(r)
    jpeg_rows = [g for g in s["gap"] if g["codec"] == "jpeg"]
    assert len(jpeg_rows) == 4
    for g, (lv, _b, score, _p) in zip(jpeg_rows, JPEG):
        assert g["level"] == lv
        assert g["total"] == pytest.approx(CLEAN - score)
        assert g["generalization"] == pytest.approx(10.0)
        assert g["information"] == pytest.approx(CLEAN - score - 10.0)
    elic = [g for g in s["gap"] if g["codec"] == "elic"]
    assert all(g["reason"] == f"no cell for adapted VLM cve at elic {g['level']}" for g in elic)
    (gain,) = s["adapter_bd"]
    assert gain["codec"] == "jpeg" and gain["bd_metric"]["value"] == pytest.approx(10.0)
    assert "gap decomposition with cve" in markdown_report(r)


def test_usage_errors():
    with pytest.raises(UsageError, match="anchor codec 'vtm' is not in the results; codecs present: elic, jpeg"):
        build_report(make_cells(), anchor="vtm")
    with pytest.raises(UsageError, match="--adapted names VLMs with no results: cve"):
        build_report(make_cells(), adapted={"qwen": "cve"})
    with pytest.raises(UsageError, match="unknown interpolation"):
        build_report(make_cells(), interp="linear")


def test_interp_option_changes_method():
    r = build_report(make_cells(), codec_order=RUN, interp="akima")
    elic = next(row for row in section(r)["bd"] if row["codec"] == "elic")
    assert elic["bd_metric"]["method"] == "akima"
    cubic = build_report(make_cells(), codec_order=RUN, interp="cubic")
    hm = next(row for row in section(cubic)["bd"] if row["codec"] == "hm")
    assert hm["bd_metric"]["reason"] == "hm needs >= 4 points with distinct bpp for cubic interpolation, got 2"


def test_failed_cell_error_shown():
    cells = make_cells()
    cells.append({**cell("avif", "1", None, None), "error": "every image failed to encode"})
    r = build_report(cells)
    md = markdown_report(r)
    assert "every image failed to encode" in md
    row = next(r for r in section(r)["bd"] if r["codec"] == "avif")
    assert "avif needs >= 2 points" in row["bd_metric"]["reason"] and "got 0" in row["bd_metric"]["reason"]


def test_csv_has_every_cell_full_precision():
    cells = make_cells()
    rows = list(csv.DictReader(io.StringIO(cells_csv(build_report(cells)))))
    assert len(rows) == len(cells)
    got = {(r["task"], r["codec"], r["level_label"]): r for r in rows}
    r = got[("pope", "elic", "2")]
    assert float(r["bpp"]) == 0.18 and float(r["score"]) == 79.5 and float(r["metric.psnr"]) == 28.4
    assert r["level"] == "2" and r["uncompressed"] == "false"
    ref = got[("pope", "none", "none")]
    assert ref["metric.psnr"] == ""  # missing metric: empty, not "nan"
    # the uncompressed row: no level and no bpp (a number column never holds "-" nor a 24 bpp outlier)
    assert (ref["level"], ref["bpp"], ref["uncompressed"]) == ("", "", "true")
    assert float(r["detail.acc"]) == 0.795  # details are flat columns, not a JSON blob
    assert float(r["delta"]) == pytest.approx(79.5 - CLEAN)


def test_write_report_files_plots_and_self_contained_html(tmp_path):
    from PIL import Image

    r = build_report(make_cells(adapted=True), codec_order=RUN, adapted={"qwen": "cve"})
    written = write_report(r, tmp_path)
    names = sorted(p.name for p in written)
    for f in ("report.md", "cells.csv", "report.json", "report.html", "score_pope_qwen.png",
              "score_pope_cve.png", "score_gqa_qwen.png", "metrics_pope.png", "metrics_gqa.png",
              "score_pope.png", "score_pope_qwen.svg", "score_pope_qwen.pdf", "score_pope.pdf"):
        assert f in names and (tmp_path / f).stat().st_size > 0
    assert "score_gqa.png" not in names  # one VLM: no per-task figure of every VLM
    assert (tmp_path / "score_pope_qwen.pdf").read_bytes().startswith(b"%PDF")
    svg = (tmp_path / "score_pope_qwen.svg").read_text()
    assert "<svg" in svg and "jpeg, adapted" in svg and "qwen and cve (adapted)" in svg  # overlaid; text editable
    pngs = [p for p in written if p.suffix == ".png"]
    for p in pngs:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width >= 400 and im.height >= 300

    data = json.loads((tmp_path / "report.json").read_text())  # strict JSON: NaN became null
    assert data["sections"][0]["bd"][0]["codec"] == "elic"
    assert data["sections"][0]["bd"][2]["bd_metric"]["value"] is None

    html = (tmp_path / "report.html").read_text()
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == len(pngs)
    assert {base64.b64decode(u) for u in uris} == {p.read_bytes() for p in pngs}
    assert not re.search(r"https?://|<link|<script|src=\"(?!data:)", html)
    assert "no overlap in bpp: [0.19, 0.3] vs [2, 3]" in html
    assert "gap decomposition with cve" in html
    md = (tmp_path / "report.md").read_text()
    caption = ("pope, qwen: F1 (%) against bits per pixel (log scale), one curve per codec, points "
               "labelled with the codec level")
    assert f"]({'score_pope_qwen.png'})" in md and caption in md and caption in html


def test_empty_report_renders():
    r = build_report([])
    assert r["sections"] == []
    assert "cvb report" in markdown_report(r)


# ---- the command ------------------------------------------------------------------------------

def write_store(path, cells):
    """The cells in a real SQLite store as ``cvb run`` writes it (no predictions: no intervals)."""
    from cvb.run.store import Store

    codecs = {c["codec"]: {} for c in sorted(cells, key=lambda c: c["codec"] != "jpeg") if c["codec"] != "none"}
    with Store(path) as store:  # the run named jpeg first (`cvb run -c jpeg,...`): the default anchor
        run_id = store.begin_run({"cvb_version": "test", "options": {"codecs": codecs}})
        for i, c in enumerate(cells):
            store.save_cell({**c, "task_version": "1", "rate_rank": c["bpp"]}, f"fp{i}", run_id)
    return path


@pytest.fixture
def fake_store(tmp_path):
    """A results store holding make_cells(adapted=True)."""
    return write_store(tmp_path / "results.sqlite", make_cells(adapted=True))


def invoke(*args):
    from click.testing import CliRunner

    from cvb.cli import cli

    return CliRunner().invoke(cli, ["report", *args])


def test_cli_json_and_filters(fake_store):
    res = invoke("--store", str(fake_store), "--format", "json", "--task", "pope", "--vlm", "qwen",
                 "--adapted", "qwen=cve", "--interp", "akima")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [(s["task"], s["vlm"]) for s in data["sections"]] == [("pope", "cve"), ("pope", "qwen")]
    assert data["interp"] == "akima" and data["sections"][1]["gap"]


def test_cli_table_csv_markdown_and_out(fake_store, tmp_path):
    res = invoke("--store", str(fake_store))
    assert res.exit_code == 0, res.output
    assert "Bjontegaard deltas against jpeg" in res.stdout and "no overlap in bpp" in res.stdout
    res = invoke("--store", str(fake_store), "--format", "csv")
    assert res.exit_code == 0 and res.stdout.startswith("task,protocol,judge_model,vlm,codec,level,level_label")
    out = tmp_path / "rep"
    res = invoke("--store", str(fake_store), "--format", "markdown", "--out", str(out), "--no-plots")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("# cvb report") and "wrote 6 files" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["cells.csv", "cells.jsonl", "cells.parquet", "report.html",
                                                     "report.json", "report.md"]


def test_cli_usage_errors_exit_2(fake_store, tmp_path):
    res = invoke("--store", str(fake_store), "--anchor", "vtm")
    assert res.exit_code == 2 and "anchor codec 'vtm' is not in the results" in res.output
    res = invoke("--store", str(fake_store), "--vlm", "llava")
    assert res.exit_code == 2 and "no results for vlm 'llava'; VLMs present: cve, qwen" in res.output
    res = invoke("--store", str(fake_store), "--adapted", "qwen")
    assert res.exit_code == 2 and "--adapted 'qwen': no answers of that VLM" in res.output
    res = invoke("--store", str(fake_store), "--adapted", "qwen=")
    assert res.exit_code == 2 and "--adapted takes VLM=ADAPTED_VLM" in res.output
    res = invoke("--store", str(tmp_path / "missing.sqlite"))
    assert res.exit_code == 2 and "no results store at" in res.output


def test_report_from_a_real_store(tmp_path):
    """Round trip through the SQLite store ``cvb run`` writes (no monkeypatching)."""
    path = write_store(tmp_path / "results.sqlite", make_cells(adapted=True))
    res = invoke("--store", str(path), "--format", "json", "--adapted", "qwen=cve")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    pope = next(s for s in data["sections"] if (s["task"], s["vlm"]) == ("pope", "qwen"))
    assert pope["reference"]["score"] == CLEAN
    elic = next(r for r in pope["bd"] if r["codec"] == "elic")
    expected = _bj(bjontegaard.bd_psnr, JPEG, ELIC)
    assert elic["bd_metric"]["value"] == pytest.approx(expected, abs=1e-9)
    assert len(pope["gap"]) == len(JPEG) + len(ELIC) + len(FAR) + len(ONE)
    res = invoke("--store", str(path), "--task", "nope")
    assert res.exit_code == 2 and "no results for task 'nope'" in res.output and "gqa, pope" in res.output
