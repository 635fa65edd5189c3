"""The benchmarks' own scoring rules: POPE, MME, OCRBench and GQA.

Pure Python and pure functions (no I/O, no randomness, no heavy imports), built on the core's
answer parsing (``cvb.scoring``). Where the two reference toolkits (lmms-eval and VLMEvalKit)
disagree, the docstring says which rule cvb follows and why; ``docs/tasks.md`` collects the
differences. Other plugins use them through this package's root (``cvb_tasks.pope_metrics``...).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from cvb.scoring import f1_many, normalize_text, row_sums, vqa_normalize

if TYPE_CHECKING:
    import numpy as np

# --------------------------------------------------------------------------------------------
# POPE
# --------------------------------------------------------------------------------------------


def pope_metrics(pred_labels: Sequence[str | None], gt_labels: Sequence[str]) -> dict[str, float]:
    """POPE's numbers over parsed predictions (``"yes"``/``"no"``/None) and ground truth.

    "yes" is the positive class. A None (unparsed) prediction is a negative, wrong answer:
    it is a false negative when the truth is yes and never a true negative... it is simply not
    "yes". This matches VLMEvalKit (which scores ``extracted == "Yes"``); lmms-eval instead
    drops unparsed answers from recall's denominator, which flatters a model that rambles.

    ``yes_ratio`` is the share of *predictions* that are "yes" (POPE's original definition;
    lmms-eval's ``pope_yes_ratio`` reports the share of yes in the *ground truth*, a constant
    0.5, which is a known slip). Returns fractions in [0, 1]; empty input gives zeros.
    """
    if len(pred_labels) != len(gt_labels):
        raise ValueError(f"{len(pred_labels)} predictions for {len(gt_labels)} labels")
    return pope_counts_metrics(Counter(zip(pred_labels, gt_labels)))


def pope_counts_metrics(counts: Mapping[tuple[str | None, Any], int]) -> dict[str, float]:
    """:func:`pope_metrics` from counts: ``{(parsed prediction, ground truth): how many}``
    (what a streamed scorer keeps instead of every answer)."""
    tp = fp = tn = fn = n = 0
    for (pred, gt), k in counts.items():
        gt_yes = _as_label(gt) == "yes"
        pred_yes = pred == "yes"
        n += k
        if pred_yes and gt_yes:
            tp += k
        elif pred_yes:
            fp += k
        elif gt_yes:
            fn += k
        elif pred == "no":
            tn += k
        # an unparsed prediction on a "no" question: wrong, and neither positive nor TN
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "acc": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": (tp + fp) / n if n else 0.0,
    }


def pope_f1_many(pairs: Sequence[tuple[str | None, Any]], counts: np.ndarray) -> np.ndarray:
    """``pope_counts_metrics(...)["f1"]`` of every row of ``counts`` at once; its columns count
    the (parsed prediction, ground truth) ``pairs``."""
    gt_yes = [_as_label(gt) == "yes" for _, gt in pairs]
    pred_yes = [pred == "yes" for pred, _ in pairs]
    return f1_many(row_sums(counts, [p and g for p, g in zip(pred_yes, gt_yes)]),
                   row_sums(counts, [p and not g for p, g in zip(pred_yes, gt_yes)]),
                   row_sums(counts, [g and not p for p, g in zip(pred_yes, gt_yes)]))


def _as_label(gt: Any) -> str:
    label = normalize_text(gt).rstrip(".")
    if label not in ("yes", "no"):
        raise ValueError(f"ground truth must be yes or no, got {gt!r}")
    return label


# --------------------------------------------------------------------------------------------
# OCRBench
# --------------------------------------------------------------------------------------------

OCRBENCH_RECOGNITION = (
    "Regular Text Recognition",
    "Irregular Text Recognition",
    "Artistic Text Recognition",
    "Handwriting Recognition",
    "Digit String Recognition",
    "Non-Semantic Text Recognition",
)
OCRBENCH_CATEGORIES = OCRBENCH_RECOGNITION + (
    "Scene Text-centric VQA",
    "Doc-oriented VQA",
    "Key Information Extraction",
    "Handwritten Mathematical Expression Recognition",
)
_HME = {"hme100k", "handwritten mathematical expression recognition"}


def ocrbench_match(pred: Any, answers: str | Sequence[str], category: str | None = None) -> bool:
    """OCRBench's rule: some ground-truth answer is a substring of the prediction.

    Text: both lowercased, stripped, newlines read as spaces. Handwritten math (``category``
    "HME100k", the row's ``dataset``, or the question type "Handwritten Mathematical Expression
    Recognition"): all whitespace removed and the comparison stays case-sensitive (LaTeX
    ``\\Sigma`` is not ``\\sigma``), as in OCRBench's own script, VLMEvalKit and lmms-eval 0.7.3.
    Unlike lmms-eval, full-width characters are not folded here (``protocol=lmms-eval`` does).
    """
    if pred is None:
        return False
    refs = [answers] if isinstance(answers, str) else list(answers)
    pred_s = str(pred)
    if category is not None and category.strip().lower() in _HME:
        p = re.sub(r"\s+", "", pred_s)
        return any(a and re.sub(r"\s+", "", str(a)) in p for a in refs if re.sub(r"\s+", "", str(a)))
    p = pred_s.lower().strip().replace("\n", " ")
    return any(str(a).lower().strip().replace("\n", " ") in p for a in refs if str(a).strip())


# --------------------------------------------------------------------------------------------
# short-answer VQA (GQA)
# --------------------------------------------------------------------------------------------


def gqa_match(pred: Any, answer: str | Sequence[str]) -> bool:
    """Normalised exact match against the (or any of the) reference answer(s)."""
    refs = [answer] if isinstance(answer, str) else list(answer)
    p = vqa_normalize(pred)
    return any(p == vqa_normalize(a) for a in refs)


# --------------------------------------------------------------------------------------------
# MME
# --------------------------------------------------------------------------------------------

#: The official MME split of its 14 subtasks (eval_tool/calculation.py, also lmms-eval).
MME_GROUPS: dict[str, tuple[str, ...]] = {
    "perception": ("existence", "count", "position", "color", "posters", "celebrity", "scene",
                   "landmark", "artwork", "OCR"),
    "cognition": ("commonsense_reasoning", "numerical_calculation", "text_translation",
                  "code_reasoning"),
}


def mme_scores(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """MME's per-category acc and acc+, and the perception / cognition / total sums.

    Each record: ``{"image": key shared by an image's questions, "category": subtask,
    "correct": bool}``. Per category: acc = % of questions right; acc+ = % of images whose
    questions are ALL right (MME asks two per image); category score = acc + acc+ (max 200).
    Perception = sum of the 10 perception scores (max 2000), cognition = sum of the 4 (max 800);
    the total is their sum. Only categories present in the records are summed, so a ``--limit``
    subset gives a partial sum (its ``categories`` say which).

    An image with one question left (a broken pair, e.g. its other question's record was
    dropped) counts for acc+ if that one is right; the official ``calculation.py`` and
    lmms-eval both assert complete pairs instead (the tasks keep pairs whole, so this only
    matters to callers with partial records). Category names are matched case-sensitively as
    MME spells them ("OCR"); an unknown category is an error.
    """
    group_of = {c: g for g, cats in MME_GROUPS.items() for c in cats}
    by_cat: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        cat = rec["category"]
        if cat not in group_of:
            raise ValueError(f"unknown MME category {cat!r}; known: {', '.join(sorted(group_of))}")
        by_cat[cat][str(rec["image"])].append(bool(rec["correct"]))
    categories: dict[str, dict[str, float]] = {}
    sums = {"perception": 0.0, "cognition": 0.0}
    for cat in sorted(by_cat, key=lambda c: (list(group_of).index(c))):
        images = by_cat[cat]
        answers = [ok for oks in images.values() for ok in oks]
        acc = 100.0 * sum(answers) / len(answers)
        acc_plus = 100.0 * sum(all(oks) for oks in images.values()) / len(images)
        categories[cat] = {"acc": acc, "acc_plus": acc_plus, "score": acc + acc_plus,
                           "questions": float(len(answers)), "images": float(len(images))}
        sums[group_of[cat]] += acc + acc_plus
    return {"categories": categories, "perception": sums["perception"],
            "cognition": sums["cognition"], "total": sums["perception"] + sums["cognition"]}



def mme_totals_many(records: Sequence[tuple[Any, str, bool]], counts: np.ndarray) -> np.ndarray:
    """``mme_scores(...)["total"]`` of every row of ``counts`` at once (numpy, rows x records):
    column ``j`` counts the record ``(image, category, correct)``. Per category the same sums
    as ``mme_scores``: acc over every question counted, acc+ over the images present (an image
    counted twice is one image whose questions must all be right), the categories added in the
    same order, so the same numbers to the last bit."""
    import numpy as np

    group_of = {c: g for g, cats in MME_GROUPS.items() for c in cats}
    order = list(group_of)
    counts = np.asarray(counts, dtype=float)
    images: dict[tuple[str, str], int] = {}
    image_of = np.empty(len(records), dtype=np.int64)
    for j, (image, cat, _ok) in enumerate(records):
        if cat not in group_of:
            raise ValueError(f"unknown MME category {cat!r}; known: {', '.join(sorted(group_of))}")
        image_of[j] = images.setdefault((cat, str(image)), len(images))
    right = np.array([bool(ok) for _, _, ok in records])
    per_image = np.zeros((len(records), len(images)))
    per_image[np.arange(len(records)), image_of] = 1.0
    asked = counts @ per_image  # questions counted per image: exact integers
    wrong = counts[:, ~right] @ per_image[~right] if (~right).any() else np.zeros_like(asked)
    image_cat = [cat for cat, _ in images]
    sums = {"perception": np.zeros(len(counts)), "cognition": np.zeros(len(counts))}
    for cat in sorted(set(image_cat), key=order.index):
        cols = np.array([c == cat for c in image_cat])
        recs = np.array([records[j][1] == cat for j in range(len(records))])
        questions = counts[:, recs].sum(axis=1)
        correct = counts[:, recs & right].sum(axis=1)
        present = asked[:, cols] > 0
        n_images = present.sum(axis=1)
        all_right = (present & (wrong[:, cols] == 0)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            acc = 100.0 * correct / questions
            acc_plus = 100.0 * all_right / n_images
        sums[group_of[cat]] = np.where(questions > 0, sums[group_of[cat]] + (acc + acc_plus), sums[group_of[cat]])
    return sums["perception"] + sums["cognition"]
