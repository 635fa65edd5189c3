"""The offline local-image tasks: `sample` (bundled photos) and `folder:` (your own images)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cvb.errors import ImageLoadError, UnavailableError, UsageError
from cvb.types import AnswerKind, ImageSource, Sample
from hang_guard import HANG_S


# ---- helpers ---------------------------------------------------------------------------------
def write_png(path: Path, colour=(200, 30, 30), size=(8, 6)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def write_lines(path: Path, *lines) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def sample(id, kind, answer=None, category="", options=(), meta=None, key="img"):
    return Sample(id=id, image=ImageSource(key=key, path=f"/nonexistent/{key}.png"), question="q?",
                  kind=kind, answer=answer, options=tuple(options), category=category, meta=meta or {})


@pytest.fixture
def folder(tmp_path):
    """b.png, a/c.jpg, a/d/e.PNG, plus things that must be skipped."""
    root = tmp_path / "imgs"
    write_png(root / "b.png")
    write_png(root / "a" / "c.jpg")
    write_png(root / "a" / "d" / "e.PNG")
    write_png(root / ".hidden" / "x.png")
    write_png(root / ".dot.png")
    (root / "notes.txt").write_text("not an image")
    return root


# ---- sample: the data ------------------------------------------------------------------------
def rows():
    from cvb_local.sample_task import read_annotations

    return read_annotations()


def test_sample_annotations_well_formed():
    from cvb_local.sample_task import KINDS

    data = rows()
    assert 60 <= len(data) <= 100
    ids = [r["id"] for r in data]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    allowed = {"id", "image", "category", "question", "answer", "object", "negative"}
    for r in data:
        assert set(r) <= allowed, r
        assert r["category"] in KINDS, r
        assert r["id"].startswith(r["image"] + "/"), r
        assert r["question"].strip().endswith("?"), r
        if r["category"] == "existence":
            obj = r["object"]
            assert r["answer"] in ("yes", "no"), r
            assert re.fullmatch(rf"(Is there (a|an) |Is there |Are there ){re.escape(obj)} in the image\?",
                                r["question"]), r
            if r["answer"] == "no":
                assert r.get("negative") in ("adversarial", "random"), r
            else:
                assert "negative" not in r, r
        else:
            assert isinstance(r["answer"], list) and r["answer"], r
            assert all(isinstance(a, str) and a.strip() for a in r["answer"]), r
            assert "object" not in r and "negative" not in r, r


def test_sample_yes_no_balanced_on_every_photo():
    per_image = Counter((r["image"], r["answer"]) for r in rows() if r["category"] == "existence")
    images = {img for img, _ in per_image}
    assert len(images) == 8
    for img in images:
        assert per_image[(img, "yes")] == per_image[(img, "no")] >= 2, img
    negatives = Counter(r.get("negative") for r in rows() if r["answer"] == "no")
    assert negatives["adversarial"] >= 15 and negatives["random"] >= 8


def test_sample_images_all_exist_and_decode():
    from cvb_local.sample_task import check, image_paths
    from cvb.sample_images import SAMPLE_PHOTOS

    assert check() is None
    paths = image_paths()
    used = {r["image"] for r in rows()}
    assert set(SAMPLE_PHOTOS) <= used, "every bundled photo is asked about"
    assert {r["image"] for r in rows() if r["category"] == "ocr"} >= {"page"}
    for name in used:
        img = ImageSource(key=name, path=str(paths[name])).load()
        assert img.mode == "RGB" and min(img.size) >= 150, name


def test_provenance_names_every_image():
    from cvb_local.sample_task import DATA

    text = (DATA.parent / "PROVENANCE.md").read_text()
    for name in {r["image"] for r in rows()}:
        assert f"`{name}`" in text, name
    for licence in ("public domain", "CC0", "Creative Commons Attribution 2.0"):
        assert licence in text


# ---- sample: the task ------------------------------------------------------------------------
def test_sample_samples_share_one_image_source_per_photo():
    from cvb_local.sample_task import SampleTask

    samples = list(SampleTask().samples())
    assert len(samples) == len(rows())
    by_key: dict[str, set] = {}
    for s in samples:
        by_key.setdefault(s.image.key, set()).add(s.image.path)
        assert s.kind == (AnswerKind.YESNO if s.category == "existence" else AnswerKind.OPEN)
    assert len(by_key) == 9 and all(len(paths) == 1 for paths in by_key.values())


def test_sample_limit_spans_photos_and_stays_balanced():
    from cvb_local.sample_task import SampleTask

    task = SampleTask()
    first = list(task.samples(limit=16))
    assert [s.id for s in first] == [s.id for s in list(task.samples())[:16]]
    assert len({s.image.key for s in first}) == 8
    answers = Counter(s.answer for s in first if s.category == "existence")
    assert answers["yes"] == answers["no"]
    assert list(task.samples(limit=0)) == []


def test_sample_missing_image_is_unavailable(monkeypatch):
    from cvb_local import sample_task

    real = sample_task.image_paths()
    monkeypatch.setattr(sample_task, "image_paths", lambda: {k: v for k, v in real.items() if k != "page"})
    assert "page" in sample_task.check() and "pip install" in sample_task.check()
    with pytest.raises(UnavailableError, match="page"):
        list(sample_task.SampleTask().samples())


def test_sample_scores_hand_worked():
    from cvb_local.sample_task import SampleTask

    y, o = AnswerKind.YESNO, AnswerKind.OPEN
    samples = [
        sample("e1", y, "yes", "existence"),
        sample("e2", y, "yes", "existence"),
        sample("e3", y, "no", "existence", meta={"negative": "adversarial"}),
        sample("e4", y, "no", "existence", meta={"negative": "random"}),
        sample("e5", y, "no", "existence", meta={"negative": "adversarial"}),
        sample("o1", o, ["Region"], "ocr"),
        sample("o2", o, ["zeros_like"], "ocr"),
        sample("o3", o, ["values"], "ocr"),
    ]
    preds = {"e1": "Yes, there is.", "e2": "Hard to say", "e3": "yes", "e4": "No.",
             "o1": "REGION-based segmentation", "o2": "np.zeros like"}  # e5, o3 failed
    task = SampleTask()
    score = task.score(samples, preds)
    # existence: TP e1, FN e2 (unparsed), FP e3, TN e4, e5 missing -> wrong, not "yes"
    # ocr: o1 substring hit; o2 "zeros_like" not in "np.zeros like"; o3 missing
    d = score.details
    assert score.metric == "acc" and score.higher_is_better
    assert score.value == pytest.approx(100 * 3 / 8)
    assert d["acc/existence"] == pytest.approx(40.0)
    assert d["precision"] == pytest.approx(50.0)
    assert d["recall"] == pytest.approx(50.0)
    assert d["f1"] == pytest.approx(50.0)
    assert d["yes_ratio"] == pytest.approx(40.0)
    assert d["acc/adversarial_negatives"] == 0.0 and d["acc/random_negatives"] == 100.0
    assert d["acc/ocr"] == pytest.approx(100 / 3)
    counts = (d["questions"], d["questions/existence"], d["questions/ocr"], d["missing"], d["unparsed"])
    assert counts == (8, 5, 3, 2, 1)
    assert task.score(samples, preds) == score  # pure
    assert [task.judge(s, preds.get(s.id)) for s in samples] == [1, 0, 0, 1, 0, 1, 0, 0]


def test_sample_scores_on_the_real_data():
    from cvb_local.sample_task import SampleTask

    task = SampleTask()
    samples = list(task.samples())
    n = len(samples)
    n_yes = sum(s.answer == "yes" for s in samples)
    oracle = {s.id: s.answer if isinstance(s.answer, str) else f"It says {s.answer[0]}." for s in samples}
    perfect = task.score(samples, oracle)
    assert perfect.value == 100.0 and perfect.details["f1"] == 100.0 and perfect.details["yes_ratio"] == 50.0
    always_yes = task.score(samples, {s.id: "Yes" for s in samples})
    assert always_yes.value == pytest.approx(100 * n_yes / n)
    assert always_yes.details["recall"] == 100.0 and always_yes.details["acc/ocr"] == 0.0
    only_existence = task.score([s for s in samples if s.category == "existence"], oracle)
    assert "acc/ocr" not in only_existence.details
    assert math.isnan(task.score([], {}).value)


# ---- folder: finding images ------------------------------------------------------------------
def test_folder_mode_recursive_sorted_skips_hidden(folder):
    from cvb_local.folder_task import DEFAULT_PROMPT, FolderTask

    task = FolderTask(str(folder))
    samples = list(task.samples())
    assert [s.id for s in samples] == ["a/c.jpg", "a/d/e.PNG", "b.png"]
    assert all(s.kind == AnswerKind.CAPTION and s.question == DEFAULT_PROMPT and s.answer is None
               for s in samples)
    assert all(s.meta["max_new_tokens"] == 64 for s in samples)
    assert samples[0].image.key == "a/c.jpg" and Path(samples[0].image.path) == folder / "a" / "c.jpg"
    assert [s.id for s in task.samples(limit=2)] == ["a/c.jpg", "a/d/e.PNG"]
    assert samples[2].image.load().size == (8, 6)


def test_glob_mode_relative_to_the_fixed_part(folder):
    from cvb_local.folder_task import FolderTask

    ids = [s.id for s in FolderTask(str(folder / "**" / "*.png")).samples()]
    assert ids == ["b.png"]  # glob matching is case-sensitive; *.png skips e.PNG and c.jpg
    ids = [s.id for s in FolderTask(str(folder / "a" / "**" / "*.*")).samples()]
    assert ids == ["c.jpg", "d/e.PNG"]


def test_single_file_and_custom_prompt(folder):
    from cvb_local.folder_task import FolderTask

    (s,) = FolderTask(str(folder / "b.png"), prompt="What colour is it?").samples()
    assert (s.id, s.question) == ("b.png", "What colour is it?")


@pytest.mark.parametrize("spec, message", [
    ("{tmp}/nowhere", "no such folder"),
    ("{tmp}/empty", "no images in folder"),
    ("{tmp}/empty/*.png", "no images in glob"),
    ("", "needs a folder or glob"),
])
def test_folder_without_images_is_a_usage_error(tmp_path, spec, message):
    from cvb_local.folder_task import FolderTask

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(UsageError, match=message):
        FolderTask(spec.format(tmp=tmp_path))


def test_folder_through_the_registry(folder):
    from cvb.plugins import get_registry

    reg = get_registry()
    task = reg.create("task", f"folder:{folder}")
    assert len(list(task.samples())) == 3
    with pytest.raises(UsageError):
        reg.create("task", "folder")
    assert reg.spec("task", "folder").options.keys() == {"questions", "prompt"}
    with pytest.raises(UsageError, match="unknown option.*questoins.*known: prompt, questions"):
        reg.create("task", f"folder:{folder}", questoins="q.jsonl")
    with pytest.raises(UsageError, match="unknown option"):
        reg.create("task", "sample", split="val")
    with pytest.raises(UsageError, match="takes no ':ARG'"):
        reg.create("task", "sample:x")


# ---- folder: questions files -----------------------------------------------------------------
def test_questions_file_kinds_and_answers(folder):
    from cvb_local.folder_task import FolderTask

    q = write_lines(folder / "q.jsonl",
                    {"image": "b.png", "question": "Is it red?", "answer": "Yes"},
                    "",
                    {"image": "b.png", "question": "Colour?", "options": ["blue", "red"], "answer": "red",
                     "id": "colour"},
                    {"image": "a/c.jpg", "question": "What is shown?", "answer": ["a square", "square"]},
                    {"image": "a/c.jpg", "question": "Is it a cat?", "kind": "yesno"},
                    {"image": "./a/c.jpg", "question": "Describe it.", "kind": "caption", "category": "mine"},
                    {"image": "gone.png", "question": "Is it there?", "answer": True})
    task = FolderTask(str(folder), questions=str(q))
    s = list(task.samples())
    assert [x.id for x in s] == ["b.png#q1", "colour", "a/c.jpg#q1", "a/c.jpg#q2", "a/c.jpg#q3", "gone.png#q1"]
    assert [x.kind for x in s] == [AnswerKind.YESNO, AnswerKind.CHOICE, AnswerKind.OPEN, AnswerKind.YESNO,
                                   AnswerKind.CAPTION, AnswerKind.YESNO]
    assert [x.answer for x in s] == ["yes", "B", ["a square", "square"], None, None, "yes"]
    assert s[1].options == ("blue", "red") and s[4].category == "mine" and s[0].category == "yesno"
    assert s[2].image is s[3].image is s[4].image  # one source per image: compressed once
    assert s[0].meta["line"] == 1 and s[1].meta["line"] == 3
    assert [x.meta["max_new_tokens"] for x in s] == [16, 16, 32, 16, 64, 16]
    assert [x.id for x in task.samples(limit=2)] == ["b.png#q1", "colour"]


def test_listed_but_missing_image_still_makes_a_sample(folder):
    from cvb_local.folder_task import FolderTask

    q = write_lines(folder / "q.jsonl", {"image": "gone.png", "question": "Is it there?", "answer": "no"})
    (s,) = FolderTask(str(folder), questions=str(q)).samples()
    assert s.image.path == str(folder / "gone.png")
    with pytest.raises((ImageLoadError, OSError)):  # the runner records the failure when loading
        s.image.load()


def test_questions_file_found_next_to_the_images(folder, monkeypatch, tmp_path):
    from cvb_local.folder_task import FolderTask

    write_lines(folder / "q.jsonl", {"image": "b.png", "question": "Is it red?", "answer": "yes"})
    monkeypatch.chdir(tmp_path)
    task = FolderTask(str(folder), questions="q.jsonl")
    assert task.questions_path == folder / "q.jsonl"
    with pytest.raises(UsageError, match="questions file not found"):
        FolderTask(str(folder), questions="other.jsonl")


def test_version_follows_the_questions(folder):
    from cvb_local.folder_task import FolderTask

    q = write_lines(folder / "q.jsonl", {"image": "b.png", "question": "Is it red?", "answer": "yes"})
    v1 = FolderTask(str(folder), questions=str(q)).version
    assert FolderTask(str(folder), questions=str(q)).version == v1
    write_lines(q, {"image": "b.png", "question": "Is it red?", "answer": "no"})
    assert FolderTask(str(folder), questions=str(q)).version != v1


GOOD = {"image": "b.png", "question": "Is it red?", "answer": "yes"}


@pytest.mark.parametrize("line, message", [
    ('{"image": "b.png", "question": "x?"', "not valid JSON"),
    ('["b.png", "x?"]', "expected a JSON object, got list"),
    ({"question": "x?"}, "missing 'image'"),
    ({"image": "b.png"}, "missing 'question'"),
    ({"image": "b.png", "question": "  "}, "'question' must be a non-empty string"),
    ({"image": "b.png", "question": "x?", "answers": "yes"}, "unknown field 'answers'"),
    ({"image": "b.png", "question": "x?", "kind": "essay"}, "'kind' must be one of"),
    ({"image": "b.png", "question": "x?", "kind": "yesno", "answer": "maybe"}, "must be \"yes\" or \"no\""),
    ({"image": "b.png", "question": "x?", "kind": "choice"}, "needs 'options'"),
    ({"image": "b.png", "question": "x?", "options": ["only one"]}, "2 to 26 non-empty texts"),
    ({"image": "b.png", "question": "x?", "kind": "open", "options": ["a", "b"]}, "only 'choice' has options"),
    ({"image": "b.png", "question": "x?", "options": ["cat", "dog"], "answer": "E"}, "neither an option letter"),
    ({"image": "b.png", "question": "x?", "options": ["B", "C"], "answer": "B"}, "ambiguous"),
    ({"image": "b.png", "question": "x?", "kind": "caption", "answer": "a dog"}, "takes no 'answer'"),
    ({"image": "b.png", "question": "x?", "answer": []}, "non-empty text"),
    ({"image": "b.png", "question": "x?", "id": ["x"]}, "'id' must be"),
    ({"image": "b.png", "question": "Is it red?", "id": "b.png#q1"}, "already used on line 1"),
])
def test_bad_questions_line_names_file_line_and_problem(folder, line, message):
    from cvb_local.folder_task import FolderTask

    q = write_lines(folder / "bad.jsonl", GOOD, line)
    with pytest.raises(UsageError) as err:
        FolderTask(str(folder), questions=str(q))
    text = str(err.value)
    assert f"{q}, line 2: " in text and message in text, text


def test_empty_questions_file_is_an_error(folder):
    from cvb_local.folder_task import FolderTask

    q = folder / "empty.jsonl"
    q.write_text("\n\n")
    with pytest.raises(UsageError, match="has no questions"):
        FolderTask(str(folder), questions=str(q))


# ---- folder: scoring -------------------------------------------------------------------------
def test_folder_consistency_hand_worked():
    from cvb_local.folder_task import score_folder

    c = AnswerKind.CAPTION
    samples = [sample("a", c), sample("b", c), sample("c", c), sample("d", c)]
    reference = {"a": "A red car.", "b": "a dog", "c": "two cats"}  # d failed uncompressed
    preds = {"a": "a red car", "b": "a brown dog", "d": "whatever"}  # c failed compressed
    score = score_folder(samples, preds, reference)
    # a same after normalisation; b differs; c missing -> inconsistent; d not comparable
    assert score.metric == "consistency"
    assert score.value == pytest.approx(100 / 3)
    # word F1: a 1.0; b: 2 common of 3 predicted and 2 reference words -> 0.8; c 0.0
    assert score.details["consistency_word_f1"] == pytest.approx(60.0)
    d = score.details
    assert (d["questions/compared"], d["missing"], d["questions/answered"]) == (3, 1, 0)
    assert math.isnan(score_folder(samples, preds, None).value)
    same = score_folder(samples, reference, reference)
    assert same.value == 100.0


def test_folder_accuracy_and_consistency_hand_worked(folder):
    from cvb_local.folder_task import FolderTask, score_folder

    y, ch, o = AnswerKind.YESNO, AnswerKind.CHOICE, AnswerKind.OPEN
    opts = ("blue", "red", "green")
    samples = [
        sample("y1", y, "yes"),
        sample("y2", y, "no"),
        sample("c1", ch, "B", options=opts),
        sample("c2", ch, "C", options=opts),
        sample("o1", o, ["a square", "square"]),
        sample("u1", y),           # no answer: consistency only
        sample("u2", ch, options=opts),
    ]
    preds = {"y1": "Yes.", "y2": "yes", "c1": "(B) red", "c2": "green", "o1": "Square!",
             "u1": "No, it is not.", "u2": "A"}
    reference = {"y1": "yes", "y2": "No", "c1": "B", "c2": "blue", "o1": "a square",
                 "u1": "no", "u2": "blue"}
    score = score_folder(samples, preds, reference)
    d = score.details
    # correct: y1, c1, c2 ("green" is option C's text), o1 ("square" after normalisation); y2 wrong
    assert score.metric == "acc" and score.value == pytest.approx(80.0)
    assert d["acc/yesno"] == 50.0 and d["acc/choice"] == 100.0 and d["acc/open"] == 100.0
    # same as reference: y1, c1, u1 (both no), u2 (A = blue); y2, c2, o1 differ -> 4 of 7
    assert d["consistency"] == pytest.approx(400 / 7)
    assert d["consistency/yesno"] == pytest.approx(200 / 3)
    assert d["consistency/choice"] == pytest.approx(200 / 3)
    assert d["consistency/open"] == 0.0
    assert (d["questions"], d["questions/answered"], d["questions/compared"]) == (7, 5, 7)
    task = FolderTask(str(folder))
    assert [task.judge(s, preds[s.id]) for s in samples] == [1.0, 0.0, 1.0, 1.0, 1.0, None, None]
    assert task.judge(samples[0], None) == 0.0


# ---- staying light ---------------------------------------------------------------------------
def test_listing_tasks_imports_no_image_library():
    probe = ("import sys\nfrom click.testing import CliRunner\nfrom cvb.cli import cli\n"
             "r = CliRunner().invoke(cli, ['list', 'tasks', '--json'])\nassert r.exit_code == 0, r.output\n"
             "import json; rows = {x['name']: x for x in json.loads(r.output)['tasks']}\n"
             "assert rows['sample']['usable'] and 'folder:PATH|GLOB' in rows, rows\n"
             "print(','.join(m for m in ('skimage', 'sklearn', 'matplotlib', 'PIL', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
