"""Scoring primitives shared by every task: answer parsing and the community's metrics.

Pure Python and pure functions (no I/O, no randomness, no heavy imports), so a task's score is a
function of its predictions alone and any plugin may reuse the rules. Where the two reference
toolkits (lmms-eval and VLMEvalKit) disagree, the docstring says which rule cvb follows and why;
``docs/tasks.md`` collects the differences.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "normalize_text",
    "words",
    "parse_yes_no",
    "pope_metrics",
    "pope_counts_metrics",
    "extract_choice",
    "letter_of",
    "ocrbench_match",
    "OCRBENCH_CATEGORIES",
    "OCRBENCH_RECOGNITION",
    "vqa_normalize",
    "gqa_match",
    "MME_GROUPS",
    "mme_scores",
]

_WS = re.compile(r"\s+")


def normalize_text(s: Any) -> str:
    """Unicode-compatible (NFKC), lowercase, whitespace collapsed and stripped.

    NFKC folds full-width letters and ligatures that some tokenizers emit, so "Ｙｅｓ" reads "yes".
    """
    if s is None:
        return ""
    s = unicodedata.normalize("NFKC", str(s))
    return _WS.sub(" ", s).strip().lower()


# Everything that is not a letter, digit or apostrophe separates words ("yes." "yes," "(no)").
_NON_WORD = re.compile(r"[^\w']+")


def words(s: Any) -> list[str]:
    """Lowercase words of ``s`` with punctuation treated as a separator."""
    return [w.strip("'") for w in _NON_WORD.split(normalize_text(s).replace("_", " ")) if w.strip("'")]


# --------------------------------------------------------------------------------------------
# yes / no
# --------------------------------------------------------------------------------------------

_NEGATIONS = {"not", "isn't", "aren't", "doesn't", "don't", "cannot", "can't", "there's no"}
#: "cannot determine", "unable to tell", "not sure", "unclear"... (matched on ``words``' output)
_REFUSAL = re.compile(
    r"\b(?:cannot|can't|can not|could not|couldn't|unable to|impossible to|not possible to)"
    r"(?: be)? (?:determine|determined|tell|told|say|said|answer|answered|know|known|judge|judged|"
    r"confirm|confirmed|verify|verified|see if|see whether)\b"
    r"|\b(?:not sure|unsure|unclear|uncertain|don't know|do not know|no way to (?:tell|know))\b")


def parse_yes_no(text: Any) -> str | None:
    """``"yes"``, ``"no"`` or None (cannot tell) for a model's answer to a yes/no question.

    Rule, in order (first that decides wins):

    1. the first word is ``yes``/``no`` (or the single letter ``y``/``n``): that word
       ("Yes, there is a dog." -> yes; "No." -> no). This is what lmms-eval's MME parser
       (from Otter) effectively does, and what a model prompted for "a single word" returns.
    2. VLMEvalKit's ``YOrN_Extraction``: exactly one of the words ``yes``/``no`` occurs anywhere
       ("There is a dog, yes." -> yes); both or neither -> undecided so far.
    3. a refusal or a statement of doubt ("Cannot determine.", "I'm not sure", "It is unclear")
       is no answer: None. (It is not a "no": MME and POPE ask whether something is there, and
       a model that cannot tell has not said it is absent.)
    4. LLaVA's POPE rule for sentences without yes/no: a negation word (``not``, ``isn't``,
       ``no``...) means no ("There is not a dog in the image." -> no).
    5. otherwise None. (LLaVA calls every such answer "yes"; lmms-eval's POPE requires the
       prediction to equal "yes"/"no" exactly. Both bias the metric; cvb reports the answer as
       unparsed and :func:`pope_metrics` counts it as a wrong, non-"yes" prediction.)
    """
    ws = words(text)
    if not ws:
        return None
    first = ws[0]
    if first in ("yes", "y"):
        return "yes"
    if first in ("no", "n"):
        return "no"
    has_yes, has_no = "yes" in ws, "no" in ws
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    if has_yes and has_no:
        return None
    if _REFUSAL.search(" ".join(ws)):
        return None
    if any(w in _NEGATIONS for w in ws):
        return "no"
    return None


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


def f1_many(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 (not x100) of many count rows at once (numpy arrays of exact integer counts): what
    ``pope_counts_metrics`` and the protocols' POPE rules compute one set at a time (precision
    or recall 0 when undefined), with the same operations, so the same numbers to the last bit."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        # 2 * p * r == 2 * (p * r) in floating point (doubling is exact): one form serves all rules
        return np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)


def row_sums(counts: np.ndarray, mask: Sequence[bool]) -> np.ndarray:
    """Row sums of the columns of ``counts`` (rows x records) where ``mask`` is true."""
    import numpy as np

    keep = np.asarray(mask, dtype=bool)
    return np.asarray(counts, dtype=float)[:, keep].sum(axis=1) if keep.any() else np.zeros(len(counts))


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
# multiple choice
# --------------------------------------------------------------------------------------------

_LETTERS = string.ascii_uppercase


_CHOICE_PATTERNS = (
    re.compile(r"(?i:\banswer\s*(?:is\s*)?:?)\s*[\(\[\*]*([A-Z])(?![A-Za-z])"),
    # a lowercase letter only when nothing but closing punctuation follows ("answer: b.")
    re.compile(r"(?i:\banswer\s*(?:is\s*)?:?\s*[\(\[\*]*([a-z])[\)\]\.\*]*\s*$)"),
    re.compile(r"(?i:\b(?:option|choice)\s*)[\(\[]?([A-Z])(?![A-Za-z])"),
    re.compile(r"\*\*\(?([A-Z])\)?\*\*"),
)


def letter_of(index: int) -> str:
    return _LETTERS[index]


def extract_choice(text: Any, options: Sequence[str] | int) -> str | None:
    """The option letter a free-text answer picks, or None if it picks none or several.

    ``options`` are the option texts in letter order (or just their number). Accepted, in
    order: a leading letter on its own ("B", "b", "(B)", "B.", "B) cat", "B: cat"); "answer is B"
    / "Answer: (B)" / "option B" / "**B**"; VLMEvalKit's ``can_infer_option`` (exactly one
    capital option letter stands alone among the words, with its guard that a lone "A" in a
    sentence of more than 3 words may be the article); then ``can_infer_text`` (exactly one option
    text is contained in the answer,
    after preferring an answer equal to one option, and an option that contains the others).
    """
    n = options if isinstance(options, int) else len(options)
    texts = [] if isinstance(options, int) else [str(o) for o in options]
    valid = _LETTERS[:n]
    if text is None or n == 0:
        return None
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if not raw:
        return None

    # 1. the answer starts with a letter on its own: "B", "(B)", "B.", "b)", "[B]", "B: cat".
    #    ("A cat" does not qualify: the letter must be followed by punctuation or nothing.)
    m = re.match(r"^[\(\[\*\s]*([A-Za-z])(?:[\)\]\.\:\*,]|\s*$)", raw)
    if m and m.group(1).upper() in valid:
        return m.group(1).upper()
    # 2. "the answer is B", "Answer: (B)", "option B", "**B**" (capital letter required)
    for pat in _CHOICE_PATTERNS:
        m = pat.search(raw)
        if m and m.group(1).upper() in valid:
            return m.group(1).upper()
    # 3. VLMEvalKit can_infer_option: exactly one standalone capital option letter
    mod = raw
    for c in ".()[],:;!*#{}":
        mod = mod.replace(c, " ")
    splits = mod.split()
    hits = [c for c in valid if c in splits]
    # VLMEvalKit's guard: a lone "A" in a longer sentence is probably the article
    if len(hits) == 1 and not (hits[0] == "A" and len(splits) > 3):
        return hits[0]
    # 4. VLMEvalKit can_infer_text: the option text itself
    if texts:
        return _choice_by_text(raw, texts)
    return None


def _choice_by_text(raw: str, texts: Sequence[str]) -> str | None:
    answer = " ".join(words(raw))
    norm = [" ".join(words(t)) for t in texts]
    exact = [i for i, t in enumerate(norm) if t and t == answer]
    if len(exact) == 1:
        return _LETTERS[exact[0]]
    padded = f" {answer} "
    inside = [i for i, t in enumerate(norm) if t and f" {t} " in padded]
    # "red car" contains "car": keep only options not contained in another hit
    inside = [i for i in inside if not any(j != i and f" {norm[i]} " in f" {norm[j]} " and norm[i] != norm[j]
                                           for j in inside)]
    if len(inside) == 1:
        return _LETTERS[inside[0]]
    return None


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

_PUNCT = str.maketrans("", "", string.punctuation)


def vqa_normalize(s: Any) -> str:
    """lmms-eval's GQA ``exact_match`` normalisation: lowercase, ASCII punctuation deleted.

    Whitespace is also collapsed and stripped (generation output often ends in a newline; the
    HF ``exact_match`` metric lmms-eval calls would count "yes\\n" wrong). No article or
    number-word rewriting: that is VQAv2's rule, not GQA's.
    """
    return _WS.sub(" ", normalize_text(s).translate(_PUNCT)).strip()


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
