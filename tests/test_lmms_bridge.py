"""``--task lmms-eval:NAME[:PATH]`` against lmms-eval 0.7.3's own task code, offline.

Ten image benchmarks (and POPE), each from a tiny local copy in the dataset's real schema
(tests/lmms_bridge_data.py): the prompt cvb sends is lmms-eval's ``doc_to_text``, the images are
``doc_to_visual``'s (decoded compressed ones through a real ``cvb run``, seen by a recording
VLM), the budget and stop strings are the YAML's, and the verdicts and aggregates equal
lmms-eval's ``process_results`` and aggregation functions on the same answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lmms_bridge_data as data
from test_tasks_common import make_task
from hang_guard import HANG_S

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
TASKS = [t for t in data.COPIES if t not in ("pope", "seedbench_ppl")]
N = 6


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    """No hub; the parquet builder's cache in tmp; aggregations that write files write in tmp."""
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)  # read when datasets was imported
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("CVB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


def bridged(task: str, root: Path, n: int = N):
    copy = data.COPIES[task]
    path, rows = data.write(copy, root / task, n)
    return make_task("lmms-eval", f"{task}:{path}"), data.decoded(copy, rows)


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def check_scores(task_name: str, task, samples, docs, predictions: list[str]) -> None:
    """cvb's verdicts and aggregates against lmms-eval's on the same answers."""
    o = data.oracle(task_name)
    results = [o.results(dict(d), p) for d, p in zip(docs, predictions)]
    preds = {s.id: p for s, p in zip(samples, predictions)}
    ours = task.score(samples, preds)
    for metric, aggregate in o.aggregations.items():
        items = [r[metric] for r in results if metric in r]
        if items:
            want = aggregate(items)
            assert ours.details[metric] == pytest.approx(want, abs=1e-12), (task_name, metric)
    headline = ours.metric.split(",")[0]
    assert ours.value == ours.details[ours.metric]
    # a document's verdict: its headline value (a dict's score), or the aggregation of it alone (MMMU)
    assert [task.judge(s, preds[s.id]) for s in samples] == [
        data.verdict(r[headline]) if data.verdict(r[headline]) is not None else o.aggregations[headline]([r[headline]])
        for r in results]


@pytest.mark.parametrize("name", TASKS)
def test_prompts_images_budget_and_scores_equal_lmms_eval(name, tmp_path):
    task, docs = bridged(name, tmp_path)
    samples = list(task.samples())
    o = data.oracle(name)
    assert [s.id for s in samples] == [str(i) for i in range(N)]
    assert [s.meta["prompt"] for s in samples] == [o.prompt(d) for d in docs]
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {o.budget}
    for s, d in zip(samples, docs):  # every visual, in order, pixel for pixel (losslessly kept)
        want = [pixels(v) for v in o.visuals(d)]
        got = [pixels(src.load()) for src in s.images]
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    if name == "mmmu_val":  # a question about two pictures carries both
        assert [len(s.images) for s in samples] == [2, 1] * (N // 2)
    # the dataset's own files (each decodes to doc_to_visual's pixels), not re-encoded copies
    own = {bytes(c["bytes"]) for r in data.COPIES[name].rows(N) for c in _cells(r)}
    assert all(src.data in own for s in samples for src in s.images)
    assert task.version.startswith("lmms-eval 0.7.3 " + name + " config ")

    for shift in range(0, 15, 2):  # every candidate answer meets every document
        predictions = [data.candidates(d, name)[(i + shift) % 15] for i, d in enumerate(docs)]
        check_scores(name, task, samples, docs, predictions)
    right = [data.candidates(d, name)[0] for d in docs]
    best = task.score(samples, dict(zip([s.id for s in samples], right)))
    assert best.value > 0  # the control scores
    # lmms-eval's mean of values that are all 0 or 1 is declared an accuracy (the report's Wilson
    # interval); a task's own aggregation (MMMU, MMStar) is not, whatever it gives
    assert best.accuracy_scale == (None if name in ("mmmu_val", "mmstar") else 1.0)


def test_bridged_pope_scores_as_pope_under_protocol_lmms_eval(tmp_path):
    from test_protocol_lmms_eval import random_predictions

    task, docs = bridged("pope", tmp_path, 18)
    builtin = make_task("pope", str(tmp_path / "pope"), protocol="lmms-eval")
    ours, theirs = list(task.samples()), list(builtin.samples())
    assert [s.meta["prompt"] for s in ours] == [s.meta["prompt"] for s in theirs]
    assert [(s.meta["max_new_tokens"], s.meta["stop"]) for s in ours] == [
        (s.meta["max_new_tokens"], s.meta["stop"]) for s in theirs]
    # the same files: their compressions are shared with the built-in task's
    assert [s.image.read_bytes() for s in ours] == [s.image.read_bytes() for s in theirs]
    f1 = make_task("lmms-eval", f"pope:{tmp_path / 'pope'}", metric="pope_f1_score")
    for seed in range(12):
        preds = random_predictions(len(ours), seed)
        a = task.score(ours, {s.id: p for s, p in zip(ours, preds)})
        b = builtin.score(theirs, {s.id: p for s, p in zip(theirs, preds)})
        for metric in ("pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio"):
            assert a.details[metric] == b.details[metric], metric
        assert [task.judge(s, p) for s, p in zip(ours, preds)] == [builtin.judge(s, p) for s, p in zip(theirs, preds)]
        c = f1.score(ours, {s.id: p for s, p in zip(ours, preds)})
        assert (c.metric, c.value) == (b.metric, b.value)
        assert c.accuracy_scale is None  # an F1, even an all-zero one, is no accuracy
    none_right = f1.score(ours, {s.id: "maybe" for s in ours})
    assert none_right.value == 0 and none_right.accuracy_scale is None
    assert a.metric == "pope_accuracy"  # the first metric every document reports


def test_a_real_run_sends_the_compressed_images_and_stores_lmms_eval_verdicts(tmp_path):
    """One in-process ``cvb run`` over the ten tasks, codec ``fake`` level 2 and the reference:
    a recording VLM sees lmms-eval's prompt and the decoded compressed image(s) of every
    document; the stored verdicts and the cells' scores are lmms-eval's."""
    from cvb.testing import FakeCodec, ScriptedVLM, registry_with_fakes, run_cli
    from cvb.specs import VLMSpec
    from conftest import make_plugin

    copies, plan = {}, {}
    for name in TASKS:
        task, docs = bridged(name, tmp_path, 4)
        copies[name] = (task, docs)
        o = data.oracle(name)
        for i, d in enumerate(docs):
            plan[o.prompt(d)] = (name, i, data.candidates(d, name)[i % 15], [pixels(v) for v in o.visuals(d)])
    seen = []

    def script(q):
        seen.append((q.prompt, q.codec, q.level, pixels(q.image), [pixels(m) for m in q.more_images],
                     q.max_new_tokens, q.stop))
        return plan[q.prompt][2]

    recorder = make_plugin("recorder", register_vlms=lambda register: register(VLMSpec(
        name="recorder", factory=lambda **kw: ScriptedVLM(script=script, name="recorder", max_images=8, **kw),
        kind="fake")))
    reg = registry_with_fakes(recorder)
    store = tmp_path / "r.sqlite"
    refs = ",".join(f"lmms-eval:{n}:{tmp_path / n}" for n in TASKS)
    out = run_cli(["run", "--task", refs, "--vlm", "recorder", "-c", "fake", "-l", "2", "--store", str(store),
                   "--cache-dir", str(tmp_path / "cache"), "--metric", "none", "-q", "--json"], registry=reg)
    assert out.exit_code == 0, out.output[-3000:]
    result = json.loads(out.output[out.output.index("{"):])
    assert result["work"]["predictions"] == 2 * 4 * len(TASKS)

    codec = FakeCodec()
    for prompt, c, level, image, more, budget, stop in seen:
        name, i, _answer, visuals = plan[prompt]
        assert (budget, stop) == data.oracle(name).budget
        want = visuals if c == "none" else [pixels(codec.decode(codec.encode(_pil(v), "2"))) for v in visuals]
        assert np.array_equal(image, want[0]) and len(more) == len(want) - 1
        assert all(np.array_equal(a, b) for a, b in zip(more, want[1:]))
        if c != "none":
            assert not np.array_equal(image, visuals[0])  # the control: compression changed it
    assert {c for _, c, *_ in seen} == {"none", "fake"}

    import sqlite3

    conn = sqlite3.connect(str(store))
    for name in TASKS:
        task, docs = copies[name]
        o = data.oracle(name)
        label = f"lmms-eval:{name}:{tmp_path / name}"
        answers = [data.candidates(d, name)[i % 15] for i, d in enumerate(docs)]
        samples = list(task.samples())
        judged = dict(conn.execute("SELECT sample_id, judge FROM predictions WHERE task=? AND codec='fake'",
                                   (label,)).fetchall())
        assert [judged[s.id] for s in samples] == [task.judge(s, a) for s, a in zip(samples, answers)]
        for cell in (c for c in result["cells"] if c["task"] == label):
            want = task.score(samples, {s.id: a for s, a in zip(samples, answers)})
            assert (cell["score_metric"], cell["score"]) == (want.metric, want.value)
            results = [o.results(dict(d), a) for d, a in zip(docs, answers)]
            metric = want.metric
            assert cell["score"] == pytest.approx(_aggregate(o, metric, results), abs=1e-12)
    # every image of a document is compressed and measured: MMMU's second pictures too
    mmmu_images = sum(len(o) for o in (data.oracle("mmmu_val").visuals(d) for d in copies["mmmu_val"][1]))
    (bpp,) = [c["bpp"] for c in result["cells"] if c["task"].startswith("lmms-eval:mmmu_val") and c["codec"] == "fake"]
    rows = conn.execute("SELECT COUNT(*), AVG(bpp) FROM compressed WHERE codec='fake'").fetchone()
    assert mmmu_images == 6 and rows[0] >= 4 * len(TASKS) + 2 and bpp > 0
    mmmu_keys = [k for (k,) in conn.execute(
        "SELECT key FROM compressed WHERE codec='fake' AND content_hash IN (SELECT content_hash FROM images "
        "WHERE task LIKE 'lmms-eval:mmmu_val%')")]
    assert len(mmmu_keys) == 6  # both pictures of the two-picture questions: each its own bpp
    means = conn.execute(f"SELECT AVG(bpp) FROM compressed WHERE key IN ({','.join('?' * 6)})", mmmu_keys).fetchone()
    assert bpp == pytest.approx(means[0])

    # a second run finds every answer stored (resume): nothing is asked, the scores are the same
    seen.clear()
    again = run_cli(["run", "--task", refs, "--vlm", "recorder", "-c", "fake", "-l", "2", "--store", str(store),
                     "--cache-dir", str(tmp_path / "cache"), "--metric", "none", "-q", "--json"], registry=reg)
    assert again.exit_code == 0, again.output[-3000:]
    second = json.loads(again.output[again.output.index("{"):])
    assert second["work"]["predictions"] == 0 and not seen
    assert sorted((c["task"], c["codec"], c["score"]) for c in second["cells"]) == sorted(
        (c["task"], c["codec"], c["score"]) for c in result["cells"])


def _cells(row: dict) -> list[dict]:
    return [c for v in row.values() for c in (v if isinstance(v, list) else [v])
            if isinstance(c, dict) and c.get("bytes")]


def test_a_visual_that_is_no_file_of_the_document_is_kept_as_png():
    """The control: pixels that no cell of the document decodes to (doc_to_visual drew on the
    image, or converted it) are kept as a lossless PNG of exactly those pixels."""
    import io

    from PIL import Image

    from cvb_lmms.task import _decoded, _image_source

    cell = data.picture(3)
    original = Image.open(io.BytesIO(cell)).convert("RGB")
    drawn = original.copy()
    drawn.putpixel((0, 0), (1, 2, 3))
    same = _image_source("t", 0, 0, original, _decoded([cell]))
    other = _image_source("t", 0, 0, drawn, _decoded([cell]))
    assert same.data == cell and other.data != cell
    assert np.array_equal(pixels(other.load()), pixels(drawn))


def _pil(arr):
    from PIL import Image

    return Image.fromarray(arr, "RGB")


def _aggregate(o, metric, results):
    return o.aggregations[metric]([r[metric] for r in results if metric in r])


def test_another_headline_rescores_the_stored_answers_without_asking(tmp_path):
    """``-o lmms-eval.metric=pope_f1_score`` after a run: the same stored answers, scored again
    with another headline (a cell of its own), the model not asked."""
    from cvb.specs import VLMSpec
    from cvb.testing import ScriptedVLM, registry_with_fakes, run_cli
    from conftest import make_plugin

    bridged("pope", tmp_path, 6)
    asked = []
    recorder = make_plugin("recorder2", register_vlms=lambda register: register(VLMSpec(
        name="recorder", factory=lambda **kw: ScriptedVLM(script=lambda q: asked.append(q) or "yes",
                                                          name="recorder", **kw), kind="fake")))
    reg = registry_with_fakes(recorder)
    base = ["run", "--task", f"lmms-eval:pope:{tmp_path / 'pope'}", "--vlm", "recorder", "-c", "fake", "-l", "2",
            "--store", str(tmp_path / "r.sqlite"), "--cache-dir", str(tmp_path / "cache"), "--metric", "none",
            "-q", "--json"]
    first = run_cli(base, registry=reg)
    assert first.exit_code == 0, first.output[-2000:]
    assert len(asked) == 12
    again = run_cli([*base, "-o", "lmms-eval.metric=pope_f1_score"], registry=reg)
    assert again.exit_code == 0, again.output[-2000:]
    result = json.loads(again.output[again.output.index("{"):])
    assert result["work"]["predictions"] == 0 and len(asked) == 12
    metrics = {(c["codec"], c["score_metric"]) for c in result["cells"]}
    assert metrics == {("none", "pope_f1_score"), ("fake", "pope_f1_score")}
    # all answered "yes" on a half-yes set: precision 0.5, recall 1, F1 2/3
    assert {round(c["score"], 9) for c in result["cells"]} == {round(2 / 3, 9)}


@pytest.mark.parametrize("name", ["docvqa_val", "mmmu_val"])
def test_bridged_tasks_pass_the_task_conformance_kit(name, tmp_path):
    """``cvb check task``'s rules (limit takes a prefix, as lmms-eval's --limit; judge in [0, 1];
    score pure and streamed alike; right answers told from wrong) on a bridged task."""
    from cvb.conformance.task_checks import check_task

    bridged(name, tmp_path)
    check_task(f"lmms-eval:{name}:{tmp_path / name}", limit=4).raise_for_failures()


def test_a_vlm_that_takes_one_image_refuses_a_two_picture_question(tmp_path):
    from cvb.run.vlm_session import refusal
    from cvb.run.plan import query_for
    from cvb.testing import ScriptedVLM

    task, _docs = bridged("mmmu_val", tmp_path, 2)
    two, one = list(task.samples())
    images = [src.load() for src in two.images]
    single = ScriptedVLM()
    assert "takes 1 image(s) per question; this question has 2" in refusal(
        single, "x", query_for(two, images[0], more_images=images[1:]))
    assert refusal(single, "x", query_for(one, images[0])) is None  # the control
    assert refusal(ScriptedVLM(max_images=4), "x", query_for(two, images[0], more_images=images[1:])) is None


def test_multiple_choice_is_read_from_logits_and_refused_without(tmp_path):
    """seedbench_ppl (output_type multiple_choice): a choice question to be answered from the
    choices' logits; the chosen letter reaches process_results as the lowest loss (lmms-eval's
    argmin), so acc is 1 exactly where it is the gold choice; a VLM that cannot read logits
    refuses, one that can answers."""
    from cvb.run.plan import query_for
    from cvb.run.vlm_session import refusal
    from cvb.testing import ScriptedVLM
    from cvb.types import AnswerKind

    task, docs = bridged("seedbench_ppl", tmp_path, 4)
    samples = list(task.samples())
    assert {s.kind for s in samples} == {AnswerKind.CHOICE} and "prompt" not in samples[0].meta
    assert [s.options for s in samples] == [("a dog", "a cat", "a car", "a tree")] * 4
    assert [s.question for s in samples] == [f"{d['question']} Answer :" for d in docs]  # seed_doc_to_text_mc
    for letter in "ABCD":
        assert [task.judge(s, letter) for s in samples] == [float(d["answer"] == letter) for d in docs]
    score = task.score(samples, {s.id: "B" for s in samples})
    assert (score.metric, score.value) == ("acc", 0.25)
    q = query_for(samples[0], samples[0].image.load())
    assert q.answer_by == "logits"
    assert "does not read answers from the choices' scores" in refusal(ScriptedVLM(), "x", q)
    assert refusal(ScriptedVLM(answers_by_logits=True), "x", q) is None


def test_bad_names_and_kinds_are_refused_with_the_reason(tmp_path):
    from cvb.errors import CvbError, UnavailableError, UsageError

    with pytest.raises(UsageError, match="did you mean.*chartqa"):
        make_task("lmms-eval", "chartqaa")
    with pytest.raises(CvbError, match="a group|a tag"):
        make_task("lmms-eval", "mmmu")
    with pytest.raises(UsageError, match="is a video task"):
        make_task("lmms-eval", "videomme")
    with pytest.raises(UsageError, match="scored by a judge model"):
        make_task("lmms-eval", "llava_in_the_wild")
    with pytest.raises(UsageError, match="does not exist"):
        make_task("lmms-eval", f"chartqa:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnavailableError, match="no split 'test'.*huggingface-cli download"):
        make_task("lmms-eval", f"chartqa:{tmp_path / 'empty'}")
    with pytest.raises(UnavailableError, match="cannot load .*ChartQA.*hub.*lmms-eval:chartqa:DIR"):
        make_task("lmms-eval", "chartqa")  # offline, no local copy


def test_list_tasks_source_lmms_eval(tmp_path, monkeypatch):
    from cvb.testing import run_cli

    out = run_cli(["list", "tasks", "--source", "lmms-eval", "--json"])
    assert out.exit_code == 0, out.output[-2000:]
    rows = {r["name"]: r for r in json.loads(out.output[out.output.index('{\n  "cvb_json"'):])["tasks"]}
    assert len(rows) > 1000
    for name in TASKS:
        row = rows[f"lmms-eval:{name}"]
        assert (row["kind"], row["usable"], row["output_type"]) == ("image", True, "generate_until"), row
        assert row["data"] == "needs a local copy (offline)"
    assert rows["lmms-eval:videomme"]["kind"] == "video" and not rows["lmms-eval:videomme"]["usable"]
    assert rows["lmms-eval:llava_in_the_wild"]["status"].startswith("unsupported: scored by a judge model")
    # found one call deep: MathVista's process_results asks its evaluator, which asks GPT
    assert rows["lmms-eval:mathvista_testmini_cot"]["status"].startswith("unsupported: scored by a judge model")
    assert (rows["lmms-eval:mmlu_anatomy"]["kind"] == "text"
            or not rows.get("lmms-eval:mmlu_anatomy", {"usable": 0})["usable"])
    assert rows["lmms-eval:seedbench_ppl"]["output_type"] == "multiple_choice"
    assert "logits" in rows["lmms-eval:seedbench_ppl"]["status"]
    bad = run_cli(["list", "tasks", "--source", "nope"])
    assert bad.exit_code != 0 and "sources: lmms-eval" in bad.output


def _written(text: str, seed: int) -> bytes:
    """A picture of a number (what a document question asks about), as PNG."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("RGB", (220, 80), (250 - seed * 7, 250, 245))
    ImageDraw.Draw(im).text((12, 14), text, fill=(10, 10, 30), font=ImageFont.load_default(size=44))
    import io

    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.slow
def test_end_to_end_cli_two_codecs_then_report_with_bd(tmp_path):
    """``cvb run --task lmms-eval:docvqa_val:LOCAL`` on the offline reference model with two
    codecs, in a fresh process, then ``cvb report``: a BD row between the codecs, the cells
    scored by lmms-eval's ANLS of the stored answers."""
    import os
    import sqlite3
    import subprocess

    from conftest import VENV_BIN

    numbers = ["4217", "8830", "1975", "602"]
    copy = data.COPIES["docvqa_val"]
    rows = data._docvqa(len(numbers))
    for i, (row, number) in enumerate(zip(rows, numbers)):
        row.update(question=f"What number is written in the document {i}?", answers=[number],
                   image={"bytes": _written(number, i), "path": None})
    root = tmp_path / "DocVQA"
    path, _ = data.write(data.Copy(copy.task, copy.split, copy.features, lambda n: rows, config="DocVQA",
                                   layout="dict"), root, len(rows))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    store = tmp_path / "r.sqlite"
    task = f"lmms-eval:docvqa_val:{path}"
    run = subprocess.run([str(VENV_BIN / "cvb"), "run", "--task", task, "--vlm", "reference", "-c", "jpeg,webp",
                          "-l", "jpeg=5,90", "-l", "webp=5,90", "--store", str(store), "--cache-dir",
                          str(tmp_path / "cache"), "--metric", "none", "-q", "--json"],
                         capture_output=True, text=True, timeout=HANG_S, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["work"]["predictions"] == 5 * len(numbers)
    cells = {(c["codec"], c["level"]): c for c in result["cells"]}
    assert set(cells) == {("none", "-"), ("jpeg", "5"), ("jpeg", "90"), ("webp", "5"), ("webp", "90")}

    # every cell's score is lmms-eval's mean ANLS of the answers the store holds
    anls = data.load("api.metrics").anls
    conn = sqlite3.connect(str(store))
    for (codec, level), cell in cells.items():
        texts = dict(conn.execute("SELECT sample_id, text FROM predictions WHERE task=? AND codec=? AND level=?",
                                  (task, codec, level)).fetchall())
        assert len(texts) == len(numbers)
        want = [anls(references=[n], predictions=[texts[str(i)].strip()])["anls"] for i, n in enumerate(numbers)]
        assert cell["score_metric"] == "anls" and cell["score"] == pytest.approx(sum(want) / len(want))
        assert codec == "none" or cell["bpp"] > 0
    assert cells[("jpeg", "90")]["bpp"] > cells[("jpeg", "5")]["bpp"]

    report = subprocess.run([str(VENV_BIN / "cvb"), "report", "--store", str(store), "--format", "json",
                             "--resamples", "50"], capture_output=True, text=True, timeout=HANG_S, env=env)
    assert report.returncode == 0, report.stderr[-3000:]
    (section,) = json.loads(report.stdout)["sections"]
    assert section["task"] == task and section["score_metric"] == "anls"
    (bd,) = [r for r in section["bd"] if r["codec"] == "webp"]
    assert bd["anchor"] == "jpeg" and bd["bd_metric"]["kind"] == "bd-metric"
    assert bd["bd_metric"]["value"] is not None or bd["bd_metric"]["reason"]


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "idefics3"])
def test_hf_vlm_sends_every_image_of_a_question(arch, tiny_vlm_dirs):
    """A real (tiny) checkpoint through the hf plugin: a question with two images reaches the
    processor as two image entries of the chat template (two images' worth of pixels), and is
    answered; the same question with one image is the control."""
    from PIL import Image

    from cvb.plugins import get_registry
    from cvb.types import Query

    vlm = get_registry().create("vlm", f"hf:{tiny_vlm_dirs[arch]}", max_new_tokens=3)
    first, second = Image.new("RGB", (40, 30), (200, 30, 30)), Image.new("RGB", (30, 40), (20, 30, 200))
    two = Query(image=first, prompt="Which is red?", more_images=(second,))
    one = Query(image=first, prompt="Which is red?")
    vlm.answer([one])  # loads the weights
    enc_two, enc_one = vlm.processed([two], ["Which is red?"]), vlm.processed([one], ["Which is red?"])
    if arch == "qwen2_5_vl":
        assert enc_two["image_grid_thw"].shape[0] == 2 and enc_one["image_grid_thw"].shape[0] == 1
    else:
        assert enc_two["pixel_values"].shape[1] == 2 * enc_one["pixel_values"].shape[1]
    assert enc_two["input_ids"].shape[1] > enc_one["input_ids"].shape[1]
    (answer,) = vlm.answer([two])
    assert answer.error is None and vlm.max_images >= 2
