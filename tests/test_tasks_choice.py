"""SEED-Bench-IMG and MMBench from local copies in the hub's schema; CircularEval by hand."""

from __future__ import annotations

import pytest

from test_tasks_common import image_cell, make_task, write_dataset


# ---- SEED-Bench ------------------------------------------------------------------------------
@pytest.fixture
def seed_dir(tmp_path):
    import datasets

    features = datasets.Features({
        "answer": datasets.Value("string"),
        "choice_a": datasets.Value("string"), "choice_b": datasets.Value("string"),
        "choice_c": datasets.Value("string"), "choice_d": datasets.Value("string"),
        "data_id": datasets.Value("string"), "data_type": datasets.Value("string"),
        "question": datasets.Value("string"), "question_id": datasets.Value("string"),
        "question_type_id": datasets.Value("int16"),
        "image": datasets.List(datasets.Image()),
        "segment": datasets.List(datasets.Value("int64")),
    })
    cols = {
        "answer": ["A", "C", "B", "D", "A"],
        "choice_a": ["red", "one", "car", "x", "up"],
        "choice_b": ["blue", "two", "bus", "y", "down"],
        "choice_c": ["green", "three", "bike", "z", "left"],
        "choice_d": ["black", "four", "train", "w", "right"],
        "data_id": ["img_1.jpg", "img_1.jpg", "img_2.jpg", "video_9.mp4", "img_3.jpg"],
        "data_type": ["image", "image", "image", "video", "image"],
        "question": [f"Question {i}?" for i in range(5)],
        "question_id": ["101", "102", "103", "104", "105"],
        "question_type_id": [1, 5, 2, 10, 9],
        "image": [[image_cell("red")], [image_cell("red")], [image_cell("blue")],
                  [image_cell("gray"), image_cell("white")], [image_cell("green")]],
        "segment": [None, None, None, [0, 10], None],
    }
    return write_dataset(cols, features, tmp_path / "SEED-Bench", split="test")


def test_seedbench_keeps_image_questions_only(seed_dir):
    samples = list(make_task("seedbench", str(seed_dir)).samples())
    assert [s.id for s in samples] == ["101", "102", "103", "105"]   # the video row is dropped
    assert samples[0].options == ("red", "blue", "green", "black")
    assert samples[0].category == "Scene Understanding" and samples[1].category == "Instances Counting"
    assert samples[0].image.key == samples[1].image.key == "img_1.jpg"
    assert samples[0].image.load().getpixel((0, 0)) == (255, 0, 0)


def test_seedbench_score_by_hand(seed_dir):
    task = make_task("seedbench", str(seed_dir))
    samples = list(task.samples())
    preds = {"101": "A", "102": "The answer is (C).", "103": "bike", "105": "I cannot tell"}
    # 101 right; 102 right; 103 "bike" is option C but the truth is B: wrong; 105 unparsed: wrong
    # acc = 2/4 = 50
    score = task.score(samples, preds)
    assert score.metric == "acc" and score.value == pytest.approx(50.0)
    assert score.details["unparsed"] == 1
    assert score.details["acc/Scene Understanding"] == 100.0
    assert score.details["acc/Instance Identity"] == 0.0
    assert task.score(samples, preds) == score


# ---- MMBench ---------------------------------------------------------------------------------
@pytest.fixture
def mmb_dir(tmp_path):
    import datasets

    s = datasets.Value("string")
    features = datasets.Features({
        "index": datasets.Value("int64"), "question": s, "hint": s, "answer": s,
        "A": s, "B": s, "C": s, "D": s, "category": s, "image": datasets.Image(),
        "source": s, "L2-category": s, "comment": s, "split": s,
    })
    rows = [
        # index, question, hint, answer, A, B, C, D, category
        (0, "What animal is shown?", None, "B", "cat", "dog", "bird", "fish", "object_localization"),
        (1, "What does the sign say?", "Look at the sign.", "C", "stop", "go", "wait", None, "ocr"),
        (2, "Which side is the tree on?", "nan", "A", "left", "right", None, None, "spatial_relationship"),
        # MMBench's own rotated copy of question 0: must be ignored
        (1_000_000, "What animal is shown?", None, "A", "dog", "bird", "fish", "cat", "object_localization"),
    ]
    cols = {k: [] for k in features}
    for idx, q, hint, ans, a, b, c, d, cat in rows:
        for k, v in zip(("index", "question", "hint", "answer", "A", "B", "C", "D", "category"),
                        (idx, q, hint, ans, a, b, c, d, cat)):
            cols[k].append(v)
        cols["image"].append(image_cell((idx % 7 * 30, 50, 50)))
        cols["source"].append("test")
        cols["L2-category"].append("x")
        cols["comment"].append(None)
        cols["split"].append("dev")
    return write_dataset(cols, features, tmp_path / "MMBench", split="dev", config="en")


def test_mmbench_plain(mmb_dir):
    task = make_task("mmbench", str(mmb_dir))
    samples = list(task.samples())
    assert [s.id for s in samples] == ["0", "1", "2"]                   # the 1e6 copy is dropped
    assert samples[1].options == ("stop", "go", "wait")                  # stops at the missing D
    assert samples[1].question == "Look at the sign.\nWhat does the sign say?"
    assert samples[2].question == "Which side is the tree on?"          # "nan" hint ignored
    preds = {"0": "B", "1": "The answer is A", "2": "left"}
    # 0 right; 1 wrong (truth C); 2 "left" is option A = truth: right -> 2/3
    score = task.score(samples, preds)
    assert score.metric == "acc" and score.value == pytest.approx(200 / 3)


def test_mmbench_circular_by_hand(mmb_dir):
    task = make_task("mmbench", str(mmb_dir), circular="true")
    samples = list(task.samples())
    # 4 + 3 + 2 rotations
    assert len(samples) == 9
    rot = {s.id: s for s in samples}
    # shift 1 of question 0: options dog, bird, fish, cat; the truth "dog" is now A
    assert rot["0@1"].options == ("dog", "bird", "fish", "cat") and rot["0@1"].answer == "A"
    assert rot["0@3"].options == ("fish", "cat", "dog", "bird") and rot["0@3"].answer == "C"
    assert all(s.image is rot["0"].image for s in samples if s.meta["group"] == "0")

    def model(sample):
        # names the dog on question 0 (right in every rotation); always says "A" otherwise
        return "a dog" if sample.meta["group"] == "0" else "A"

    preds = {s.id: model(s) for s in samples}
    # question 0: right in all 4 rotations -> counts. question 1: the truth "wait" is A only in
    # rotation 2 (wait, stop, go) -> 1 of 3, fails. question 2: "left" is A only in rotation 0
    # -> 1 of 2, fails. Circular accuracy = 1/3
    score = task.score(samples, preds)
    assert score.metric == "circular_acc"
    assert score.value == pytest.approx(100 / 3)
    assert score.details["questions"] == 3 and score.details["samples"] == 9
    # the same predictions read without circular evaluation: per-sample 4 + 1 + 1 = 6 of 9
    assert sum(task.judge(s, preds[s.id]) for s in samples) == 6


def test_mmbench_circular_limit_keeps_rotations_together(mmb_dir):
    task = make_task("mmbench", str(mmb_dir), circular=True)
    # groups of 4, 3, 2 samples; limit 4 -> one group (question 0), never part of one
    assert [s.id for s in task.samples(limit=4)] == ["0", "0@1", "0@2", "0@3"]


def test_mmbench_option_none_is_an_option(tmp_path):
    """An option whose text is literally "None" keeps itself and the options after it."""
    import datasets

    s = datasets.Value("string")
    features = datasets.Features({"index": datasets.Value("int64"), "question": s, "hint": s, "answer": s,
                                  "A": s, "B": s, "C": s, "D": s, "category": s, "image": datasets.Image()})
    cols = {"index": [0], "question": ["How many dogs?"], "hint": [None], "answer": ["C"], "A": ["1"],
            "B": ["None"], "C": ["2"], "D": [None], "category": ["counting"], "image": [image_cell("red")]}
    path = write_dataset(cols, features, tmp_path / "MMBench", split="dev", config="en")
    task = make_task("mmbench", str(path))
    (sample,) = list(task.samples())
    assert sample.options == ("1", "None", "2")
    assert task.judge(sample, "C") == 1.0 and task.judge(sample, "None") == 0.0
