"""``protocol=vlmevalkit`` (VLMEvalKit's exact-matching path) worked by hand from its rules, and
the protocol options' errors. VLMEvalKit is not on PyPI, so no oracle run is possible here; the
expected values below are computed by hand from the cited VLMEvalKit functions."""

from __future__ import annotations

import pytest

from cvb.errors import UsageError
from test_protocol_lmms_eval import local_copy, mmbench_copy, mmbench_rows
from test_tasks_common import image_cell, make_task


def pope_task(tmp_path, answers, **options):
    rows = [{"id": str(i), "question_id": str(i), "question": f"Is there a thing {i} in the image?",
             "answer": a, "image_source": f"C{i}", "image": image_cell((i * 30, 1, 1)),
             "category": "random" if i % 2 else "popular"} for i, a in enumerate(answers)]
    path = local_copy(tmp_path / "POPE", rows, {"id": "s", "question_id": "s", "question": "s", "answer": "s",
                                                "image_source": "s", "image": "img", "category": "s"}, "test")
    return make_task("pope", str(path), protocol="vlmevalkit", **options)


def test_yes_no_extraction_prompt_and_pope_rating(tmp_path):
    from cvb_tasks.protocols.vlmevalkit import yorn_extraction

    # YOrN_Extraction: exactly one of the words yes / no, after VQA punctuation handling
    assert [yorn_extraction(t) for t in ("Yes.", "no!", "Yes, no", "Y", "Nope", "yes-no", "The answer: YES")] == \
        ["Yes", "No", "Unknown", "Unknown", "Unknown", "Unknown", "Yes"]
    task = pope_task(tmp_path, ["yes", "no", "yes", "no", "yes", "no"])
    samples = list(task.samples())
    assert samples[0].meta["prompt"] == "Is there a thing 0 in the image?" and "stop" not in samples[0].meta
    assert samples[0].meta["max_new_tokens"] == 2048
    preds = dict(zip([s.id for s in samples], ["Yes", "yes, there is", "I think so", "No.", "no", "Y"]))
    # read: Yes, Yes, Unknown, No, No, Unknown; truth: yes no yes no yes no
    # TP 1 (0), FP 1 (1), FN 2 (2, 4: Unknown counts as not-yes); right: 0 and 3 -> acc 2/6
    score = task.score(samples, preds)
    p, r = 1 / 2, 1 / 3
    assert score.metric == "Overall" and score.value == pytest.approx(100 * 2 * p * r / (p + r))
    assert score.details["acc"] == pytest.approx(100 / 3) and score.details["unknown"] == 2
    assert [task.judge(s, preds[s.id]) for s in samples] == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_mme_rating(tmp_path):
    rows = []
    for i, (cat, ans) in enumerate([("OCR", "Yes"), ("OCR", "No"), ("OCR", "Yes"), ("OCR", "No"),
                                    ("code_reasoning", "Yes"), ("code_reasoning", "No")]):
        rows.append({"question_id": f"{cat}/{i // 2}.png", "image": image_cell((i // 2 * 40, 5, 5)),
                     "question": f"Is it {i}? Please answer yes or no.", "answer": ans, "category": cat})
    path = local_copy(tmp_path / "MME", rows, {"question_id": "s", "image": "img", "question": "s", "answer": "s",
                                               "category": "s"}, "test")
    task = make_task("mme", str(path), protocol="vlmevalkit")
    samples = list(task.samples())
    assert samples[0].meta["prompt"] == "Is it 0? Please answer yes or no."  # the question as it is
    preds = dict(zip([s.id for s in samples], ["Yes", "No", "Yes", "Cannot determine", "yes", "No"]))
    score = task.score(samples, preds)
    # OCR: 3/4 right (acc 75), images both right: 1 of 2 (acc+ 50) -> 125; code: 100 + 100
    assert score.details["perception"] == 125.0 and score.details["reasoning"] == 200.0
    assert score.value == 325.0 and score.metric == "Overall Score"


def test_mcq_prompt_can_infer_and_the_ten_character_rule(tmp_path):
    rows = [{"answer": "B", "choice_a": "red", "choice_b": "blue", "choice_c": "green", "choice_d": "None",
             "data_id": f"i{i}.jpg", "data_type": "image", "question": f"Q{i}?", "question_id": str(i),
             "image": [image_cell((i * 30, 2, 2))]} for i in range(6)]
    path = local_copy(tmp_path / "SEED", rows, {"answer": "s", "choice_a": "s", "choice_b": "s", "choice_c": "s",
                                                "choice_d": "s", "data_id": "s", "data_type": "s", "question": "s",
                                                "question_id": "s", "image": "imgs"}, "test")
    task = make_task("seedbench", str(path), protocol="vlmevalkit")
    samples = list(task.samples())
    # the hub's choice_* columns are VLMEvalKit's A-D; "None" is an option like any other
    assert samples[0].meta["prompt"] == ("Question: Q0?\nOptions:\nA. red\nB. blue\nC. green\nD. None\n"
                                         "Please select the correct answer from the options above. \n")
    preds = dict(zip([s.id for s in samples], ["B", "(B) blue", "blue", "The answer is B", "b", "A or B"]))
    # can_infer on predictions under 10 characters only: "B" yes, "(B) blue" yes, "blue" by text;
    # "The answer is B" is 15 characters: "Z" without a judge; "b": no capital, no text; "A or B": two
    assert [task.judge(s, preds[s.id]) for s in samples] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    score = task.score(samples, preds)
    assert score.value == 0.5 and score.details["unmatched"] == 3


def test_mmbench_circular_from_the_data(tmp_path):
    rows = mmbench_rows()
    task = make_task("mmbench", str(mmbench_copy(tmp_path / "MMBench", rows)), protocol="vlmevalkit")
    samples = list(task.samples())
    by_id = {str(r["index"]): r for r in rows}
    one = next(s for s in samples if s.id == "1")
    assert one.meta["prompt"] == ("Hint: Look at the sign.\nQuestion: What does the sign say?\nOptions:\n"
                                  "A. stop\nB. go\nC. wait\n"
                                  "Please select the correct answer from the options above. \n")
    # every copy answered right except question 3's (one copy says "E") and question 4's (empty)
    preds = {s.id: by_id[s.id]["answer"] for s in samples}
    preds["1000003"] = "E"
    preds["4"] = ""
    score = task.score(samples, preds)
    assert score.metric == "Overall" and score.details["questions"] == 5
    # "E" is no option of question 3: prefetch finds nothing -> exact matching fails the group
    assert score.value == 3 / 5


def test_ocrbench_and_gqa(tmp_path):
    rows = [{"dataset": "HME100k", "question": "formula?", "question_type":
             "Handwritten Mathematical Expression Recognition", "answer": ["\\Sigma x"], "image": image_cell("red")},
            {"dataset": "IIIT5K", "question": "word?", "question_type": "Regular Text Recognition",
             "answer": ["STOP"], "image": image_cell("blue")}]
    path = local_copy(tmp_path / "OCR", rows, {"dataset": "s", "question": "s", "question_type": "s", "answer": "ss",
                                               "image": "img"}, "test")
    task = make_task("ocrbench", str(path), protocol="vlmevalkit")
    samples = list(task.samples())
    score = task.score(samples, dict(zip([s.id for s in samples], ["$\\Sigma  x$", "ＳＴＯＰ"])))
    assert score.value == 1.0 and score.details["Final Score Norm"] == 0.1  # no full-width folding

    inst = [{"id": str(i), "imageId": "n0", "question": f"Q{i}?", "answer": a}
            for i, a in enumerate(["yes", "t-shirt", "table"])]
    local_copy(tmp_path / "GQA", inst, {"id": "s", "imageId": "s", "question": "s", "answer": "s"}, "testdev",
               config="testdev_balanced_instructions")
    local_copy(tmp_path / "GQA", [{"id": "n0", "image": image_cell("red")}], {"id": "s", "image": "img"}, "testdev",
               config="testdev_balanced_images")
    gqa = make_task("gqa", str(tmp_path / "GQA"), protocol="vlmevalkit")
    samples = list(gqa.samples())
    assert samples[0].meta["prompt"] == "Q0?\nAnswer the question using a single word or phrase."
    score = gqa.score(samples, dict(zip([s.id for s in samples], [" Yes ", "T-shirt", "table."])))
    assert score.value == pytest.approx(200 / 3)  # case and spaces only: "table." is wrong


@pytest.mark.parametrize("options, message", [
    ({"protocol": "helm"}, "known: cvb, lmms-eval, vlmevalkit"),
    ({"protocol": "lmms-eval", "judge": "openai:gpt-4o-mini"}, "needs protocol=vlmevalkit"),
    ({"judge": "openai:gpt-4o-mini"}, "needs protocol=vlmevalkit"),
])
def test_bad_protocol_options_are_usage_errors(tmp_path, options, message):
    with pytest.raises(UsageError, match=message):
        pope_task(tmp_path, ["yes"]).__class__(str(tmp_path / "POPE"), **options)


def test_protocol_not_covering_a_task_and_circular_with_a_peer(tmp_path):
    with pytest.raises(UsageError, match="not available for this task.*protocol=cvb covers every task"):
        make_task("coco-caption", str(tmp_path), protocol="vlmevalkit")
    with pytest.raises(UsageError, match="leave circular out"):
        make_task("mmbench", str(tmp_path), protocol="lmms-eval", circular="true")


def test_mcq_judge_reads_what_exact_matching_cannot(tmp_path, registry_of):
    """With judge=VLM, an answer can_infer cannot read goes to the judge with VLMEvalKit's matching
    prompt (text only), and the judge's reply is read with can_infer."""
    from conftest import make_plugin
    from cvb.testing import scripted_vlm_spec
    from cvb_tasks import plugin as tasks_plugin

    prompts = []

    def judge(query):
        assert query.image is None
        prompts.append(query.prompt)
        return "B" if "The answer is B" in query.prompt else "Z"

    registry_of(tasks_plugin, make_plugin("judges", register_vlms=lambda register: register(
        scripted_vlm_spec("judge", judge))))
    rows = [{"answer": "B", "choice_a": "red", "choice_b": "blue", "choice_c": "green", "choice_d": "gray",
             "data_id": f"i{i}.jpg", "data_type": "image", "question": f"Q{i}?", "question_id": str(i),
             "image": [image_cell((i * 30, 2, 2))]} for i in range(3)]
    path = local_copy(tmp_path / "SEED", rows, {"answer": "s", "choice_a": "s", "choice_b": "s", "choice_c": "s",
                                                "choice_d": "s", "data_id": "s", "data_type": "s", "question": "s",
                                                "question_id": "s", "image": "imgs"}, "test")
    task = make_task("seedbench", str(path), protocol="vlmevalkit", judge="judge")
    samples = list(task.samples())
    preds = dict(zip([s.id for s in samples], ["B", "The answer is B", "I really cannot tell you"]))
    score = task.score(samples, preds)
    assert score.value == pytest.approx(2 / 3) and score.details["judged"] == 2
    assert len(prompts) == 2 and "Options: There are several options: \nA. red\nB. blue" in prompts[0]
    assert task.scoring == "vlmevalkit judge=judge"
