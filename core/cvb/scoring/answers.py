"""Scoring primitives shared by every task: answer parsing and count arithmetic.

A benchmark's own rules (POPE, MME, OCRBench, GQA) live with the tasks that own them
(``cvb_tasks.rules``).

Pure Python and pure functions (no I/O, no randomness, no heavy imports), so a task's score is a
function of its predictions alone and any plugin may reuse the rules. Where the two reference
toolkits (lmms-eval and VLMEvalKit) disagree, the docstring says which rule cvb follows and why;
``docs/tasks.md`` collects the differences.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "normalize_text",
    "words",
    "parse_yes_no",
    "extract_choice",
    "letter_of",
    "vqa_normalize",
    "f1_many",
    "row_sums",
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
