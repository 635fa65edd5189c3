"""Figures a paper can use: no two level labels overlap (boxes measured by matplotlib's
renderer), readable sizes, proper names and units, the confidence band in the legend, 300 dpi
PNG plus SVG and PDF, restyling through CVB_PLOT_STYLE; and the HTML page around them
(viewport, scroll containers, links, what the words mean). Numbers are the demo's
(`scripts/demo.sh`: the sample task, jpeg, webp and avif at four levels)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cvb.report import build_report
from cvb.report import plots
from hang_guard import HANG_S

CVB = str(Path(sys.executable).with_name("cvb"))
#: (codec, level, bpp, accuracy, CI, PSNR, MS-SSIM) of the demo's report
DEMO = [("avif", "10", 0.189, 56.0, (39.51, 72.31), 26.11, 0.9285),
        ("avif", "30", 0.327, 68.0, (57.75, 77.65), 28.98, 0.9634),
        ("avif", "50", 0.662, 72.0, (59.46, 83.52), 32.69, 0.9839),
        ("avif", "70", 1.218, 74.67, (66.67, 83.78), 36.82, 0.9921),
        ("jpeg", "1", 0.198, 49.33, (30.43, 67.21), 21.16, 0.7844),
        ("jpeg", "10", 0.348, 68.0, (57.35, 77.92), 26.19, 0.915),
        ("jpeg", "30", 0.657, 68.0, (57.53, 78.79), 29.65, 0.9669),
        ("jpeg", "75", 1.347, 73.33, (64.29, 83.78), 34.57, 0.988),
        ("webp", "0", 0.135, 65.33, (58.11, 73.33), 25.45, 0.8965),
        ("webp", "10", 0.312, 68.0, (56.52, 80.25), 28.7, 0.9526),
        ("webp", "50", 0.7, 70.67, (60.27, 82.26), 32.68, 0.9784),
        ("webp", "80", 1.151, 73.33, (64.29, 83.78), 35.48, 0.9881)]


def demo_cells(vlm="reference", twin=False):
    cells = [{"task": "sample", "vlm": vlm, "codec": "none", "level": "-", "bpp": 24.0, "metrics": {},
              "score": 74.67, "score_metric": "acc", "higher_is_better": True, "details": {}, "n": 75, "n_failed": 0}]
    rows = DEMO + ([("heif", lv, b, s, ci, p, m) for _, lv, b, s, ci, p, m in DEMO if _ == "avif"] if twin else [])
    for codec, level, bpp, score, _, psnr, msssim in rows:  # twin: a codec on avif's very points
        cells.append({**cells[0], "codec": codec, "level": level, "bpp": bpp, "score": score,
                      "metrics": {"psnr": psnr, "ms-ssim": msssim}})
    return cells


def demo_report(twin=False):
    report = build_report(demo_cells(twin=twin) + demo_cells("other", twin=twin))
    ci = {(c, lv): iv for c, lv, _, _, iv, _, _ in DEMO}
    for s in report["sections"]:
        s["reference"]["ci"] = [66.67, 83.78]
        for c in s["cells"]:
            codec = "avif" if c["codec"] == "heif" else c["codec"]  # the twin: avif's points
            c["ci"] = list(ci.get((codec, c["level"]), (66.67, 83.78)))
            c["ci_method"] = "cluster bootstrap"
    return report


def _label_boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_gid() == "level-label"]
    return texts, [(t, t.get_window_extent(r)) for t in texts]


@pytest.mark.parametrize("twin", [False, True])
def test_no_two_level_labels_overlap_in_any_figure(twin):
    report = demo_report(twin)
    s = report["sections"][0]
    figs = {"score": plots.draw_score(s), "task": plots.draw_task(report["sections"]),
            "metrics": plots.draw_metrics(s, report["metrics"])}
    points = 12 + 4 * twin
    want = {"score": points, "task": 2 * points, "metrics": 2 * points}
    for name, fig in figs.items():
        texts, boxes = _label_boxes(fig)
        assert len(texts) == want[name], name  # every point labelled
        for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
            if a.axes is b.axes:
                assert not ba.overlaps(bb), (name, a.get_text(), b.get_text(), ba, bb)
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:
                lb = legend.get_window_extent(fig.canvas.get_renderer())
                assert not any(bx.overlaps(lb) for t, bx in boxes if t.axes is ax), name
        assert min(t.get_fontsize() for t in texts) >= 7.5  # was 6-7 pt
        plots._pyplot().close(fig)


def test_names_units_legend_and_titles():
    report = demo_report()
    s = report["sections"][0]
    fig = plots.draw_score(s)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Accuracy (%)" and "bpp" in ax.get_xlabel()
    assert ax.get_title() == "sample x reference: Accuracy vs. bitrate"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "uncompressed, 95% CI" in legend and "95% CI (error bars)" in legend
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 8
    plots._pyplot().close(fig)
    fig = plots.draw_metrics(s, report["metrics"])
    assert [a.get_ylabel() for a in fig.axes] == ["PSNR (dB)", "MS-SSIM"]
    plots._pyplot().close(fig)
    assert plots.metric_label("ssim[downsample=True]") == "SSIM [downsample=True]"
    assert plots.metric_label("my-metric") == "my-metric"


def _store(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report import write_store

    return write_store(tmp_path / "demo.sqlite", demo_cells())


@pytest.mark.slow
def test_cvb_report_writes_print_figures_and_restyles(tmp_path):
    from PIL import Image

    store = _store(tmp_path)
    env = {**os.environ, "CVB_REPORT_CACHE": "off"}
    env.pop("CVB_PLOT_STYLE", None)
    out = tmp_path / "rep"
    res = subprocess.run([CVB, "report", "--store", str(store), "--out", str(out), "-q"], capture_output=True,
                         text=True, env=env, timeout=HANG_S)
    assert res.returncode == 0, res.stderr
    with Image.open(out / "score_sample_reference.png") as im:
        assert round(im.info["dpi"][0]) == 300 and im.width >= 1500  # 6.4 in at 300 dpi, cropped tight
    assert (out / "score_sample_reference.pdf").read_bytes().startswith(b"%PDF")
    svg = (out / "score_sample_reference.svg").read_text()
    assert "Accuracy (%)" in svg and "#123456" not in svg

    # restyled with a style file of the user's: applied on top of cvb's
    style = tmp_path / "paper.mplstyle"
    style.write_text("axes.facecolor: 123456\nfont.size: 7\n")
    out2 = tmp_path / "styled"
    res = subprocess.run([CVB, "report", "--store", str(store), "--out", str(out2), "-q"], capture_output=True,
                         text=True, env={**env, "CVB_PLOT_STYLE": str(style)}, timeout=HANG_S)
    assert res.returncode == 0, res.stderr
    assert "#123456" in (out2 / "score_sample_reference.svg").read_text()
    bad = subprocess.run([CVB, "report", "--store", str(store), "--out", str(tmp_path / "bad"), "-q"],
                         capture_output=True, text=True, env={**env, "CVB_PLOT_STYLE": "no-such-style"}, timeout=HANG_S)
    assert bad.returncode == 2 and "CVB_PLOT_STYLE" in bad.stderr and "ggplot" in bad.stderr

    # the page: viewport, every table scrolls sideways, vector files linked, words explained
    html = (out / "report.html").read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    tables = re.findall(r"(.{0,40})<table", html)
    assert tables and all(t.endswith('<div class="scroll">') for t in tables)
    assert html.count("<table") == html.count("</table></div>")
    assert "code { overflow-wrap: anywhere; }" in html  # provenance paths wrap at 390 px
    for f in ("score_sample_reference.svg", "score_sample_reference.pdf", "metrics_sample.svg"):
        assert f'href="{f}"' in html and (out / f).exists()
    read = html.split("How to read this report")[1].split("</details>")[0]
    assert "<b>cvb</b>: cvb&#x27;s own scoring rules" in read
    assert "no intervals or tests could be resampled here" in read  # a store without answers
    assert "jpeg: levels 1, 10, 30, 75 (lowest rate first); a higher level gives more bits" in read
    assert "24 bpp is the nominal rate of 8-bit RGB" in read
