"""cvb.scoring: answer parsing and the community metrics, with numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from cvb.scoring import extract_choice, normalize_text, parse_yes_no, vqa_normalize, words
from cvb_tasks.rules import MME_GROUPS, gqa_match, mme_scores, ocrbench_match, pope_metrics


def test_normalize_text_folds_case_width_and_spaces():
    assert normalize_text("  Ｙｅｓ,\n  THE   dog ") == "yes, the dog"
    assert normalize_text(None) == ""
    assert words("Yes. It's (a) dog_house!") == ["yes", "it's", "a", "dog", "house"]


@pytest.mark.parametrize("text,expected", [
    ("Yes", "yes"), ("yes.", "yes"), ("No", "no"), ("no, there is not", "no"),
    ("Yes, there is a dog in the image.", "yes"),        # rule 1: first word
    ("No. Yes.", "no"),                                  # rule 1 beats a later contradiction
    ("There is a dog, yes.", "yes"),                     # rule 2: only "yes" appears
    ("I would say no", "no"),                            # rule 2: only "no" appears
    ("Maybe yes, maybe no", None),                       # rule 2: both -> undecided, no negation
    ("There is not a dog in the image.", "no"),          # rule 3: negation
    ("The image doesn't show one", "no"),
    ("A dog sits on the sofa.", None),                   # nothing to go on
    ("", None), (None, None), ("Ｙｅｓ", "yes"), ("Y", "yes"), ("n", "no"),
    ("Nope", None),                                      # not a yes/no word
    ("Cannot determine", None),                          # rule 3: a refusal is no "no"
    ("I cannot tell from this image.", None), ("It is unclear.", None), ("I'm not sure", None),
    ("No, I cannot tell", "no"),                         # rule 1 still decides first
])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


def test_pope_metrics_by_hand():
    # gt:    yes yes yes no  no  no  yes no
    # pred:  yes yes no  yes no  no  None None
    # TP = 2 (1,2); FN = 2 (3, and the unparsed 7th whose truth is yes); FP = 1 (4);
    # TN = 2 (5,6); the unparsed 8th (truth no) is wrong but neither FP nor TN.
    # precision = 2/3, recall = 2/4 = 0.5, F1 = 2*(2/3*1/2)/(2/3+1/2) = (2/3)/(7/6) = 4/7
    # acc = (TP+TN)/8 = 4/8; yes_ratio = predicted yes / all = 3/8
    pred = ["yes", "yes", "no", "yes", "no", "no", None, None]
    gt = ["yes", "yes", "yes", "no", "no", "no", "yes", "no"]
    m = pope_metrics(pred, gt)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(4 / 7)
    assert m["acc"] == pytest.approx(0.5)
    assert m["yes_ratio"] == pytest.approx(3 / 8)
    assert pope_metrics(pred, gt) == m  # pure


def test_pope_metrics_edges():
    assert pope_metrics([], []) == {"acc": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0}
    # never says yes: precision and recall have zero denominators / numerators -> 0, not NaN
    m = pope_metrics(["no", "no"], ["yes", "no"])
    assert (m["precision"], m["recall"], m["f1"], m["acc"]) == (0.0, 0.0, 0.0, 0.5)
    with pytest.raises(ValueError):
        pope_metrics(["yes"], ["yes", "no"])
    with pytest.raises(ValueError, match="yes or no"):
        pope_metrics(["yes"], ["maybe"])


OPTS = ("cat", "dog", "red car", "car")


@pytest.mark.parametrize("text,expected", [
    ("B", "B"), ("b", "B"), ("(B)", "B"), ("B.", "B"), ("B) dog", "B"), ("[C]", "C"), ("D: car", "D"),
    ("The answer is B", "B"), ("The answer is (C).", "C"), ("Answer: D", "D"), ("answer: a", "A"),
    ("I pick option C because it is red", "C"), ("**B**", "B"),
    ("I think B is right", "B"),              # VLMEvalKit rule: one standalone capital letter
    ("B or C", None),                          # two letters: ambiguous
    ("dog", "B"), ("It is a dog.", "B"),      # option text
    ("red car", "C"),                          # exact text beats the contained "car"
    ("a shiny red car", "C"),                  # "car" is inside "red car": the longer option wins
    ("a car", "D"),
    ("A cat is on the mat", "A"),              # not the letter rule (article guard) but the text "cat"
    ("A dog is on the mat", "B"),              # article "A" must not pick option A
    ("E", None),                               # not among 4 options
    ("a bird", None), ("", None), (None, None),
])
def test_extract_choice(text, expected):
    assert extract_choice(text, OPTS) == expected


def test_extract_choice_with_count_only():
    assert extract_choice("(C)", 3) == "C"
    assert extract_choice("D", 3) is None
    assert extract_choice("the cat", 2) is None  # no option texts to match


@pytest.mark.parametrize("pred,answers,category,expected", [
    ("The sign says STOP here", ["stop"], None, True),          # substring, case-folded
    ("sto", ["stop"], None, False),
    ("line one\nline two", "one line two", None, True),         # newlines read as spaces
    ("Total: $12.50", ["12.50", "$13"], "Key Information Extraction", True),  # any answer
    ("x ^ { 2 } + 1", ["x^{2}+1"], "HME100k", True),             # HME: spaces removed
    ("x^{2}+1", ["x ^ {2} + 1"], "Handwritten Mathematical Expression Recognition", True),
    ("\\sigma", ["\\Sigma"], "HME100k", False),                  # HME stays case-sensitive
    ("x ^ 2", ["x^2"], "Regular Text Recognition", False),       # other categories keep spaces
    ("anything", [""], None, False),                             # an empty answer matches nothing
    (None, ["a"], None, False),
])
def test_ocrbench_match(pred, answers, category, expected):
    assert ocrbench_match(pred, answers, category) is expected


def test_vqa_normalize_and_gqa_match():
    assert vqa_normalize(" The Left-side!\n") == "the leftside"
    assert gqa_match("Yes.", "yes")
    assert gqa_match("  LEFT\n", "left")
    assert not gqa_match("on the left", "left")      # exact match, not containment
    assert gqa_match("t-shirt", "tshirt")            # punctuation deleted, as lmms-eval
    assert gqa_match("blue", ["red", "Blue"])


def test_mme_scores_by_hand():
    recs = [
        # OCR (perception): image a: 1/2 right, image b: 2/2 right
        # acc = 3/4 = 75, acc+ = 1/2 images = 50 -> score 125
        {"image": "a", "category": "OCR", "correct": True},
        {"image": "a", "category": "OCR", "correct": False},
        {"image": "b", "category": "OCR", "correct": True},
        {"image": "b", "category": "OCR", "correct": True},
        # count (perception): image c: 0/2 -> acc 0, acc+ 0 -> 0
        {"image": "c", "category": "count", "correct": False},
        {"image": "c", "category": "count", "correct": False},
        # code_reasoning (cognition): image d: 2/2 -> 100 + 100 = 200
        {"image": "d", "category": "code_reasoning", "correct": True},
        {"image": "d", "category": "code_reasoning", "correct": True},
    ]
    r = mme_scores(recs)
    assert r["categories"]["OCR"]["acc"] == pytest.approx(75.0)
    assert r["categories"]["OCR"]["acc_plus"] == pytest.approx(50.0)
    assert r["categories"]["OCR"]["score"] == pytest.approx(125.0)
    assert r["categories"]["count"]["score"] == 0.0
    assert r["perception"] == pytest.approx(125.0)      # 125 + 0
    assert r["cognition"] == pytest.approx(200.0)
    assert r["total"] == pytest.approx(325.0)
    assert list(r["categories"]) == ["count", "OCR", "code_reasoning"]  # official order
    assert mme_scores(recs) == r


def test_mme_groups_are_the_official_split():
    assert len(MME_GROUPS["perception"]) == 10 and len(MME_GROUPS["cognition"]) == 4
    assert "OCR" in MME_GROUPS["perception"] and "text_translation" in MME_GROUPS["cognition"]
    with pytest.raises(ValueError, match="unknown MME category"):
        mme_scores([{"image": "x", "category": "ocr", "correct": True}])
    assert not math.isnan(mme_scores([])["total"])


def test_prompt_suffix_follows_kind_unless_the_task_overrides():
    from cvb.prompts import build_prompt
    from cvb.types import AnswerKind, Query

    q = Query(image=None, prompt="What is written?", kind=AnswerKind.OPEN)
    assert build_prompt(q).endswith("single word or phrase.")
    bare = Query(image=None, prompt="What is written?", kind=AnswerKind.OPEN, suffix="")
    assert build_prompt(bare) == "What is written?"
    choice = Query(image=None, prompt="Colour?", kind=AnswerKind.CHOICE, options=("red", "blue"))
    assert build_prompt(choice).splitlines()[1:3] == ["A. red", "B. blue"]


def test_runner_passes_the_tasks_prompt_suffix():
    from cvb.prompts import build_prompt
    from cvb.run.plan import query_for
    from cvb.types import AnswerKind, ImageSource, Sample

    s = Sample(id="1", image=ImageSource(key="k", data=b""), question="Read the sign.",
               kind=AnswerKind.OPEN, meta={"prompt_suffix": ""})
    assert build_prompt(query_for(s, None)) == "Read the sign."
    s2 = Sample(id="2", image=ImageSource(key="k", data=b""), question="Read the sign.", kind=AnswerKind.OPEN)
    assert build_prompt(query_for(s2, None)) != "Read the sign."
