"""POPE from a local copy in the hub's schema, scored by hand."""

from __future__ import annotations

import pytest

from test_tasks_common import image_cell, make_task, write_dataset

# (question_id, image_source, category, answer): question ids repeat across categories, as in POPE
ROWS = [
    ("1", "COCO_val2014_000000000001", "random", "yes"),
    ("2", "COCO_val2014_000000000001", "random", "no"),
    ("3", "COCO_val2014_000000000002", "random", "yes"),
    ("4", "COCO_val2014_000000000002", "random", "no"),
    ("1", "COCO_val2014_000000000001", "adversarial", "yes"),
    ("2", "COCO_val2014_000000000001", "adversarial", "no"),
    ("3", "COCO_val2014_000000000002", "adversarial", "no"),
    ("4", "COCO_val2014_000000000002", "adversarial", "no"),
]
COLORS = {"COCO_val2014_000000000001": (200, 30, 30), "COCO_val2014_000000000002": (30, 30, 200)}


@pytest.fixture
def pope_dir(tmp_path):
    import datasets

    features = datasets.Features({
        "id": datasets.Value("string"), "question_id": datasets.Value("string"),
        "question": datasets.Value("string"), "answer": datasets.Value("string"),
        "image_source": datasets.Value("string"), "image": datasets.Image(),
        "category": datasets.Value("string"),
    })
    cols = {
        "id": [str(i) for i in range(len(ROWS))],
        "question_id": [r[0] for r in ROWS],
        "question": [f"Is there a thing number {r[0]} in the image?" for r in ROWS],
        "answer": [r[3] for r in ROWS],
        "image_source": [r[1] for r in ROWS],
        "image": [image_cell(COLORS[r[1]]) for r in ROWS],
        "category": [r[2] for r in ROWS],
    }
    return write_dataset(cols, features, tmp_path / "POPE", split="test")


PREDICTIONS = {
    "random-1": "Yes",                    # yes, truth yes: TP
    "random-2": "Yes, there is.",         # yes, truth no:  FP
    "random-3": "No",                     # no,  truth yes: FN
    "random-4": "no.",                    # no,  truth no:  TN
    "adversarial-1": "There is a cat, yes.",  # yes, truth yes: TP
    "adversarial-2": "Maybe",             # unparsed, truth no: wrong, not a TN
    # "adversarial-3" missing (a failed query), truth no: wrong
    "adversarial-4": "There is no dog.",  # no, truth no: TN
}


def test_samples_schema_and_shared_image_keys(pope_dir):
    task = make_task("pope", str(pope_dir))
    samples = list(task.samples())
    assert [s.id for s in samples][:3] == ["random-1", "random-2", "random-3"]
    assert samples[0].kind.value == "yesno" and samples[0].answer == "yes"
    # 8 questions, 2 images: every question on image 1 carries the same key and bytes
    keys = {s.image.key for s in samples}
    assert keys == set(COLORS)
    same = [s.image for s in samples if s.image.key == "COCO_val2014_000000000001"]
    assert len(same) == 4 and len({src.content_hash() for src in same}) == 1
    assert same[0].load().getpixel((0, 0)) == COLORS["COCO_val2014_000000000001"]


def test_score_by_hand(pope_dir):
    task = make_task("pope", str(pope_dir))
    samples = list(task.samples())
    # TP=2, FP=1, FN=1, TN=2, 2 unparsed/missing (both truth "no")
    # precision = 2/3, recall = 2/(2+1) = 2/3, F1 = 2/3 -> 66.67
    # acc = (2+2)/8 = 50; yes-ratio = 3 yes / 8 = 37.5
    score = task.score(samples, PREDICTIONS)
    assert score.metric == "f1"
    assert score.value == pytest.approx(200 / 3)
    d = score.details
    assert d["precision"] == pytest.approx(200 / 3) and d["recall"] == pytest.approx(200 / 3)
    assert d["acc"] == pytest.approx(50.0) and d["yes_ratio"] == pytest.approx(37.5)
    assert d["unparsed"] == 2 and d["missing"] == 1
    # per category: random has TP1 FP1 FN1 TN1 -> F1 = 1/2; adversarial TP1 TN1, FN0 FP0 -> F1 = 1
    assert d["f1/random"] == pytest.approx(50.0)
    assert d["f1/adversarial"] == pytest.approx(100.0)
    assert d["acc/adversarial"] == pytest.approx(50.0)     # 2 of 4
    assert task.score(samples, PREDICTIONS) == score        # pure
    assert [task.judge(s, PREDICTIONS.get(s.id, "")) for s in samples[:4]] == [1.0, 0.0, 0.0, 1.0]


def test_split_option_filters_by_category(pope_dir):
    adv = list(make_task("pope", str(pope_dir), split="adversarial").samples())
    assert [s.id for s in adv] == ["adversarial-1", "adversarial-2", "adversarial-3", "adversarial-4"]
    assert list(make_task("pope", str(pope_dir), split="popular").samples()) == []


def test_limit_is_a_deterministic_even_subset(pope_dir):
    task = make_task("pope", str(pope_dir))
    # 4 of 8 single rows: strides 0, 2, 4, 6
    first = [s.id for s in task.samples(limit=4)]
    assert first == ["random-1", "random-3", "adversarial-1", "adversarial-3"]
    assert [s.id for s in list(make_task("pope", str(pope_dir)).samples(limit=4))] == first
