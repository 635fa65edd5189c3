"""GQA from a local copy holding both hub configs (instructions + images)."""

from __future__ import annotations

import pytest

from cvb.errors import UsageError
from test_tasks_common import image_cell, make_task, write_dataset

QUESTIONS = [
    # id, imageId, question, answer, structural type
    ("201", "n100", "Is the sky blue?", "yes", "verify"),
    ("202", "n100", "Which side is the car on?", "right", "choose"),
    ("203", "n200", "What is on the floor?", "table", "query"),
    ("204", "n200", "What is the man wearing?", "t-shirt", "query"),
]


def write_gqa(root, layout="parquet", drop_image=None):
    import datasets

    s = datasets.Value("string")
    inst = datasets.Features({
        "id": s, "imageId": s, "question": s, "answer": s, "fullAnswer": s,
        "isBalanced": datasets.Value("bool"),
        "groups": {"global": s, "local": s},
        "entailed": datasets.List(s), "equivalent": datasets.List(s),
        "types": {"structural": s, "semantic": s, "detailed": s},
        "semantic": datasets.List({"operation": s, "argument": s,
                                   "dependencies": datasets.List(datasets.Value("int32"))}),
        "semanticStr": s,
    })
    cols = {
        "id": [q[0] for q in QUESTIONS], "imageId": [q[1] for q in QUESTIONS],
        "question": [q[2] for q in QUESTIONS], "answer": [q[3] for q in QUESTIONS],
        "fullAnswer": [f"The answer is {q[3]}." for q in QUESTIONS], "isBalanced": [True] * 4,
        "groups": [{"global": None, "local": "x"}] * 4, "entailed": [[]] * 4, "equivalent": [[q[0]] for q in QUESTIONS],
        "types": [{"structural": q[4], "semantic": "attr", "detailed": "d"} for q in QUESTIONS],
        "semantic": [[{"operation": "select", "argument": "sky", "dependencies": []}]] * 4,
        "semanticStr": ["select: sky"] * 4,
    }
    write_dataset(cols, inst, root, split="testdev", config="testdev_balanced_instructions", layout=layout)
    ids = [i for i in ("n100", "n200") if i != drop_image]
    imgs = datasets.Features({"id": s, "image": datasets.Image()})
    write_dataset({"id": ids, "image": [image_cell("red" if i == "n100" else "blue") for i in ids]}, imgs,
                  root, split="testdev", config="testdev_balanced_images", layout=layout)
    return root


@pytest.mark.parametrize("layout", ["parquet", "disk"])
def test_samples_join_questions_to_images(tmp_path, layout):
    root = write_gqa(tmp_path / "GQA", layout)
    samples = list(make_task("gqa", str(root)).samples())
    assert [s.id for s in samples] == ["201", "202", "203", "204"]
    assert samples[0].image is samples[1].image and samples[0].image.key == "n100"
    assert samples[2].image.load().getpixel((0, 0)) == (0, 0, 255)
    assert samples[0].category == "verify"


def test_score_by_hand(tmp_path):
    task = make_task("gqa", str(write_gqa(tmp_path / "GQA")))
    samples = list(task.samples())
    preds = {"201": "Yes.", "202": "left", "203": "The table", "204": "T-shirt"}
    # 201: "yes" == "yes" right; 202 wrong; 203 "the table" != "table" (exact match) wrong;
    # 204: "tshirt" == "tshirt" after punctuation removal, right -> 2/4 = 50
    score = task.score(samples, preds)
    assert score.metric == "acc" and score.value == pytest.approx(50.0)
    assert score.details["acc/query"] == pytest.approx(50.0)      # 203 wrong, 204 right
    assert score.details["acc/verify"] == pytest.approx(100.0)
    assert task.score(samples, preds) == score


def test_missing_image_is_reported(tmp_path):
    task = make_task("gqa", str(write_gqa(tmp_path / "GQA", drop_image="n200")))
    with pytest.raises(UsageError, match="images missing"):
        list(task.samples())
