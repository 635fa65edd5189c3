"""Per-sample output: `cvb export --what samples` (question, gold, prompt, answer, verdict,
codec, level, bpp, image key), `--what versions`, and the exact image a VLM received through
`cvb cache show KEY` and `cvb export --images DIR`, checked against the pixels a recording fake
VLM was handed. All through fresh `cvb` processes."""

from __future__ import annotations

import csv
import importlib.machinery
import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import subprocess_env

from cvb.run.sample_rows import COLUMNS, LMMS_EVAL_LOG_SAMPLES
from hang_guard import HANG_S


def _cvb(*args, **env):
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *map(str, args)], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=HANG_S)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One real run: toy task (3 images x 2 questions), fake codec at levels 1 and 4, the texture
    VLM recording every image it is handed."""
    root = tmp_path_factory.mktemp("samples")
    images = make_images(root / "imgs", 3)
    record = root / "seen"
    record.mkdir()
    store, cache = root / "s.sqlite", root / "cache"
    run = _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
               "--metric", "none", "--store", store, "--cache-dir", cache, "-q", CVB_FAKES_RECORD=str(record))
    assert run.returncode == 0, run.stderr
    return {"root": root, "store": store, "cache": cache, "record": record, "images": images}


def test_samples_export_has_what_was_asked_and_answered(study):
    out = _cvb("export", "--what", "samples", "--format", "jsonl", "--store", study["store"])
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 3 * 2 * 3  # images x questions x (none + 2 levels)
    assert list(rows[0]) == list(COLUMNS["samples"])
    by_cell = {(r["sample_id"], r["codec"], r["level"]): r for r in rows}
    conn = sqlite3.connect(study["store"])
    bpp = dict(conn.execute("SELECT key, bpp FROM compressed"))
    for r in rows:
        truth = r["sample_id"].split("-")[0].rsplit("_", 1)[-1]
        word = r["question"].split()[-1].rstrip("?")
        assert r["question"] in ("Is the image smooth?", "Is the image textured?")
        assert r["gold"] == ("yes" if truth == word else "no") and r["kind"] == "yesno"
        assert r["prompt"].startswith(r["question"]) and len(r["prompt"]) > len(r["question"])  # + the instruction
        assert r["answer"] in ("Yes", "No")
        assert r["verdict"] == float(r["answer"].lower() == r["gold"])  # the task's own judge
        assert r["image"] == r["sample_id"].split("-")[0] + ".png"
        assert r["vlm"] == "scripted" and r["vlm_version_id"] and len(r["vlm_version_id"]) == 12
        if r["codec"] == "none":
            assert r["bpp"] is None and len(r["key"]) == 64
        else:
            assert r["codec"] == "fake" and r["level"] in ("1", "4") and r["bpp"] == bpp[r["key"]] > 0
    # the coarse level changes some answers (the fake VLM reads pixel spread): a verdict differs
    assert any(by_cell[(s, "fake", "1")]["verdict"] != by_cell[(s, "none", "-")]["verdict"]
               for s, c, _ in by_cell if c == "none")
    # the VLM version: once per model, not on every row
    versions = _cvb("export", "--what", "versions", "--store", study["store"])
    table = list(csv.DictReader(io.StringIO(versions.stdout)))
    assert [(t["vlm"], t["vlm_version_id"], t["answers"]) for t in table] == \
        [("scripted", rows[0]["vlm_version_id"], "18")]
    assert table[0]["vlm_version"] == conn.execute("SELECT DISTINCT vlm_version FROM predictions").fetchone()[0]
    # CSV: lists as JSON text, a header even where a cell is empty
    text = _cvb("export", "--what", "samples", "--store", study["store"]).stdout
    first = next(csv.DictReader(io.StringIO(text)))
    assert json.loads(first["options"]) == [] and first["gold"] in ("yes", "no")


def test_log_samples_fields_of_lmms_eval_all_have_a_column():
    """lmms-eval 0.7.3's own ``--log_samples`` record (read from its evaluator's source, not
    imported): every key it writes has a counterpart here, named in LMMS_EVAL_LOG_SAMPLES."""
    # on the path, not from sys.modules: a test before this one in the process may hold a
    # spec-less stand-in package there (tests/lmms_eval_oracle.py), which find_spec refuses
    spec = importlib.machinery.PathFinder.find_spec("lmms_eval")
    if spec is None:
        pytest.fail("lmms-eval is part of the test install (scripts/setup.sh)")
    source = (Path(spec.origin).parent / "evaluator.py").read_text(encoding="utf-8")
    block = source[source.index("logged_sample = {"):]
    block = block[:block.index("}\n")]
    keys = set(re.findall(r'^\s*"(\w+)":', block, re.M)) | set(re.findall(r'logged_sample\["(\w+)"\]', source))
    assert {"doc_id", "doc", "target", "resps", "filtered_resps"} <= keys  # the parse found the record
    assert keys <= set(LMMS_EVAL_LOG_SAMPLES), keys - set(LMMS_EVAL_LOG_SAMPLES)
    for ours in LMMS_EVAL_LOG_SAMPLES.values():
        assert ours is None or set(ours) <= set(COLUMNS["samples"]), ours


def _recorded(record: Path):
    for meta in sorted(record.glob("*.json")):
        sid, codec, level = meta.stem.split("~")
        info = json.loads(meta.read_text())
        yield sid, codec, level, info, meta.with_suffix(".raw").read_bytes()


def test_images_come_back_byte_identical_to_what_the_vlm_received(study):
    from PIL import Image

    out_dir = study["root"] / "exported"
    exp = _cvb("export", "--what", "samples", "--format", "jsonl", "--store", study["store"],
               "--cache-dir", study["cache"], "--images", out_dir)
    assert exp.returncode == 0, exp.stderr
    rows = {(r["sample_id"], r["codec"], r["level"] if r["codec"] != "none" else "None"): r
            for r in map(json.loads, exp.stdout.splitlines())}
    seen = list(_recorded(study["record"]))
    assert len(seen) == 18 and {c for _, c, _, _, _ in seen} == {"none", "fake"}
    for sid, codec, level, info, raw in seen:
        key = rows[(sid, codec, level)]["key"]
        with Image.open(out_dir / f"{key}.png") as im:
            assert (im.mode, list(im.size)) == (info["mode"], info["size"])
            assert im.tobytes() == raw, (sid, codec, level)
    # control: a coarse level's pixels differ from the original's (the check can fail)
    sid = seen[0][0]
    ref = next(r for s, c, _, _, r in seen if s == sid and c == "none")
    low = next(r for s, c, lv, _, r in seen if s == sid and c == "fake" and lv == "1")
    assert ref != low
    # `cvb cache show KEY --out`: a compressed image (bits only in the cache: decoded by the
    # codec named in the store) and an original (the task's file, checked against its hash)
    for codec in ("fake", "none"):
        sid, _, level, info, raw = next(x for x in seen if x[1] == codec)
        key = rows[(sid, codec, level)]["key"]
        png = study["root"] / f"show-{codec}.png"
        shown = _cvb("cache", "show", key, "--store", study["store"], "--cache-dir", study["cache"],
                     "--out", png, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["codec"] == codec
        with Image.open(png) as im:
            assert im.tobytes() == raw
    text = _cvb("cache", "show", key, "--store", study["store"], "--cache-dir", study["cache"])
    assert text.returncode == 0 and re.search(r"^codec\s+none$", text.stdout, re.M)


def test_cache_show_unknown_key_and_pruned_entry(study, tmp_path):
    bad = _cvb("cache", "show", "0" * 64, "--store", study["store"], "--cache-dir", study["cache"])
    assert bad.returncode == 2 and "no image with key" in bad.stderr and "--what samples" in bad.stderr
    key = sqlite3.connect(study["store"]).execute("SELECT key FROM compressed LIMIT 1").fetchone()[0]
    gone = _cvb("cache", "show", key, "--store", study["store"], "--cache-dir", tmp_path / "empty",
                "--out", tmp_path / "x.png")
    assert gone.returncode == 1 and "no longer in the image cache" in gone.stderr
    assert not (tmp_path / "x.png").exists()


def test_condition_of_an_adapted_vlm_comes_from_the_answer_note(study, tmp_path):
    """A VLM that notes what it was conditioned on (``Answer.meta``, stored as ``answer_meta``,
    as cvb_adapt's VLM does) has it in the export's ``condition`` column; answers with no
    note (the control: the plain study) leave it empty."""
    store = tmp_path / "noted.sqlite"
    run = _cvb("run", "--task", f"toy:{study['images']}", "--vlm", "scripted", "--codec", "fake", "--levels",
               "1,4", "--metric", "none", "--store", store, "--cache-dir", study["cache"], "-q", CVB_FAKES_NOTE="1")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(x) for x in _cvb("export", "--what", "samples", "--format", "jsonl", "--store",
                                        store).stdout.splitlines()]
    assert {(r["codec"], r["level"], r["condition"]) for r in rows} == \
        {("none", "-", "none/None"), ("fake", "1", "fake/1"), ("fake", "4", "fake/4")}
    plain = [json.loads(x) for x in _cvb("export", "--what", "samples", "--format", "jsonl", "--store",
                                         study["store"]).stdout.splitlines()]
    assert {r["condition"] for r in plain} == {None}


def test_real_codecs_images_come_back_as_the_vlm_saw_them(tmp_path):
    """JPEG 2000 (whose stored settings include some its factory does not take) and WebP through
    the real Pillow codecs: `cvb export --images` gives the VLM's pixels back, byte for byte."""
    from PIL import Image

    images = make_images(tmp_path / "imgs", 2, size=48)
    record, store, cache = tmp_path / "seen", tmp_path / "s.sqlite", tmp_path / "cache"
    record.mkdir()
    env = {"CVB_FAKES_RECORD": str(record), "CVB_FAKES_WITH_INSTALLED": "1"}
    run = _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "jpeg2000,webp", "-l", "jpeg2000=64",
               "-l", "webp=10", "--metric", "none", "--store", store, "--cache-dir", cache, "-q", **env)
    assert run.returncode == 0, run.stderr
    exp = _cvb("export", "--what", "samples", "--format", "jsonl", "--store", store, "--cache-dir", cache,
               "--images", tmp_path / "out", **env)
    assert exp.returncode == 0 and "not available" not in exp.stderr, exp.stderr
    keys = {(r["sample_id"], r["codec"], r["level"] if r["codec"] != "none" else "None"): r["key"]
            for r in map(json.loads, exp.stdout.splitlines())}
    seen = list(_recorded(record))
    assert {c for _, c, _, _, _ in seen} == {"none", "jpeg2000", "webp"}
    for sid, codec, level, info, raw in seen:
        with Image.open(tmp_path / "out" / f"{keys[(sid, codec, level)]}.png") as im:
            assert im.tobytes() == raw, (sid, codec, level)
