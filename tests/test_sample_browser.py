"""The report's sample browser (samples.html): chosen samples (verdict changes first) at every
codec x level, with the images the VLM received, the question, the gold answer and each
model's answer marked; through fresh `cvb run` and `cvb report` processes."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import subprocess_env
from hang_guard import HANG_S


def _cvb(*args, **env):
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *map(str, args)], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=HANG_S)


def test_browser_shows_every_level_of_a_chosen_sample(tmp_path):
    from PIL import Image

    images = make_images(tmp_path / "imgs", 4)
    store, cache, record, out = tmp_path / "s.sqlite", tmp_path / "cache", tmp_path / "seen", tmp_path / "rep"
    record.mkdir()
    levels = ("1", "2", "4", "6")
    run = _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", ",".join(levels),
               "--metric", "none", "--store", store, "--cache-dir", cache, "-q", CVB_FAKES_RECORD=str(record))
    assert run.returncode == 0, run.stderr
    rep = _cvb("report", "--store", store, "--cache-dir", cache, "--out", out, "--no-plots", "--resamples", "0",
               "--samples", "2")
    assert rep.returncode == 0, rep.stderr
    page = (out / "samples.html").read_text(encoding="utf-8")
    assert 'href="samples.html"' in (out / "report.html").read_text(encoding="utf-8")
    assert '<meta name="viewport"' in page
    sections = re.findall(r'<section class="sample" id="t0s\d+">(.*?)</section>', page, re.S)
    conn = sqlite3.connect(store)
    changing = {sid for sid, n in conn.execute(
        "SELECT sample_id, COUNT(DISTINCT judge) FROM predictions GROUP BY sample_id") if n > 1}
    assert changing, "the fake codec's coarse levels should change some verdicts"
    ids = [re.search(r"<h3>([^<]+?)(?: <span|</h3>)", s).group(1) for s in sections]
    # verdict changes first (at most --samples of them), then 2 whose verdict never changes
    n_changing = min(2, len(changing))
    assert len(ids) == n_changing + 2 and set(ids[:n_changing]) <= changing and not set(ids[n_changing:]) & changing
    assert all("verdict changes" in s for s in sections[:n_changing])
    assert all("verdict changes" not in s for s in sections[n_changing:])
    for sid, section in zip(ids, sections):
        assert section.count('<div class="scroll"><table>') == 1  # the wide table scrolls
        question, gold = conn.execute("SELECT question, gold FROM samples WHERE sample_id=?", (sid,)).fetchone()
        assert f"<b>Question:</b> {question}" in section and f"<b>Gold:</b> {gold.strip(chr(34))}" in section
        for codec, level, key, text, judge in conn.execute(
                "SELECT codec, level, key, text, judge FROM predictions WHERE sample_id=?", (sid,)):
            caption = "original" if codec == "none" else f"{codec} {level}"
            assert f'<div class="cap">{caption}' in section, (sid, caption)
            assert f'<a href="samples/{key}.png"><img src="samples/{key}.thumb.jpg"' in section
            mark = "&#10003;" if judge == 1 else "&#10007;"
            assert f"{mark} {text}</span>" in section
            # the full-size image is what the VLM was handed, pixel for pixel
            raw = (record / f"{sid}~{codec}~{level if codec != 'none' else None}.raw").read_bytes()
            with Image.open(out / "samples" / f"{key}.png") as im:
                assert im.tobytes() == raw
            assert (out / "samples" / f"{key}.thumb.jpg").is_file()
        assert all(f'<div class="cap">fake {lv}' in section for lv in levels)  # every level


def test_no_browser_with_samples_zero(tmp_path):
    images = make_images(tmp_path / "imgs", 2)
    store, cache, out = tmp_path / "s.sqlite", tmp_path / "cache", tmp_path / "rep"
    assert _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1",
                "--metric", "none", "--store", store, "--cache-dir", cache, "-q").returncode == 0
    rep = _cvb("report", "--store", store, "--out", out, "--no-plots", "--resamples", "0", "--samples", "0")
    assert rep.returncode == 0 and not (out / "samples.html").exists() and (out / "report.html").exists()
    assert "samples.html" not in (out / "report.html").read_text(encoding="utf-8")
