"""OCRBench from a local copy in the hub's schema: substring rule, HME100k, /1000 scale."""

from __future__ import annotations

import pytest

from test_tasks_common import image_cell, make_task, write_dataset

ROWS = [
    # dataset, question_type, answers, image colour
    ("IIIT5K", "Regular Text Recognition", ["hello"], "red"),
    ("IC13", "Irregular Text Recognition", ["coffee"], "blue"),
    ("HME100k", "Handwritten Mathematical Expression Recognition", ["x^{2}+1"], "green"),
    ("DocVQA", "Doc-oriented VQA", ["12.50", "$12.50"], "white"),
    ("SROIE", "Key Information Extraction", ["ACME LTD"], "red"),      # same picture as row 0
]


@pytest.fixture
def ocr_dir(tmp_path):
    import datasets

    features = datasets.Features({
        "dataset": datasets.Value("string"), "question": datasets.Value("string"),
        "question_type": datasets.Value("string"), "answer": datasets.List(datasets.Value("string")),
        "image": datasets.Image(),
    })
    cols = {"dataset": [r[0] for r in ROWS], "question": ["what is written in the image?"] * len(ROWS),
            "question_type": [r[1] for r in ROWS], "answer": [r[2] for r in ROWS],
            "image": [image_cell(r[3]) for r in ROWS]}
    return write_dataset(cols, features, tmp_path / "OCRBench", split="test")


def test_samples(ocr_dir):
    samples = list(make_task("ocrbench", str(ocr_dir)).samples())
    assert [s.id for s in samples] == [f"ocrbench-{i}" for i in range(5)]
    assert samples[3].answer == ["12.50", "$12.50"] and samples[2].meta["source"] == "HME100k"
    assert samples[0].meta["prompt_suffix"] == ""            # bare question, as lmms-eval asks
    # identical picture bytes -> one key, so the runner compresses it once
    assert samples[0].image.key == samples[4].image.key != samples[1].image.key


def test_score_by_hand(ocr_dir):
    task = make_task("ocrbench", str(ocr_dir))
    samples = list(task.samples())
    preds = {
        "ocrbench-0": "The text is HELLO.",       # right: case-folded substring
        "ocrbench-1": "cofee",                    # wrong
        "ocrbench-2": "x ^ { 2 } + 1",            # right: HME100k ignores spaces
        "ocrbench-3": "It costs $12.50",          # right: one of the answers
        # ocrbench-4 missing: wrong
    }
    # 3 right of 5 -> 3 * 1000 / 5 = 600 on the /1000 scale; recognition (rows 0, 1) = 1
    score = task.score(samples, preds)
    assert score.metric == "score/1000" and score.value == pytest.approx(600.0)
    d = score.details
    assert d["correct"] == 3 and d["questions"] == 5 and d["recognition"] == 1 and d["missing"] == 1
    assert d["correct/Handwritten Mathematical Expression Recognition"] == 1
    assert d["correct/Irregular Text Recognition"] == 0
    assert task.score(samples, preds) == score
