"""COCO captions: the pure-Python CIDEr-D / BLEU against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from cvb.errors import UsageError

from test_tasks_common import image_cell, make_task, write_dataset


def test_tokenize_is_ptb_like():
    from cvb_tasks.captioneval import tokenize

    assert tokenize("A man, riding a HORSE.") == ["a", "man", "riding", "a", "horse"]
    assert tokenize("The dog's ball isn't red!") == ["the", "dog", "'s", "ball", "is", "n't", "red"]
    assert tokenize("a black-and-white photo, 3.5 in.") == ["a", "black-and-white", "photo", "3.5", "in"]


# Corpus: two images, one reference each.
#   img1 ref "a big brown dog", hyp "A big brown dog."   (same tokens)
#   img2 ref "a big brown cat", hyp "the big brown cat"
REFS = {"1.jpg": ["a big brown dog"], "2.jpg": ["a big brown cat"]}
HYPS = {"1.jpg": "A big brown dog.", "2.jpg": "the big brown cat"}


def test_cider_d_by_hand():
    from cvb_tasks.captioneval import cider_d

    # document frequency over the 2 reference sets; weight = tf * (log 2 - log max(1, df)).
    # n-grams in both refs ("a", "big brown", "a big brown", ...) weigh 0; n-grams in one ref
    # ("dog", "brown dog", ...) or in none ("the", "the big", ...) weigh log 2.
    # img1: each n has exactly one non-zero n-gram, the same in hyp and ref -> cosine 1 for
    #       n = 1..4; length (bigrams) 3 vs 3 -> no penalty; score = mean(1,1,1,1) * 10 = 10
    # img2: n=1 hyp {the, cat}, ref {cat}: cos = log2^2 / (sqrt2 log2 * log2) = 1/sqrt2
    #       n=2 hyp {the big, brown cat}, ref {brown cat}: 1/sqrt2; n=3 likewise: 1/sqrt2
    #       n=4 hyp {the big brown cat}, ref {a big brown cat}: 0
    #       score = (3/sqrt2) / 4 * 10 = 5.3033
    # CIDEr-D = (10 + 5.3033) / 2
    corpus, per_image = cider_d(HYPS, REFS)
    assert per_image["1.jpg"] == pytest.approx(10.0)
    assert per_image["2.jpg"] == pytest.approx(10 * 3 / (4 * math.sqrt(2)))
    assert corpus == pytest.approx((10 + 10 * 3 / (4 * math.sqrt(2))) / 2)


def test_cider_d_length_penalty():
    from cvb_tasks.captioneval import cider_d

    # img1 hyp gains a word: "a big brown dog runs" -> bigram length 4 vs 3 -> penalty
    # exp(-1 / (2 * 6^2)) = exp(-1/72); its extra n-grams ("runs", "dog runs", ...) are in no ref,
    # weight log 2 each, so each n's cosine is 1/sqrt2 for n = 1..4:
    # n=1 hyp {dog, runs} vs ref {dog}; n=2 {brown dog, dog runs} vs {brown dog}; etc.
    # score = mean(1/sqrt2 x4) * 10 * exp(-1/72)
    hyps = dict(HYPS, **{"1.jpg": "a big brown dog runs"})
    _, per_image = cider_d(hyps, REFS)
    assert per_image["1.jpg"] == pytest.approx(10 / math.sqrt(2) * math.exp(-1 / 72))


def test_bleu_by_hand():
    from cvb_tasks.captioneval import bleu

    # tokens: hyp1 = ref1 (4 words); hyp2 "the big brown cat" vs "a big brown cat"
    # test length 8 = ref length 8 -> no brevity penalty
    # 1-grams: 4 + 3 right of 8; 2-grams: 3 + 2 of 6; 3-grams: 2 + 1 of 4; 4-grams: 1 + 0 of 2
    b = bleu(HYPS, REFS)
    assert b[0] == pytest.approx(7 / 8)
    assert b[1] == pytest.approx(math.sqrt(7 / 8 * 5 / 6))
    assert b[3] == pytest.approx((7 / 8 * 5 / 6 * 3 / 4 * 1 / 2) ** 0.25)


def test_bleu_brevity_penalty_and_closest_reference():
    from cvb_tasks.captioneval import bleu

    # hyp 2 words, ref 4 words: both hyp words in the ref -> p1 = 1; BP = exp(1 - 4/2) = e^-1
    assert bleu({"x": "a dog"}, {"x": ["a big brown dog"]})[0] == pytest.approx(math.exp(-1))
    # closest reference length: hyp 5 words, refs of 3 and 6 words -> 6 is closer (|6-5| = 1),
    # so reflen 6 > 5: BP = exp(1 - 6/5); all 5 hyp words occur in the 6-word ref -> p1 = 1
    b = bleu({"x": "a b c d e"}, {"x": ["a b c", "a b c d e f"]})
    assert b[0] == pytest.approx(math.exp(1 - 6 / 5))


@pytest.fixture
def coco_dir(tmp_path):
    import datasets

    features = datasets.Features({
        "question_id": datasets.Value("string"), "image": datasets.Image(),
        "question": datasets.Value("string"), "answer": datasets.List(datasets.Value("string")),
        "id": datasets.Value("int64"), "license": datasets.Value("int8"),
        "file_name": datasets.Value("string"), "coco_url": datasets.Value("string"),
        "height": datasets.Value("int32"), "width": datasets.Value("int32"),
        "date_captured": datasets.Value("string"),
    })
    cols = {
        "question_id": ["1.jpg", "2.jpg"], "image": [image_cell("red"), image_cell("blue")],
        "question": ["Please carefully observe the image and come up with a caption for the image"] * 2,
        "answer": [REFS["1.jpg"], REFS["2.jpg"]], "id": [1, 2], "license": [1, 1],
        "file_name": ["1.jpg", "2.jpg"], "coco_url": ["http://x/1.jpg", "http://x/2.jpg"],
        "height": [6, 6], "width": [8, 8], "date_captured": ["2013-11-14"] * 2,
    }
    return write_dataset(cols, features, tmp_path / "COCO-Caption2017", split="val")


def test_task_scores_cider_x100(coco_dir):
    task = make_task("coco-caption", str(coco_dir))
    samples = list(task.samples())
    assert [s.id for s in samples] == ["1.jpg", "2.jpg"] and samples[0].kind.value == "caption"
    assert samples[0].answer == ["a big brown dog"]
    score = task.score(samples, HYPS)
    # CIDEr-D from test_cider_d_by_hand, x100
    assert score.metric == "cider"
    assert score.value == pytest.approx(100 * (10 + 10 * 3 / (4 * math.sqrt(2))) / 2)
    assert score.details["bleu1"] == pytest.approx(87.5)
    assert task.judge(samples[0], "x") is None
    assert task.score(samples, HYPS) == score


def test_ids_file_keeps_a_subset(coco_dir, tmp_path):
    ids = tmp_path / "karpathy_test.txt"
    ids.write_text("# Karpathy-style subset\n2.jpg\n\n999.jpg\n")
    task = make_task("coco-caption", str(coco_dir), ids=str(ids))
    assert [s.id for s in task.samples()] == ["2.jpg"]
    (tmp_path / "none.txt").write_text("nope.jpg\n")
    with pytest.raises(UsageError, match="none of the 1 ids"):
        list(make_task("coco-caption", str(coco_dir), ids=str(tmp_path / "none.txt")).samples())
    with pytest.raises(UsageError, match="cannot read ids file"):
        make_task("coco-caption", str(coco_dir), ids=str(tmp_path / "absent.txt"))
