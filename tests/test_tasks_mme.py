"""MME from a local copy in the hub's schema: pairs, acc/acc+, perception and cognition sums."""

from __future__ import annotations

import pytest

from test_tasks_common import image_cell, make_task, write_dataset

SUFFIX = " Please answer yes or no."
# (question_id = image file, category, answer): two questions per image, as MME ships them
ROWS = [
    ("OCR/0001.png", "OCR", "Yes"), ("OCR/0001.png", "OCR", "No"),
    ("OCR/0002.png", "OCR", "Yes"), ("OCR/0002.png", "OCR", "No"),
    ("code_reasoning/0001.png", "code_reasoning", "Yes"), ("code_reasoning/0001.png", "code_reasoning", "No"),
    ("count/0001.png", "count", "Yes"), ("count/0001.png", "count", "No"),
]


@pytest.fixture
def mme_dir(tmp_path):
    import datasets

    features = datasets.Features({
        "question_id": datasets.Value("string"), "image": datasets.Image(),
        "question": datasets.Value("string"), "answer": datasets.Value("string"),
        "category": datasets.Value("string"),
    })
    images = sorted({r[0] for r in ROWS})
    cols = {
        "question_id": [r[0] for r in ROWS],
        "image": [image_cell((40 * images.index(r[0]), 100, 100)) for r in ROWS],
        "question": [f"Is this question {i} true?{SUFFIX}" for i in range(len(ROWS))],
        "answer": [r[2] for r in ROWS],
        "category": [r[1] for r in ROWS],
    }
    return write_dataset(cols, features, tmp_path / "MME", split="test", layout="disk")


def test_samples_pairs_share_an_image_and_lose_the_suffix(mme_dir):
    samples = list(make_task("mme", str(mme_dir)).samples())
    assert [s.id for s in samples[:2]] == ["OCR/0001.png#0", "OCR/0001.png#1"]
    assert samples[0].question == "Is this question 0 true?"        # lmms-eval drops the suffix
    assert samples[0].answer == "yes" and samples[1].answer == "no"
    assert samples[0].image is samples[1].image                       # read once per pair
    assert samples[0].image.key == "OCR/0001.png"
    assert samples[0].image.content_hash() != samples[2].image.content_hash()


def test_score_by_hand(mme_dir):
    task = make_task("mme", str(mme_dir))
    samples = list(task.samples())
    preds = {
        "OCR/0001.png#0": "Yes", "OCR/0001.png#1": "No",             # pair right
        "OCR/0002.png#0": "Yes.", "OCR/0002.png#1": "Yes",           # one of two right
        "code_reasoning/0001.png#0": "yes", "code_reasoning/0001.png#1": "No, it is not.",
        "count/0001.png#0": "No", "count/0001.png#1": "No",           # one of two right
    }
    # OCR: acc 3/4 = 75, acc+ 1/2 images = 50 -> 125
    # count: acc 1/2 = 50, acc+ 0/1 = 0 -> 50
    # code_reasoning: acc 100, acc+ 100 -> 200
    # perception = 125 + 50 = 175, cognition = 200, total = 375
    score = task.score(samples, preds)
    assert score.metric == "total"
    assert score.value == pytest.approx(375.0)
    assert score.details["perception"] == pytest.approx(175.0)
    assert score.details["cognition"] == pytest.approx(200.0)
    assert score.details["score/OCR"] == pytest.approx(125.0)
    assert score.details["acc/OCR"] == pytest.approx(75.0)
    assert score.details["acc_plus/OCR"] == pytest.approx(50.0)
    assert score.details["score/count"] == pytest.approx(50.0)
    assert task.score(samples, preds) == score


def test_limit_keeps_pairs_whole(mme_dir):
    task = make_task("mme", str(mme_dir))
    # 4 pairs / 8 rows; limit 4 -> 4*4//8 = 2 pairs at strides 0 and 2
    ids = [s.id for s in task.samples(limit=4)]
    assert ids == ["OCR/0001.png#0", "OCR/0001.png#1", "code_reasoning/0001.png#0", "code_reasoning/0001.png#1"]
    # limit 3 cannot hold two pairs: one pair, never half of one
    assert [s.id for s in task.samples(limit=3)] == ["OCR/0001.png#0", "OCR/0001.png#1"]
