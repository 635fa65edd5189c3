"""The adapter's summary per codec in `cvb report --adapted`: mean gaps over the levels, the
generalization share of the summed gaps, and the BD gain, on hand-worked numbers."""

import math

import pytest

from cvb.analysis.gap import gap_summary
from cvb.report import build_report
from cvb.report.tables import markdown_report

CLEAN = 86.2
JPEG = [("1", 0.19, 60.6), ("3", 0.23, 66.0), ("5", 0.27, 70.9), ("6", 0.30, 73.7)]
GAINS = [12.0, 9.0, 6.0, 3.0]  # the adapted model's score gain at each level


def cell(codec, level, bpp, score, vlm):
    return {"task": "pope", "vlm": vlm, "codec": codec, "level": level, "bpp": bpp, "metrics": {},
            "score": score, "score_metric": "f1", "higher_is_better": True, "details": {}, "n": 500,
            "n_failed": 0}


def cells():
    out = [cell("none", "-", 24.0, CLEAN, "qwen"), cell("none", "-", 24.0, 86.0, "qwen+a")]
    out += [cell("jpeg", lv, b, s, "qwen") for lv, b, s in JPEG]
    out += [cell("jpeg", lv, b, s + g, "qwen+a") for (lv, b, s), g in zip(JPEG, GAINS)]
    out += [cell("webp", "50", 0.2, 70.0, "qwen")]  # no adapted counterpart: no summary numbers
    return out


def test_summary_per_codec():
    report = build_report(cells(), adapted={"qwen": "qwen+a"})
    (section,) = [s for s in report["sections"] if s["vlm"] == "qwen"]
    rows = {r["codec"]: r for r in section["gap_summary"]}
    jpeg = rows["jpeg"]
    totals = [CLEAN - s for _, _, s in JPEG]
    assert jpeg["levels"] == jpeg["levels_used"] == 4
    assert jpeg["total"] == pytest.approx(sum(totals) / 4)
    assert jpeg["generalization"] == pytest.approx(sum(GAINS) / 4)
    assert jpeg["information"] == pytest.approx(jpeg["total"] - jpeg["generalization"])
    assert jpeg["generalization_share"] == pytest.approx(sum(GAINS) / sum(totals))
    (gain,) = section["adapter_bd"]
    assert jpeg["bd_gain"] == pytest.approx(gain["bd_metric"]["value"]) and jpeg["bd_gain"] > 0
    assert rows["webp"]["levels_used"] == 0 and math.isnan(rows["webp"]["total"]) and rows["webp"]["bd_gain"] is None
    text = markdown_report(report)
    assert "adapter qwen+a, per codec" in text and f"{sum(GAINS) / sum(totals):.0%}" in text


def test_summary_of_nothing_is_empty():
    assert gap_summary([], []) == []


def test_a_multi_line_reason_is_one_line_in_the_gain_cell():
    """A BD gain that cannot be computed says why inside its table cell, on one line (a
    multi-line reason used to break the table's rows)."""
    from cvb.report.tables import adapter_table

    section = {"adapter_bd": [{"codec": "jpeg", "adapted_vlm": "qwen+a", "bd_metric": {
        "value": None, "reason": "qwen needs >= 2 points\n  with distinct bpp\nfor pchip interpolation, got 1"}}],
        "gap_summary": [], "score_metric": "f1", "task": "pope", "vlm": "qwen"}
    table = adapter_table(section)
    (row,) = table.rows
    assert row[1] == "qwen needs >= 2 points with distinct bpp for pchip interpolation, got 1"
