"""``protocol=lmms-eval`` against lmms-eval 0.7.3's own task code, run offline on local docs.

For every task: a local copy in the hub's schema, a table of tricky predictions (the quirks the
comparison found, and more written from lmms-eval's rules), then cvb's prompts, budgets, stop
strings, per-sample verdicts and aggregates against lmms-eval's ``doc_to_text``, yaml,
``process_results`` and aggregation functions on the same docs. Equality is exact.
"""

from __future__ import annotations

import pytest

from lmms_eval_oracle import exact_match_hf_evaluate, load, yaml_of
from test_tasks_common import image_cell, make_task, write_dataset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # lmms-eval's aggregations write submission files into the cwd


def local_copy(root, rows: list[dict], types: dict, split: str, config: str | None = None, layout="parquet"):
    import datasets

    kinds = {"s": datasets.Value("string"), "i": datasets.Value("int64"), "img": datasets.Image(),
             "imgs": datasets.List(datasets.Image()), "ss": datasets.List(datasets.Value("string"))}
    features = datasets.Features({k: kinds[v] for k, v in types.items()})
    cols = {k: [r.get(k) for r in rows] for k in types}
    return write_dataset(cols, features, root, split=split, config=config, layout=layout)


def generation(yaml: dict) -> tuple[int | None, tuple[str, ...]]:
    gen = yaml.get("generation_kwargs") or {}
    return gen.get("max_new_tokens"), tuple(gen.get("until", ["\n\n"]))  # api/task.py:186-187


def verdicts(task, samples, preds):
    return [task.judge(s, preds.get(s.id, "")) for s in samples]


PIECES = ["Yes", "yes", "YES", "No", "no", "Y", "n", "y", "A", "B", "C", "D", "E", "a", "b", "c", "(B)", "B.",
          "C)", ":D", "A:", "(A).", "The answer is", "answer is", "I choose", "none", "None", "Nope", "\n\n", "\n",
          " ", "  ", ".", ",", "!", "?", "STOP", "ＳＴＯＰ", "４０９７", "4097", "\\Sigma", "x", "red", "blue", "left",
          "right", "cat", "dog", "table", "ASSISTANT:", "option", "I think", "Cannot determine", "t-shirt",
          "yes.", "1", "2", "go", "wait", "stop", "Hello\nWorld", "$12.50", "a + b", "　", "There are", "is"]


def random_predictions(n: int, seed: int) -> list[str]:
    """Held-out style predictions: 1-4 tricky pieces joined by random separators."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(0, 4)
        out.append("".join(rng.choice(["", " ", "\n", ". ", ", "]) + rng.choice(PIECES) for _ in range(k)))
    return out


# ---- POPE ------------------------------------------------------------------------------------
POPE_PREDS = ["Yes", "Yes.", "no\n\nThere is no dog.", "Y", "no", " yes ", "", "NO", "There is a dog, yes.",
              "Nope", None, "yes", "No.", "no", "maybe", "yes"]


def test_pope(tmp_path):
    rows = []
    for i, pred in enumerate(POPE_PREDS):
        cat = ("random", "popular", "adversarial")[i % 3]
        rows.append({"id": str(i), "question_id": str(i), "question": f"  Is there a thing {i} in the image? ",
                     "answer": "yes" if i % 2 == 0 else "no", "image_source": f"COCO_{i // 4}",
                     "image": image_cell((i * 9, 20, 20)), "category": cat})
    path = local_copy(tmp_path / "POPE", rows, {"id": "s", "question_id": "s", "question": "s", "answer": "s",
                                                "image_source": "s", "image": "img", "category": "s"}, "test")
    task = make_task("pope", str(path), protocol="lmms-eval")
    samples = list(task.samples())
    preds = {s.id: p for s, p in zip(samples, POPE_PREDS) if p is not None}
    u, yaml = load("tasks.pope.utils"), yaml_of("pope", "pope.yaml")
    kwargs = yaml["lmms_eval_specific_kwargs"]["default"]
    docs = rows
    assert [s.meta["prompt"] for s in samples] == [u.pope_doc_to_text(d, kwargs) for d in docs]
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {generation(yaml)} == {(128, ("\n\n",))}

    def compare(pred_list):
        preds = {s.id: p for s, p in zip(samples, pred_list) if p is not None}
        results = [u.pope_process_results(d, [(p or "").strip()]) for d, p in zip(docs, pred_list)]
        assert verdicts(task, samples, preds) == [r["pope_accuracy"]["score"] for r in results]
        ours = task.score(samples, preds)
        for metric in ("accuracy", "precision", "recall", "f1_score", "yes_ratio"):
            want = getattr(u, f"pope_aggregate_{metric}")([r[f"pope_{metric}"] for r in results])
            assert ours.details[f"pope_{metric}"] == want, metric
            for cat in ("random", "popular", "adversarial"):  # pope_full's subtasks
                sub = [r[f"pope_{metric}"] for r, d in zip(results, docs) if d["category"] == cat]
                assert ours.details[f"pope_{metric}/{cat}"] == getattr(u, f"pope_aggregate_{metric}")(sub)
        return ours

    ours = compare(POPE_PREDS)
    for seed in range(30):
        compare(random_predictions(len(samples), seed))
    assert ours.metric == "pope_f1_score" and ours.value == ours.details["pope_f1_score"]
    # the quirks the issue lists: "Yes." and "Y" are wrong for lmms-eval, yes-ratio is the truth's
    assert verdicts(task, samples[:4], preds) == [1.0, 0.0, 0.0, 0.0] and ours.details["pope_yes_ratio"] == 0.5


# ---- MME -------------------------------------------------------------------------------------
MME_PREDS = ["Yes", "No", "Nope", "None of them", "Cannot determine", "no.", "yes, it is", "n", "y", "Y.",
             "", "The answer is no", "NO", "Yes", "noo", "yesterday"]
MME_CATS = ["OCR", "count", "code_reasoning", "artwork"]


def test_mme(tmp_path):
    rows = []
    for i, _ in enumerate(MME_PREDS):
        cat = MME_CATS[(i // 2) % len(MME_CATS)]
        rows.append({"question_id": f"{cat}/{i // 2:04d}.png", "image": image_cell((i // 2 * 20, 9, 9)),
                     "question": f"Is this question {i} true? Please answer yes or no.",
                     "answer": "Yes" if i % 2 == 0 else "No", "category": cat})
    path = local_copy(tmp_path / "MME", rows, {"question_id": "s", "image": "img", "question": "s",
                                               "answer": "s", "category": "s"}, "test")
    task = make_task("mme", str(path), protocol="lmms-eval")
    samples = list(task.samples())
    assert [s.id for s in samples] == [f"{r['question_id']}#{i % 2}" for i, r in enumerate(rows)]
    preds = {s.id: p for s, p in zip(samples, MME_PREDS)}
    u, yaml = load("tasks.mme.utils"), yaml_of("mme", "mme.yaml")
    kwargs = yaml["lmms_eval_specific_kwargs"]["default"]
    assert [s.meta["prompt"] for s in samples] == [u.mme_doc_to_text(d, kwargs) for d in rows]
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {generation(yaml)}

    def compare(pred_list):
        preds = {s.id: p for s, p in zip(samples, pred_list)}
        results = [u.mme_process_results(d, [p.strip()]) for d, p in zip(rows, pred_list)]
        assert verdicts(task, samples, preds) == [next(iter(r.values()))["score"] for r in results]
        ours = task.score(samples, preds)
        for key in ("mme_perception_score", "mme_cognition_score"):
            want = u.mme_aggregate_results([r[key] for r in results if key in r])
            assert ours.details[key] == want, key
        return ours

    for seed in range(30):
        compare(random_predictions(len(samples), seed))
    ours = compare(MME_PREDS)
    assert ours.value == ours.details["mme_perception_score"] + ours.details["mme_cognition_score"]
    # first-4-characters rule: "Nope" (truth yes) and "None of them" (truth no) read "no"; the
    # refusal "Cannot determine" (truth yes) is "other"
    assert verdicts(task, samples[2:5], preds) == [0.0, 1.0, 0.0]


# ---- SEED-Bench ------------------------------------------------------------------------------
SEED_PREDS = ["A", "b", "B. blue", "The answer is C", "  D", "", "C", "(A)", "a", "Both A and B"]


def test_seedbench(tmp_path):
    rows = []
    for i, _ in enumerate(SEED_PREDS):
        rows.append({"answer": "ABCDA BCDAB"[i].strip() or "A", "choice_a": "red", "choice_b": "blue",
                     "choice_c": " green", "choice_d": "None", "data_id": f"img_{i // 3}.jpg",
                     "data_type": "image", "question": f"Question {i}? ", "question_id": str(100 + i),
                     "image": [image_cell((i * 20, 1, 1))]})
    path = local_copy(tmp_path / "SEED", rows, {"answer": "s", "choice_a": "s", "choice_b": "s", "choice_c": "s",
                                                "choice_d": "s", "data_id": "s", "data_type": "s", "question": "s",
                                                "question_id": "s", "image": "imgs"}, "test")
    task = make_task("seedbench", str(path), protocol="lmms-eval")
    samples = list(task.samples())
    preds = {s.id: p for s, p in zip(samples, SEED_PREDS)}
    u, yaml = load("tasks.seedbench.utils"), yaml_of("seedbench", "seedbench.yaml")
    assert [s.meta["prompt"] for s in samples] == [u.seed_doc_to_text(d) for d in rows]
    assert {s.meta["stop"] for s in samples} == {generation(yaml)[1]} == {("ASSISTANT:",)}

    def compare(pred_list):
        preds = {s.id: p for s, p in zip(samples, pred_list)}
        results = [u.seed_process_result(d, [p.strip()]) for d, p in zip(rows, pred_list)]
        want = [u.seed_aggregation_result([r["seed_image"]]) for r in results]  # one-row aggregation = verdict
        assert verdicts(task, samples, preds) == want
        ours = task.score(samples, preds)
        assert ours.value == ours.details["seed_image"] == u.seed_aggregation_result([r["seed_image"] for r in results])

    compare(SEED_PREDS)
    for seed in range(30):
        compare(random_predictions(len(samples), seed))
    # "b" (truth B) right: case-insensitive; "B. blue" (truth C) and "The answer is C" (truth D):
    # only the first character counts
    assert verdicts(task, samples[1:4], preds) == [1.0, 0.0, 0.0]


# ---- MMBench (mmbench_en_dev_static) ------------------------------------------------------------
def mmbench_rows():
    base = [
        # index, question, hint, answer, A, B, C, D, category
        (0, "What animal is shown?", None, "B", "cat", "dog", "bird", "fish", "object_localization"),
        (1, "What does the sign say?", "Look at the sign.", "C", "stop", "go", "wait", None, "ocr"),
        (2, "Which option is right?", "nan", "A", "None", "left", "right", None, "spatial_relationship"),
        (3, "Count the cars.", None, "D", "1", "2", "3", "4", "counting"),
        (4, "What colour?", "A hint", "A", "red", "green", None, None, "attribute"),
    ]
    rows = []
    for idx, q, hint, ans, *opts, cat in base:
        opts = [o for o in opts if o is not None]
        rows.append((idx, q, hint, ans, opts, cat))
        for k in range(1, len(opts)):  # the data's own circular copies at index + k * 1e6
            rot = opts[k:] + opts[:k]
            new_ans = "ABCD"[(ord(ans) - 65 - k) % len(opts)]
            rows.append((idx + k * 1_000_000, q, hint, new_ans, rot, cat))
    out = []
    for idx, q, hint, ans, opts, cat in rows:
        r = {"index": idx, "question": q, "hint": hint, "answer": ans, "category": cat,
             "image": image_cell((idx % 7 * 30, idx // 1_000_000 * 40, 50)), "source": "test",
             "L2-category": "perception" if idx % 2 else "reasoning", "comment": None, "split": "dev"}
        for letter, text in zip("ABCD", opts + [None] * (4 - len(opts))):
            r[letter] = text
        out.append(r)
    return out


def mmbench_prediction(row) -> str:
    """Right, wrong, lowercase, wordy, option text, nothing: one of each across the copies."""
    idx = row["index"]
    q, k = idx % 1_000_000, idx // 1_000_000
    right = row["answer"]
    table = {
        0: [right, f"The answer is {right}.", f"({right})", f"{right}. it is"],  # all right
        1: [right, right.lower(), f"I think {right}"],  # lowercase b: wrong for lmms-eval's prefetch
        2: [right, row[right] if row[right] != "None" else "none of these", "A or B"],
        3: [right, "E", right, right],  # E counts among lmms-eval's candidates
        4: ["", right],
    }
    return table[q][k]


def mmbench_copy(root, rows):
    types = {"index": "i", "question": "s", "hint": "s", "answer": "s", "A": "s", "B": "s", "C": "s", "D": "s",
             "category": "s", "image": "img", "source": "s", "L2-category": "s", "comment": "s", "split": "s"}
    return local_copy(root, rows, types, "dev", config="en")


def test_mmbench(tmp_path):
    rows = mmbench_rows()
    task = make_task("mmbench", str(mmbench_copy(tmp_path / "MMBench", rows)), protocol="lmms-eval")
    samples = list(task.samples())
    assert sorted(int(s.id) for s in samples) == sorted(r["index"] for r in rows)  # every row, copies too
    by_id = {str(r["index"]): r for r in rows}
    preds = {s.id: mmbench_prediction(by_id[s.id]) for s in samples}

    u = load("tasks.mmbench.en_utils")
    yaml = yaml_of("mmbench", "_default_template_mmbench_en_yaml")
    kwargs = yaml["lmms_eval_specific_kwargs"]["default"]
    for s in samples:
        assert s.meta["prompt"] == u.mmbench_doc_to_text(dict(by_id[s.id]), kwargs)
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {generation(yaml)} \
        == {(1024, ("ASSISTANT:",))}
    assert any(s.options == ("None", "left", "right") for s in samples)  # "None" is an option

    import pandas as pd

    def compare(preds):
        results = [u.mmbench_process_results(dict(by_id[s.id]), [preds[s.id].strip()])["gpt_eval_score"]
                   for s in samples]
        overall, cat_acc, l2_acc = u.mmbench_evaluator.eval_result(results, eval_method="static")
        ours = task.score(samples, preds)
        assert ours.value == u.mmbench_aggregate_dev_results_static(results, None) == overall * 100
        assert ours.metric == "gpt_eval_score" and ours.details["questions"] == 5
        for cat, acc in cat_acc.items():
            assert ours.details[f"category_acc/{cat}"] == acc
        for cat, acc in l2_acc.items():
            assert ours.details[f"l2-category_acc/{cat}"] == acc
        # per-row verdicts: the static evaluator on the row as a one-row group
        for s, r in zip(samples, results):
            one = u.mmbench_evaluator.eval_sub_data(pd.DataFrame([r]), {r["index"]: r["answer"]}, static_only=True)
            assert task.judge(s, preds[s.id]) == float(one), (s.id, preds[s.id])
        return overall

    assert compare(preds) == 0.2  # only question 0 survives CircularEval
    for seed in range(15):
        compare(dict(zip([s.id for s in samples], random_predictions(len(samples), seed))))


# ---- OCRBench --------------------------------------------------------------------------------
OCR_ROWS = [
    # dataset, question_type, answers, prediction
    ("IIIT5K", "Regular Text Recognition", ["STOP"], "ＳＴＯＰ"),
    ("IIIT5K", "Regular Text Recognition", ["4097"], "The number is ４０９７."),
    ("HME100k", "Handwritten Mathematical Expression Recognition", ["\\Sigma x"], "$\\Sigma x$"),
    ("HME100k", "Handwritten Mathematical Expression Recognition", ["\\Sigma x"], "\\sigma x"),
    ("HME100k", "Handwritten Mathematical Expression Recognition", ["a + b"], "a\n+ b"),
    ("docVQA", "Doc-oriented VQA", ["12.50", "$12.50"], "It costs $12.50"),
    ("docVQA", "Doc-oriented VQA", ["Hello\nWorld"], "hello world!"),
    ("ESTVQA", "Scene Text-centric VQA", [""], "anything"),
    ("FUNSD", "Key Information Extraction", ["Date"], ""),
    ("WordArt", "Artistic Text Recognition", ["cafe"], "CAFÉ"),
]


def test_ocrbench(tmp_path):
    rows = [{"dataset": d, "question": f" what is written? {i}\n", "question_type": t, "answer": a,
             "image": image_cell((i * 20, 3, 3))} for i, (d, t, a, _) in enumerate(OCR_ROWS)]
    path = local_copy(tmp_path / "OCRBench", rows, {"dataset": "s", "question": "s", "question_type": "s",
                                                    "answer": "ss", "image": "img"}, "test")
    task = make_task("ocrbench", str(path), protocol="lmms-eval")
    samples = list(task.samples())
    preds = {s.id: r[3] for s, r in zip(samples, OCR_ROWS)}
    u, yaml = load("tasks.ocrbench.utils"), yaml_of("ocrbench", "ocrbench.yaml")
    kwargs = yaml["lmms_eval_specific_kwargs"]["default"]
    assert [s.meta["prompt"] for s in samples] == [u.ocrbench_doc_to_text(d, kwargs) for d in rows]
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {generation(yaml)}

    def compare(pred_list):
        preds = {s.id: p for s, p in zip(samples, pred_list)}
        results = [u.ocrbench_process_results(d, [p.strip()]) for d, p in zip(rows, pred_list)]
        assert verdicts(task, samples, preds) == [float(r["ocrbench_accuracy"]["score"]) for r in results]
        for k in u.OCRBench_score:  # lmms-eval keeps the counts in a module-level dict
            u.OCRBench_score[k] = 0
        want = u.ocrbench_aggregate_accuracy([r["ocrbench_accuracy"] for r in results], None)
        ours = task.score(samples, preds)
        assert ours.value == want and ours.details["hits"] == want * 1000
        for k, v in u.OCRBench_score.items():
            assert ours.details[f"hits/{k}"] == v

    compare([r[3] for r in OCR_ROWS])
    for seed in range(30):
        compare(random_predictions(len(samples), seed))
    # full-width folded; HME case-sensitive with spaces removed; empty answer always inside
    assert verdicts(task, samples, preds)[:5] == [1.0, 1.0, 1.0, 0.0, 1.0] and verdicts(task, samples, preds)[7] == 1.0


# ---- GQA -------------------------------------------------------------------------------------
GQA_ROWS = [("yes", "Yes."), ("t-shirt", "T-Shirt"), ("right", " right\n"), ("table", "the table"),
            ("left", "left side"), ("black and white", "Black and  white"), ("no", "No!"), ("car", "")]


def test_gqa(tmp_path):
    inst = [{"id": str(300 + i), "imageId": f"n{i % 3}", "question": f"Question {i}? ", "answer": a}
            for i, (a, _) in enumerate(GQA_ROWS)]
    local_copy(tmp_path / "GQA", inst, {"id": "s", "imageId": "s", "question": "s", "answer": "s"}, "testdev",
               config="testdev_balanced_instructions")
    local_copy(tmp_path / "GQA", [{"id": f"n{i}", "image": image_cell((i * 40, 0, 0))} for i in range(3)],
               {"id": "s", "image": "img"}, "testdev", config="testdev_balanced_images")
    task = make_task("gqa", str(tmp_path / "GQA"), protocol="lmms-eval")
    samples = list(task.samples())
    u, yaml = load("tasks.gqa.utils"), yaml_of("gqa", "gqa.yaml")
    kwargs = yaml["lmms_eval_specific_kwargs"]["default"]
    assert [s.meta["prompt"] for s in samples] == [u.gqa_doc_to_text(d, kwargs) for d in inst]
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {generation(yaml)}

    metric = yaml["metric_list"][0]
    em = exact_match_hf_evaluate()
    def compare(pred_list):
        preds = {s.id: p for s, p in zip(samples, pred_list)}
        scores = [em(references=[d["answer"]], predictions=[p.strip()], ignore_case=metric["ignore_case"],
                     ignore_punctuation=metric["ignore_punctuation"])["exact_match"] for d, p in zip(inst, pred_list)]
        assert verdicts(task, samples, preds) == scores
        assert task.score(samples, preds).value == sum(scores) / len(scores)  # "mean": api/metrics.py:23-24
        return scores

    assert compare([p for _, p in GQA_ROWS])[:4] == [1.0, 1.0, 1.0, 0.0]
    for seed in range(30):
        compare(random_predictions(len(samples), seed))


# ---- COCO captions ---------------------------------------------------------------------------
COCO = [
    (["A man riding a horse on a beach.", "A person rides a brown horse along the shore.",
      "Someone on horseback near the ocean."], "A man is riding a horse on the beach."),
    (["Two cats sleeping on a couch.", "A pair of cats asleep on a sofa."], "two cats sleep on the couch\n\n"),
    (["A red bus on a city street.", "A double-decker bus driving down the road."], "A bus."),
    (["A plate of food with broccoli.", "Broccoli and rice on a white plate."], ""),
]


@pytest.mark.slow
def test_coco_caption(tmp_path):
    rows = [{"question_id": f"COCO_val2014_{i + 1:012d}.jpg", "id": i, "answer": refs,
             "image": image_cell((i * 50, 10, 10))} for i, (refs, _) in enumerate(COCO)]
    path = local_copy(tmp_path / "COCO", rows, {"question_id": "s", "id": "i", "answer": "ss", "image": "img"}, "val")
    task = make_task("coco-caption", str(path), protocol="lmms-eval")
    samples = list(task.samples())
    preds = {s.id: p for s, (_, p) in zip(samples, COCO)}
    u, yaml = load("tasks.coco_cap.utils"), yaml_of("coco_cap", "coco2017_cap_val.yaml")
    assert {s.meta["prompt"] for s in samples} == {u.coco_doc_to_text(rows[0])}
    assert {(s.meta["max_new_tokens"], s.meta["stop"]) for s in samples} == {generation(yaml)}
    assert task.judge(samples[0], "x") is None

    results = [u.coco_process_result(d, [p.strip()]) for d, (_, p) in zip(rows, COCO)]
    ours = task.score(samples, preds)
    assert ours.details["pycocoevalcap"] == 1.0
    for metric in ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"):
        want = u.coco_aggregation_result([r[f"coco_{metric}"] for r in results], metric, None)
        assert ours.details[f"coco_{metric}"] == want, metric
    assert ours.value == ours.details["coco_CIDEr"] and ours.metric == "coco_CIDEr"


def test_coco_without_pycocoevalcap_falls_back_to_the_pure_python_port(monkeypatch):
    """No pycocoevalcap or no Java: BLEU, ROUGE-L and CIDEr from cvb's port (flagged), no METEOR;
    on text that is already tokenised the port's ROUGE-L equals pycocoevalcap's Rouge."""
    from pycocoevalcap.rouge.rouge import Rouge

    from cvb_tasks.protocols import coco_metrics

    refs = {"a": ["a man riding a horse on a beach", "a person rides a horse"], "b": ["two cats on a couch"]}
    hyps = {"a": "a man rides a horse", "b": "cats sleeping on the couch"}
    monkeypatch.setattr(coco_metrics, "_pycocoevalcap_available", lambda: False)
    scores, exact = coco_metrics.coco_scores(hyps, refs)
    assert not exact and set(scores) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"}
    want, _ = Rouge().compute_score(refs, {k: [v] for k, v in hyps.items()})
    assert scores["ROUGE_L"] == pytest.approx(want, abs=1e-15)
