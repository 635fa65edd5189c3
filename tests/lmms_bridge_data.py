"""Tiny local copies of ten lmms-eval image benchmarks, in each dataset's real schema.

Each copy has the columns (names and types) of the hub dataset lmms-eval 0.7.3's YAML names
(``dataset_path``/``dataset_name``, read in the dataset cards and the task's ``utils.py``), in
the layout a user gets from ``huggingface-cli download`` (parquet, ``data/<split>-*.parquet`` or
``<config>/<split>-*.parquet``) or from ``save_to_disk``. Images are small gradients, distinct
per document (a lossy codec changes them; PNG keeps them).

``ORACLE`` holds, per task, lmms-eval's own functions (imported from its task files by
``lmms_eval_oracle``, not through the bridge): the prompt, the visuals, the per-document result
and the aggregation of each metric.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cvb.compat import ensure_torchvision
from lmms_eval_oracle import exact_match_hf_evaluate, load, yaml_of

ensure_torchvision()  # lmms_eval.api imports transformers, which imports torchvision (CPU torch here)

MMSTAR_CATS = ("coarse perception", "fine-grained perception", "instance reasoning", "logical reasoning",
               "science & technology", "math")


def picture(seed: int, size=(24, 16)) -> bytes:
    """A PNG gradient that differs per seed (so a codec's loss is visible and images are distinct)."""
    import numpy as np
    from PIL import Image

    w, h = size
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    arr = np.stack([(x * 9 + seed * 37) % 256, (y * 13 + seed * 11) % 256, ((x + y) * 5 + seed * 23) % 256], -1)
    buf = io.BytesIO()
    Image.fromarray(arr.astype("uint8"), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def cell(seed: int) -> dict:
    return {"bytes": picture(seed), "path": None}


@dataclass
class Copy:
    """How to write one task's local copy."""

    task: str
    split: str
    features: dict  # column -> "s" | "i" | "img" | "ss" | "i8" | "meta"
    rows: Callable[[int], list[dict]]
    config: str | None = None
    layout: str = "parquet"
    answers: Callable[[dict, int], str] = field(default=lambda doc, i: "")


def _features(spec: dict):
    import datasets

    kinds = {"s": datasets.Value("string"), "i": datasets.Value("int64"), "i8": datasets.Value("int8"),
             "img": datasets.Image(), "ss": datasets.List(datasets.Value("string")),
             "imgs": datasets.List(datasets.Image()), "ii": datasets.List(datasets.Value("int64")),
             "meta": {"source": datasets.Value("string"), "split": datasets.Value("string"),
                      "image_path": datasets.Value("string")}}
    return datasets.Features({k: kinds[v] for k, v in spec.items()})


def write(copy: Copy, root: Path, n: int) -> tuple[Path, list[dict]]:
    """The local copy (its path for ``lmms-eval:NAME:PATH``) and its rows."""
    import datasets

    rows = copy.rows(n)
    features = _features(copy.features)
    ds = datasets.Dataset.from_dict({k: [r.get(k) for r in rows] for k in copy.features}, features=features)
    if copy.layout == "parquet":
        sub = root / (copy.config or "data")
        sub.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(sub / f"{copy.split}-00000-of-00001.parquet"))
    elif copy.layout == "dict":
        datasets.DatasetDict({copy.split: ds}).save_to_disk(str(root / copy.config if copy.config else root))
    else:
        ds.save_to_disk(str(root / copy.config if copy.config else root))
    return root, rows


def decoded(copy: Copy, rows: list[dict]) -> list[dict]:
    """The rows as lmms-eval's documents (images decoded to PIL, as ``datasets`` gives them)."""
    import datasets

    features = _features(copy.features)
    return list(datasets.Dataset.from_dict({k: [r.get(k) for r in rows] for k in copy.features}, features=features))


# ---- the copies ----------------------------------------------------------------------------
def _chartqa(n):
    return [{"type": ("human_test", "augmented_test")[i % 2], "question": f"chartqa: what is bar {i}?",
             "answer": ("12", "3.5", "Yes", "1990", "45%")[i % 5], "image": cell(i)} for i in range(n)]


def _docvqa(n, tag="docvqa"):
    return [{"questionId": str(5000 + i), "question": f"{tag}: what is the date on page {i}?",
             "question_types": ["handwritten", "form"], "image": cell(100 + i), "docId": 300 + i,
             "ucsf_document_id": f"xnbl{i:04d}", "ucsf_document_page_no": str(i % 3 + 1),
             "answers": [("March 5, 1979", "0.28", "ITC")[i % 3], ("5 March 1979", "28%", "I.T.C.")[i % 3]],
             "data_split": "val"} for i in range(n)]


def _infovqa(n):
    return [{"questionId": str(6000 + i), "question": f"infovqa: how many percent in region {i}?",
             "answers": [("34%", "Germany", "12")[i % 3]], "answer_type": ["single span"],
             "image": cell(200 + i), "image_url": f"https://example.org/{i}.jpeg",
             "operation/reasoning": ["counting"], "ocr": "", "data_split": "val"} for i in range(n)]


def _textvqa(n):
    return [{"image_id": f"{i:016x}", "question_id": 34600 + i, "question": f"textvqa: what brand is shown {i}?",
             "question_tokens": ["what", "brand"], "image": cell(300 + i), "image_width": 24, "image_height": 16,
             "flickr_original_url": "", "flickr_300k_url": "",
             "answers": [("nokia", "dakota", "ac")[i % 3]] * 7 + ["phone", "unanswerable", "nokia phone"],
             "image_classes": ["Mobile phone"], "set_name": "val", "ocr_tokens": ["NOKIA"]} for i in range(n)]


def _ai2d(n):
    return [{"question": f"ai2d: which stage comes after {i}?", "options": ["egg", "larva", "pupa", "adult"],
             "answer": str(i % 4), "image": cell(400 + i)} for i in range(n)]


def _scienceqa(n):
    return [{"image": cell(500 + i), "question": f"scienceqa: which property do these {i} objects share?",
             "choices": ["hard", "soft", "sticky"][: 2 + i % 2], "answer": i % 2,
             "hint": ("", "Select the better answer.")[i % 2],
             "task": "closed choice", "grade": "grade2", "subject": "natural science", "topic": "physics",
             "category": "Materials", "skill": "Compare properties of objects", "lecture": "", "solution": ""}
            for i in range(n)]


def _mmmu(n):
    rows = []
    for i in range(n):
        multi = i % 2 == 0
        question = (f"mmmu {i}: compare <image 1> and <image 2>; which is larger?" if multi
                    else f"mmmu {i}: what is shown in <image 1>?")
        open_ended = i % 3 == 2
        rows.append({"id": f"validation_{('Accounting', 'Art', 'Math')[i % 3]}_{i + 1}", "question": question,
                     "options": "[]" if open_ended else "['the first', 'the second', 'equal', '$5']",
                     "explanation": "", "image_1": cell(600 + i), "image_2": cell(650 + i) if multi else None,
                     "image_3": None, "image_4": None, "image_5": None, "image_6": None, "image_7": None,
                     "img_type": "['Diagrams']", "answer": "42" if open_ended else "ABCD"[i % 4],
                     "topic_difficulty": "Medium", "question_type": "open" if open_ended else "multiple-choice",
                     "subfield": "Finance"})
    return rows


def _mmstar(n):
    return [{"index": i, "question": f"mmstar {i}: which option?\nOptions: A: red, B: blue, C: green, D: grey",
             "image": cell(700 + i), "answer": "ABCD"[i % 4], "category": MMSTAR_CATS[i % 3],
             "l2_category": "image scene and topic", "meta_info": {"source": "MMBench", "split": "val",
                                                                   "image_path": f"images/{i}.jpg"}}
            for i in range(n)]


def _realworldqa(n):
    return [{"image": cell(800 + i), "question": f"realworldqa {i}: how many lanes?\nA. 1\nB. 2\nC. 3\n"
                                                 "Please answer directly with only the letter of the correct option.",
             "answer": "ABC"[i % 3]} for i in range(n)]


def _vizwiz(n):
    return [{"question_id": f"VizWiz_val_{i:08d}.jpg", "image": cell(900 + i), "question": f"vizwiz: what is this {i}?",
             "answers": [("soup", "unanswerable", "coca cola")[i % 3]] * 6 + ["can", "food", "soup can", "tin"],
             "category": ("other", "unanswerable", "other")[i % 3]} for i in range(n)]


def _pope(n):
    return [{"id": str(i), "question_id": str(i), "question": f"pope: is there a thing {i} in the image?",
             "answer": ("yes", "no")[i % 2], "image_source": f"COCO_val2014_{i // 2:012d}",
             "image": cell(1000 + i // 2),
             "category": ("random", "popular", "adversarial")[i % 3]} for i in range(n)]


def _seedbench(n):
    return [{"answer": "ABCD"[i % 4], "choice_a": "a dog", "choice_b": "a cat", "choice_c": "a car",
             "choice_d": "a tree", "data_id": f"{i}.jpg", "data_type": "image",
             "question": f"seedbench {i}: what is in the picture?", "question_id": str(100 + i),
             "question_type_id": 1, "image": [cell(1100 + i)], "segment": []} for i in range(n)]


COPIES = {
    "chartqa": Copy("chartqa", "test", {"type": "s", "question": "s", "answer": "s", "image": "img"}, _chartqa),
    "docvqa_val": Copy("docvqa_val", "validation", {
        "questionId": "s", "question": "s", "question_types": "ss", "image": "img", "docId": "i",
        "ucsf_document_id": "s", "ucsf_document_page_no": "s", "answers": "ss", "data_split": "s"},
        _docvqa, config="DocVQA"),
    "infovqa_val": Copy("infovqa_val", "validation", {
        "questionId": "s", "question": "s", "answers": "ss", "answer_type": "ss", "image": "img", "image_url": "s",
        "operation/reasoning": "ss", "ocr": "s", "data_split": "s"}, _infovqa, config="InfographicVQA",
        layout="dict"),
    "textvqa_val": Copy("textvqa_val", "validation", {
        "image_id": "s", "question_id": "i", "question": "s", "question_tokens": "ss", "image": "img",
        "image_width": "i", "image_height": "i", "flickr_original_url": "s", "flickr_300k_url": "s",
        "answers": "ss", "image_classes": "ss", "set_name": "s", "ocr_tokens": "ss"}, _textvqa),
    "ai2d": Copy("ai2d", "test", {"question": "s", "options": "ss", "answer": "s", "image": "img"}, _ai2d,
                 layout="disk"),
    "scienceqa_img": Copy("scienceqa_img", "test", {
        "image": "img", "question": "s", "choices": "ss", "answer": "i8", "hint": "s", "task": "s", "grade": "s",
        "subject": "s", "topic": "s", "category": "s", "skill": "s", "lecture": "s", "solution": "s"},
        _scienceqa, config="ScienceQA-IMG"),
    "mmmu_val": Copy("mmmu_val", "validation", {
        "id": "s", "question": "s", "options": "s", "explanation": "s", **{f"image_{k}": "img" for k in range(1, 8)},
        "img_type": "s", "answer": "s", "topic_difficulty": "s", "question_type": "s", "subfield": "s"}, _mmmu),
    "mmstar": Copy("mmstar", "val", {"index": "i", "question": "s", "image": "img", "answer": "s", "category": "s",
                                     "l2_category": "s", "meta_info": "meta"}, _mmstar),
    "realworldqa": Copy("realworldqa", "test", {"image": "img", "question": "s", "answer": "s"}, _realworldqa),
    "vizwiz_vqa_val": Copy("vizwiz_vqa_val", "val", {"question_id": "s", "image": "img", "question": "s",
                                                     "answers": "ss", "category": "s"}, _vizwiz),
    "seedbench_ppl": Copy("seedbench_ppl", "test", {
        "answer": "s", "choice_a": "s", "choice_b": "s", "choice_c": "s", "choice_d": "s", "data_id": "s",
        "data_type": "s", "question": "s", "question_id": "s", "question_type_id": "i", "image": "imgs",
        "segment": "ii"}, _seedbench),
    "pope": Copy("pope", "test", {"id": "s", "question_id": "s", "question": "s", "answer": "s",
                                  "image_source": "s", "image": "img", "category": "s"}, _pope),
}


def candidates(doc: dict, task: str) -> list[str]:
    """Answers a model might give to ``doc``: right, right with decoration, wrong, empty."""
    right = {"chartqa": lambda d: d["answer"], "docvqa_val": lambda d: d["answers"][0],
             "infovqa_val": lambda d: d["answers"][0], "textvqa_val": lambda d: d["answers"][0],
             "ai2d": lambda d: "ABCD"[int(d["answer"])], "scienceqa_img": lambda d: "ABC"[d["answer"]],
             "mmmu_val": lambda d: d["answer"], "mmstar": lambda d: d["answer"], "realworldqa": lambda d: d["answer"],
             "vizwiz_vqa_val": lambda d: d["answers"][0], "pope": lambda d: d["answer"]}[task](doc)
    return [right, f"{right}.", f"The answer is {right}", f" {right}\n\nBecause.", f"({right})", right.lower(),
            "B", "C. something", "unanswerable", "", "Yes", "no", "12.6", "1991", "A"]


# ---- the oracle: lmms-eval's own functions, per task ----------------------------------------
def _kwargs(task_dir: str, yaml_name: str) -> dict:
    return yaml_of(task_dir, yaml_name)["lmms_eval_specific_kwargs"]["default"]


def _mean(items):
    return load("api.metrics").mean(items)


@dataclass
class Oracle:
    prompt: Callable[[dict], str]
    visuals: Callable[[dict], list]
    results: Callable[[dict, str], dict]  # the document, the raw generation -> process_results' dict
    aggregations: dict  # metric -> function of its items
    budget: tuple  # (max_new_tokens, stop strings)


def oracle(task: str) -> Oracle:
    """lmms-eval's functions for ``task``; each document's result drawn with lmms-eval's seeds
    (random 0, numpy 1234), as the bridge draws it (MMMU guesses at an unparsable answer)."""
    o = _oracle(task)
    results = o.results

    def seeded(doc, prediction):
        import random

        random.seed(0)
        np.random.seed(1234)
        return results(doc, prediction)

    o.results = seeded
    return o


def _oracle(task: str) -> Oracle:
    if task == "chartqa":
        u, kw = load("tasks.chartqa.utils"), _kwargs("chartqa", "chartqa.yaml")
        return Oracle(lambda d: u.chartqa_doc_to_text(d, kw), u.chartqa_doc_to_visual,
                      lambda d, p: u.chartqa_process_results(d, [p.strip()]),
                      {m: _mean for m in ("relaxed_overall", "relaxed_human_split", "relaxed_augmented_split")},
                      (16, ("\n\n",)))
    if task in ("docvqa_val", "infovqa_val"):
        d_ = task.split("_")[0]
        u = load(f"tasks.{d_}.utils")
        kw = _kwargs(d_, f"_default_template_{d_}_yaml")
        anls = load("api.metrics").anls  # metric_list: anls over the references (api/task.py:1714-1723)
        return Oracle(lambda d: getattr(u, f"{d_}_doc_to_text")(d, kw), getattr(u, f"{d_}_doc_to_visual"),
                      lambda d, p: {"anls": anls(references=d["answers"], predictions=[p.strip()])["anls"]},
                      {"anls": _mean}, (32, ("\n\n",)))
    if task == "textvqa_val":
        u, kw = load("tasks.textvqa.utils"), _kwargs("textvqa", "_default_template_textvqa_yaml")
        return Oracle(lambda d: u.textvqa_doc_to_text(d, kw), u.textvqa_doc_to_visual,
                      lambda d, p: u.textvqa_process_results(d, [p.strip()]), {"exact_match": _mean},
                      (1024, ("ASSISTANT:",)))
    if task == "ai2d":
        u, kw = load("tasks.ai2d.utils"), _kwargs("ai2d", "ai2d.yaml")
        regex = u.MultiChoiceRegexFilter(group_select=0, ignore_case=True, ignore_punctuation=True,
                                         regex_pattern="([A-Z])\\.")  # ai2d.yaml filter_list
        em = exact_match_hf_evaluate()

        def results(d, p):
            filtered = list(regex.apply([[p]], [d]))[0]
            gold = u.ai2d_doc_to_target(d, "mcq")
            return {"exact_match": em(references=[gold], predictions=[filtered.strip()], ignore_case=True,
                                      ignore_punctuation=True)["exact_match"]}
        return Oracle(lambda d: u.ai2d_doc_to_text(d, kw), u.ai2d_doc_to_visual, results,
                      {"exact_match": _mean}, (16, ("\n\n",)))
    if task == "scienceqa_img":
        u, kw = load("tasks.scienceqa.utils"), _kwargs("scienceqa", "scienceqa_img.yaml")
        return Oracle(lambda d: u.sqa_doc_to_text(d, kw), u.sqa_doc_to_visual,
                      lambda d, p: u.sqa_process_results(d, [p.strip()]), {"exact_match": _mean}, (16, ("\n\n",)))
    if task == "mmmu_val":
        u, kw = load("tasks.mmmu.utils"), _kwargs("mmmu", "mmmu_val.yaml")
        return Oracle(lambda d: u.mmmu_doc_to_text(d, kw), u.mmmu_doc_to_visual,
                      lambda d, p: u.mmmu_process_results(d, [p.strip()]),
                      {"mmmu_acc": u.mmmu_aggregate_results}, (128, ("\n\n",)))
    if task == "mmstar":
        u, kw = load("tasks.mmstar.utils"), _kwargs("mmstar", "_default_template_yaml")
        return Oracle(lambda d: u.mmstar_doc_to_text(d, kw), u.mmstar_doc_to_visual,
                      lambda d, p: u.mmstar_process_results(d, [p.strip()]),
                      {m: u.mmstar_aggregate_results for m in (*MMSTAR_CATS, "average")}, (1024, ("\n\n",)))
    if task == "realworldqa":
        u, kw = load("tasks.realworldqa.utils"), _kwargs("realworldqa", "realworldqa.yaml")
        return Oracle(lambda d: u.realworldqa_doc_to_text(d, kw), u.realworldqa_doc_to_visual,
                      lambda d, p: u.realworldqa_process_results(d, [p.strip()]), {"exact_match": _mean},
                      (16, ("\n\n",)))
    if task == "vizwiz_vqa_val":
        u, kw = load("tasks.vizwiz_vqa.utils"), _kwargs("vizwiz_vqa", "_default_template_vqa_yaml")
        return Oracle(lambda d: u.vizwiz_vqa_doc_to_text(d, kw), u.vizwiz_vqa_doc_to_visual,
                      lambda d, p: u.vizwiz_vqa_process_results(dict(d, answers=list(d["answers"])), [p.strip()]),
                      {"exact_match": _mean}, (1024, ("ASSISTANT:",)))
    if task == "pope":
        u, kw = load("tasks.pope.utils"), _kwargs("pope", "pope.yaml")
        return Oracle(lambda d: u.pope_doc_to_text(d, kw), u.pope_doc_to_visual,
                      lambda d, p: u.pope_process_results(d, [p.strip()]),
                      {m: getattr(u, f"pope_aggregate_{m[5:]}") for m in
                       ("pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio")},
                      (128, ("\n\n",)))
    raise KeyError(task)


def verdict(value: Any) -> float | None:
    """A per-document value as a 0..1 verdict (a number, or a dict's ``score``)."""
    if isinstance(value, dict):
        value = value.get("score")
    return None if value is None or isinstance(value, (dict, list)) else float(value)
