"""``protocol=lmms-eval``: lmms-eval 0.7.3's prompts, budgets, stop strings and scoring, exactly.

Every rule cites the lmms-eval 0.7.3 file and line it follows (paths under ``lmms_eval/``).
Values are lmms-eval's own aggregates on lmms-eval's own scale (POPE F1 0.862, not 86.2), named
as lmms-eval names them; per-sample verdicts are lmms-eval's ``process_results`` scores.

Shared facts:

- Generation kwargs come from each task's yaml; a yaml without ``until`` gets
  ``until: ["\\n\\n"]`` (api/task.py:186-187, ``fewshot_delimiter`` = "\\n\\n" at :133).
  A yaml without ``max_new_tokens`` leaves it to the model wrapper; cvb uses 1024, the default
  of lmms-eval's llava_hf and openai wrappers (models/simple/llava_hf.py:353-354,
  models/simple/openai.py:66-67).
- Before ``process_results`` every generation is stripped (api/task.py:1585-1589).
"""

from __future__ import annotations

import string
from collections import Counter, defaultdict
from typing import Any, Callable, Mapping, Sequence

from cvb.scoring.tally import Tally
from cvb.types import Sample, TaskScore
from .common import can_infer_text, doc_of as _doc, isna as _isna, with_meta as _with

NAME = "lmms-eval 0.7.3"
DEFAULT_UNTIL = ("\n\n",)  # api/task.py:133, 186-187
WRAPPER_MAX_NEW_TOKENS = 1024  # models/simple/llava_hf.py:353-354, models/simple/openai.py:66-67
SINGLE_WORD = "\nAnswer the question using a single word or phrase."


def _result(prediction: str | None) -> str:
    """What lmms-eval hands ``process_results``: the generation, stripped; a missing one is ""
    (api/task.py:1587-1589: ``res.strip() if res is not None else ""``)."""
    return "" if prediction is None else str(prediction).strip()


def _counts(counts: Counter) -> dict[str, float]:
    """questions and missing of a tally whose records end with ``prediction is None``."""
    return {"questions": float(sum(counts.values())),
            "missing": float(sum(k for rec, k in counts.items() if rec[-1]))}


class Rules:
    """One task's lmms-eval rules; subclasses fill in the three task-specific parts."""

    scoring = NAME

    def prepare(self, sample: Sample, doc: Mapping[str, Any]) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def judge(self, sample: Sample, prediction: str) -> float | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def scorer(self) -> Tally:  # pragma: no cover - abstract
        """The rule as a streamed scorer (``cvb.scoring.tally``): a tally of what it reads per sample."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# POPE: tasks/pope/pope.yaml, tasks/pope/utils.py
# ---------------------------------------------------------------------------------------------
class Pope(Rules):
    def prepare(self, sample, doc):
        # utils.py:53-58 with pope.yaml:33-36 (post_prompt); pope.yaml:10-15 (128 tokens, no until)
        prompt = f"{str(doc['question']).strip()}{SINGLE_WORD}"
        return _with(sample, prompt=prompt, max_new_tokens=128, stop=DEFAULT_UNTIL,
                     doc={"answer": doc["answer"]})

    @staticmethod
    def _labels(sample, pred: str) -> tuple[str, str]:
        # utils.py:61-65: the prediction lowercased and stripped must EQUAL "yes" / "no"
        gt = str(_doc(sample).get("answer", sample.answer)).lower().strip()
        if gt not in ("yes", "no"):  # utils.py:64
            raise ValueError(f"POPE ground truth must be yes or no, got {gt!r}")
        return pred.lower().strip(), gt

    def judge(self, sample, prediction):
        pred, gt = self._labels(sample, str(prediction).strip())
        return 1.0 if pred == gt else 0.0

    @staticmethod
    def _aggregate(results: Counter) -> dict[str, float]:
        # utils.py:75-80 accuracy; :83-94 precision; :97-108 recall (an answer that is neither
        # "yes" nor "no" is no false negative); :111-115 F1; :118-128 yes ratio of the TRUTH.
        # ``results``: how many of each (prediction: yes/no/other, truth)
        acc = sum(k for (p, g), k in results.items() if p == g) / sum(results.values())
        tp = sum(k for (p, g), k in results.items() if g == "yes" and p == "yes")
        fp = sum(k for (p, g), k in results.items() if g == "no" and p == "yes")
        fn = sum(k for (p, g), k in results.items() if g == "yes" and p == "no")
        precision = tp / (tp + fp) if (tp + fp) > 0 else 0
        recall = tp / (tp + fn) if (tp + fn) > 0 else 0
        f1 = 2 * (precision * recall) / (precision + recall) if (precision + recall) > 0 else 0
        yes = sum(k for (_, g), k in results.items() if g == "yes")
        no = sum(k for (_, g), k in results.items() if g == "no")
        yes_ratio = yes / (yes + no) if (yes + no) > 0 else 0
        return {"pope_accuracy": acc, "pope_precision": precision, "pope_recall": recall,
                "pope_f1_score": f1, "pope_yes_ratio": yes_ratio}

    def _record(self, sample, prediction):
        pred, gt = self._labels(sample, _result(prediction))
        # only equality with "yes" / "no" matters (utils.py:61-65): other text is one class
        return sample.category, pred if pred in ("yes", "no") else "other", gt, prediction is None

    def scorer(self):
        return Tally(lambda s, pred, _ref: self._record(s, pred), self._finish, self._values)

    @staticmethod
    def _values(records: list, counts):
        """``_finish``'s value (``_aggregate``'s F1) of every row of counts at once (``cvb report``)."""
        from cvb.scoring import f1_many, row_sums

        return f1_many(row_sums(counts, [g == "yes" and p == "yes" for _, p, g, _ in records]),
                       row_sums(counts, [g == "no" and p == "yes" for _, p, g, _ in records]),
                       row_sums(counts, [g == "yes" and p == "no" for _, p, g, _ in records]))

    def _finish(self, counts: Counter) -> TaskScore:
        overall: Counter = Counter()
        by_cat: dict[str, Counter] = defaultdict(Counter)
        for (cat, pred, gt, _), k in counts.items():
            overall[(pred, gt)] += k
            by_cat[cat][(pred, gt)] += k
        details: dict[str, float] = {k: float(v) for k, v in self._aggregate(overall).items()} if counts else {}
        categories = sorted(by_cat)
        if len(categories) > 1:  # pope_full's subtasks pope_adv / pope_pop / pope_random (pope_full.yaml)
            for cat in categories:
                for name, v in self._aggregate(by_cat[cat]).items():
                    details[f"{name}/{cat}"] = float(v)
        details.update(_counts(counts))
        return TaskScore(value=details.get("pope_f1_score", 0.0), metric="pope_f1_score", details=details)


# ---------------------------------------------------------------------------------------------
# MME: tasks/mme/mme.yaml, tasks/mme/utils.py
# ---------------------------------------------------------------------------------------------
MME_PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene",
                  "landmark", "artwork", "OCR")  # utils.py:8-27


def mme_parse(pred_ans: str) -> str:
    """utils.py:48-69 (``parse_pred_ans``, from Otter): "yes"/"no" whole, "y"/"n" alone, else
    "yes" or "no" inside the first 4 characters ("Nope" -> no, "None of them" -> no)."""
    pred_ans = pred_ans.lower().strip().replace(".", "")
    if pred_ans in ["yes", "no"]:
        return pred_ans
    if len(pred_ans) == 1:
        return {"y": "yes", "n": "no"}.get(pred_ans, "other")
    prefix = pred_ans[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"


class Mme(Rules):
    REPLACE = " Please answer yes or no."  # utils.py:30

    def prepare(self, sample, doc):
        # utils.py:37-45 with mme.yaml:26-29: the suffix replaced wherever it occurs, then the
        # default post_prompt; mme.yaml:10-15: 16 new tokens, until "\n\n" by default
        question = str(doc["question"]).strip().replace(self.REPLACE, "")
        return _with(sample, prompt=f"{question}{SINGLE_WORD}", max_new_tokens=16, stop=DEFAULT_UNTIL,
                     doc={"answer": doc["answer"], "question_id": doc["question_id"]})

    @staticmethod
    def _correct(sample, pred: str) -> float:
        # utils.py:72-90: the parsed answer against the truth lowercased, stripped, "." removed
        gt = str(_doc(sample).get("answer", sample.answer)).lower().strip().replace(".", "")
        if gt not in ("yes", "no"):
            raise ValueError(f"MME ground truth must be yes or no, got {gt!r}")
        return 1.0 if mme_parse(pred) == gt else 0.0

    def judge(self, sample, prediction):
        return self._correct(sample, str(prediction).strip())

    def scorer(self):
        # keeps a count per (category, question id, right): an image's pair, no text
        def record(s, pred, _ref):
            pair = str(_doc(s).get("question_id", s.meta.get("pair", s.image.key)))
            return s.category, pair, self._correct(s, _result(pred)), pred is None

        return Tally(record, self._finish)

    def _finish(self, counts: Counter) -> TaskScore:
        # utils.py:93-122: per category, per question id (an image: two questions), acc + acc+,
        # averaged over images; perception and cognition are each the sum of their categories
        groups: dict[str, dict[str, dict[str, list[float]]]] = {"mme_perception_score": {},
                                                                 "mme_cognition_score": {}}
        for (category, qid, correct, _), k in counts.items():
            key = "mme_perception_score" if category in MME_PERCEPTION else "mme_cognition_score"
            groups[key].setdefault(category, {}).setdefault(qid, []).extend([correct] * k)
        details: dict[str, float] = {}
        for key, category2score in groups.items():
            category2avg = {}
            for category, question2scores in category2score.items():
                total = 0.0
                for scores in question2scores.values():
                    if len(scores) != 2:  # utils.py:112
                        raise ValueError("MME only supports pairwise evaluation (lmms-eval asserts two "
                                         f"questions per image; {category} has {len(scores)})")
                    acc = sum(scores) / len(scores) * 100.0
                    acc_plus = (sum(scores) == 2) * 100.0
                    total += acc_plus + acc
                category2avg[category] = total / len(question2scores)
                details[f"score/{category}"] = float(category2avg[category])
            if category2score:  # lmms-eval reports a metric only for results routed to it
                details[key] = float(sum(category2avg.values()))
        total = details.get("mme_perception_score", 0.0) + details.get("mme_cognition_score", 0.0)
        details.update(_counts(counts))
        return TaskScore(value=total, metric="mme_perception_score+mme_cognition_score", details=details)


# ---------------------------------------------------------------------------------------------
# SEED-Bench: tasks/seedbench/seedbench.yaml, tasks/seedbench/utils.py
# ---------------------------------------------------------------------------------------------
class SeedBench(Rules):
    def prepare(self, sample, doc):
        # utils.py:8-14 (question not stripped); seedbench.yaml:10-13: until "ASSISTANT:", no
        # max_new_tokens (the wrapper's default)
        question = str(doc["question"])
        question += "\n" + f"A. {doc['choice_a']}\n"
        question += f"B. {doc['choice_b']}\n"
        question += f"C. {doc['choice_c']}\n"
        question += f"D. {doc['choice_d']}"
        prompt = f"{question}\nAnswer with the option's letter from the given choices directly."
        return _with(sample, prompt=prompt, max_new_tokens=WRAPPER_MAX_NEW_TOKENS, stop=("ASSISTANT:",),
                     doc={"answer": doc["answer"]})

    @staticmethod
    def _correct(sample, pred: str) -> float:
        # utils.py:17-20: only the first character is kept; :27-34 compared case-insensitively
        if len(pred) > 1:
            pred = pred[0]
        answer = str(_doc(sample).get("answer", sample.answer))
        return 1.0 if pred.lower().strip() == answer.lower().strip() else 0.0

    def judge(self, sample, prediction):
        return self._correct(sample, str(prediction).strip())

    def scorer(self):
        return Tally(lambda s, pred, _ref: (int(self._correct(s, _result(pred))), pred is None), self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        # utils.py:27-34 over the image rows (seed_image); cvb keeps no video rows, so lmms-eval's
        # seed_video and seed_all (image + video) have no counterpart here
        total_correct = sum(k * ok for (ok, _), k in counts.items())
        n = sum(counts.values())
        value = total_correct / n if n else 0.0
        details = {"seed_image": float(value), "correct": float(total_correct)}
        details.update(_counts(counts))
        return TaskScore(value=float(value), metric="seed_image", details=details, accuracy_scale=1.0)


# ---------------------------------------------------------------------------------------------
# MMBench (mmbench_en_dev_static): tasks/mmbench/_default_template_mmbench_en_yaml,
# tasks/mmbench/en_utils.py, tasks/mmbench/mmbench_evals.py, tasks/_task_utils/mcq_extract.py
# ---------------------------------------------------------------------------------------------

def mmbench_options_prompt(doc: Mapping[str, Any]) -> str:
    """mmbench_evals.py:20-28 (``create_options_prompt``, sys_prompt from mmbench.yaml)."""
    available = set(doc.keys()) & {"A", "B", "C", "D", "E"}
    options = {c: doc[c] for c in available if doc[c]}
    text = "There are several options:\n"
    for key, item in sorted(options.items()):
        if not _isna(item) and item != "nan":
            text += f"{key}. {item}\n"
    return text.rstrip("\n")


def mmbench_choices(doc: Mapping[str, Any]) -> dict[str, str]:
    """mmbench_evals.py:50-55 (``build_choices``): options A-D that are not NaN/None."""
    return {ch: doc.get(ch, "nan") for ch in "ABCD" if not _isna(doc.get(ch, "nan"))}


def mmbench_can_infer_option(answer: str) -> str | bool:
    """mmbench_evals.py:79-105: one standalone letter of A-E (five, whatever the options), then
    the punctuated forms ("B.", "(B)", ":B" ...); a lone "A" in more than 3 words disqualifies
    the plain-letter pass."""
    choices = string.ascii_uppercase[:5]
    if "Failed to obtain answer via API" in answer:
        return False

    def count(splits, prefix="", suffix=""):
        return sum(1 for c in choices if prefix + c + suffix in splits)

    splits = [x.strip() for x in answer.split()]
    if count(splits) == 1:
        for ch in choices:
            if "A" in splits and len(splits) > 3:
                break
            if ch in splits:
                return ch
    tups = [("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."), (":", ""),
            (":", ","), (":", "."), (":", ")"), (":", ").")]
    for pre, suf in tups:
        if count(splits, pre, suf) == 1:
            for ch in choices:
                if pre + ch + suf in splits:
                    return ch
    return False


def mmbench_prefetch(prediction: str, doc: Mapping[str, Any]) -> str | bool:
    """mmbench_evals.py:121-127 (``can_infer``/``prefetch_answer``)."""
    return mmbench_can_infer_option(prediction) or can_infer_text(prediction, mmbench_choices(doc))


_MCQ_PHRASES = ("the answer is", "answer is", "the correct answer is", "correct answer is",
                "the best answer is", "best answer is", "the correct option is", "correct option is",
                "the best option is", "best option is", "the choice is", "choice is",
                "the correct choice is", "correct choice is", "i choose", "i select", "i pick",
                "my answer is", "my choice is", "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选",
                "答えは")  # mcq_extract.py:18-49
_MCQ_PRIORITY = {"start": 10, "end": 9, "phrase": 7, "parentheses": 6, "period": 5, "colon": 4,
                 "right_paren": 3, "space": 2, "fallback": 0}  # mcq_extract.py:52-62


def _mcq_formatted(text: str, choices: list[str]) -> list[tuple[str, int, str]]:
    """mcq_extract.py: (letter, its last position, format) of each letter written "(A)", "A.",
    "A:", "A)" or "A "."""
    return [(ch, text.rfind(fmt.format(ch)), name)
            for fmt, name in (("({})", "parentheses"), ("{}.", "period"), ("{}:", "colon"),
                              ("{})", "right_paren"), ("{} ", "space"))
            for ch in choices if fmt.format(ch) in text]


def _mcq_after_phrase(text: str, choices: list[str]) -> list[tuple[str, int, str]]:
    """mcq_extract.py: each letter's first position after each answer phrase ("the answer is" ...)."""
    lower = text.lower()
    cands = []
    for phrase in _MCQ_PHRASES:
        idx = lower.find(phrase)
        if idx != -1:
            after = idx + len(phrase)
            cands += [(ch, pos, "phrase") for ch in choices if (pos := text.find(ch, after)) != -1]
    return cands


def _mcq_at_the_ends(text: str, choices: list[str]) -> list[tuple[str, int, str]]:
    """mcq_extract.py: a letter that starts or ends the answer, not inside a word."""
    stripped = text.strip()
    starts = [(ch, 0, "start") for ch in choices
              if stripped.startswith(ch) and (len(stripped) == 1 or not stripped[1].isalpha())]
    ends = [(ch, len(text) - 1, "end") for ch in choices
            if stripped.endswith(ch) and (len(stripped) == 1 or not stripped[-2].isalpha())]
    return starts + ends


def extract_mcq_answer(response: str, choices: Sequence[str] | None = None) -> str:
    """mcq_extract.py:65-157: every letter in every format, then the highest-priority format,
    the latest position within it."""
    if not response or not response.strip():
        return ""
    all_choices = list(choices) if choices else ["A", "B", "C", "D", "E", "F", "G", "H"]
    text = response.strip()
    for char in [",", ".", "!", "?", ";", ":", "'", '"']:
        text = text.strip(char)
    text = " " + text + " "
    cands = [*_mcq_formatted(text, all_choices), *_mcq_after_phrase(text, all_choices),
             *_mcq_at_the_ends(text, all_choices)]
    if not cands:
        for ch in all_choices:
            if ch in text:
                cands.append((ch, text.rfind(ch), "fallback"))
    if not cands:
        return ""
    cands.sort(key=lambda x: (_MCQ_PRIORITY.get(x[2], 0), x[1]), reverse=True)
    return cands[0][0]


def mmbench_row_letter(prediction: str, doc: Mapping[str, Any]) -> str:
    """The letter the static evaluator reads from one row: the prefetch, else the static
    extractor over the row's option letters (mmbench_evals.py:212-226); "" = none."""
    pre = mmbench_prefetch(prediction, doc)
    if pre:
        return str(pre)
    return extract_mcq_answer(prediction, choices=sorted(mmbench_choices(doc)))


def mmbench_row_hit(prediction: str, gt: str, doc: Mapping[str, Any]) -> bool:
    """mmbench_evals.py:206-234 (``eval_sub_data``, static) for one row of a question: its
    prefetched letter is the truth, or with none prefetched, the static extractor's letter is.
    The question is hit when all its rows are (eval_sub_data fails it at the first wrong
    prefetched letter, then at the first unprefetched row extracting wrong: the same verdict)."""
    pre = mmbench_prefetch(prediction, doc)
    if pre:
        return gt == pre
    letter = extract_mcq_answer(prediction, choices=sorted(mmbench_choices(doc)))
    return bool(letter) and letter == gt


class Mmbench(Rules):
    def prepare(self, sample, doc):
        # en_utils.py:50-73 with _default_template_mmbench_en_yaml:15-18; :28-35: until
        # "ASSISTANT:", 1024 new tokens
        hint = doc.get("hint")
        options = mmbench_options_prompt(doc)
        if not _isna(hint) and hint != "nan":
            prompt = f"{hint} {doc['question']} {options}"
        else:
            prompt = f"{doc['question']} {options}"
        # en_utils.py:70-71: "\n" + post_prompt, which itself starts with "\n"
        prompt = f"{prompt}\n\nAnswer with the option's letter from the given choices directly."
        keep = {k: doc.get(k) for k in ("index", "answer", "category", "L2-category")}
        keep.update({k: doc.get(k, "nan") for k in "ABCD"})  # en_utils.py:102-105: doc.get(c, "nan")
        return _with(sample, prompt=prompt, max_new_tokens=1024, stop=("ASSISTANT:",), doc=keep)

    def judge(self, sample, prediction):
        doc = _doc(sample)
        return 1.0 if mmbench_row_letter(str(prediction).strip(), doc) == doc["answer"] else 0.0

    def scorer(self):
        # mmbench_evals.py:206-234 decides each row on its own (a prefetched letter must be the
        # truth, else the extracted one must), so a row is kept as one verdict: a count per
        # (question, main row?, category, L2-category, row right)
        def record(sample, prediction, _ref):
            doc = _doc(sample)
            idx = int(doc["index"])
            main = idx < int(1e6)
            return (idx % int(1e6), main, str(doc.get("category")) if main else None,
                    str(doc.get("L2-category")) if main else None,
                    mmbench_row_hit(_result(prediction), doc["answer"], doc), prediction is None)
        return Tally(record, self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        # mmbench_evals.py:252-314 (eval_result): a question is its row below 1e6 plus every row
        # whose index % 1e6 equals it (the data's circular copies); right if all its rows are
        group_ok: dict[int, bool] = {}
        mains: dict[int, tuple[str, str]] = {}
        for (q, main, cat, l2, ok, _), k in counts.items():
            group_ok[q] = group_ok.get(q, True) and ok
            if main:
                mains[q] = (cat, l2)
        hits = [(mains[q], int(group_ok[q])) for q in sorted(mains)]
        overall = sum(h for _, h in hits) / len(hits) if hits else 0.0  # calculate_hit_rates :236-249
        details: dict[str, float] = {"overall_acc": float(overall), "hit": float(sum(h for _, h in hits)),
                                     "rows": float(sum(counts.values()))}
        for col, pos in (("category", 0), ("L2-category", 1)):
            by: dict[str, list[int]] = defaultdict(list)
            for cats, h in hits:
                by[cats[pos]].append(h)
            for cat in sorted(by):
                details[f"{col.lower()}_acc/{cat}"] = sum(by[cat]) / len(by[cat])
        details.update(_counts(counts))
        details["questions"] = float(len(hits))
        # en_utils.py:123-135: the static aggregate is overall_acc * 100
        return TaskScore(value=float(overall * 100), metric="gpt_eval_score", details=details)


# ---------------------------------------------------------------------------------------------
# OCRBench: tasks/ocrbench/ocrbench.yaml, tasks/ocrbench/utils.py
# ---------------------------------------------------------------------------------------------
OCRBENCH_ORDER = ("Regular Text Recognition", "Irregular Text Recognition", "Artistic Text Recognition",
                  "Handwriting Recognition", "Digit String Recognition", "Non-Semantic Text Recognition",
                  "Scene Text-centric VQA", "Doc-oriented VQA", "Key Information Extraction",
                  "Handwritten Mathematical Expression Recognition")  # utils.py:6-17


def fold_fullwidth_ascii(text: str) -> str:
    """utils.py:20-31: full-width ASCII (U+FF01-FF5E) to ASCII, U+3000 to a space, nothing more."""
    out = []
    for char in text:
        cp = ord(char)
        if 0xFF01 <= cp <= 0xFF5E:
            out.append(chr(cp - 0xFEE0))
        elif cp == 0x3000:
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def ocrbench_hit(pred: str, answers: Any, dataset_name: str) -> int:
    """utils.py:47-79: HME100k (by the row's ``dataset``): spaces removed, case kept; else both
    full-width-folded, lowercased, stripped, newlines as spaces; some answer inside the prediction
    (an empty answer is inside every prediction)."""
    answers = answers if type(answers) is list else [answers]
    score = 0
    for gt in answers:
        if dataset_name == "HME100k":
            answer = gt.strip().replace("\n", " ").replace(" ", "")
            predict = pred.strip().replace("\n", " ").replace(" ", "")
        else:
            answer = fold_fullwidth_ascii(gt).lower().strip().replace("\n", " ")
            predict = fold_fullwidth_ascii(pred).lower().strip().replace("\n", " ")
        if answer in predict:
            score = 1
    return score


class OcrBench(Rules):
    def prepare(self, sample, doc):
        # utils.py:39-44 with ocrbench.yaml:23-26 (no pre/post prompt); :12-17: 128 new tokens
        answers = doc["answer"]
        answers = list(answers) if isinstance(answers, (list, tuple)) else answers
        return _with(sample, prompt=str(doc["question"]).strip(), max_new_tokens=128, stop=DEFAULT_UNTIL,
                     doc={"answer": answers, "dataset": doc["dataset"], "question_type": doc["question_type"]})

    def judge(self, sample, prediction):
        doc = _doc(sample)
        return float(ocrbench_hit(str(prediction).strip(), doc["answer"], doc["dataset"]))

    def scorer(self):
        def record(sample, prediction, _ref):
            doc = _doc(sample)
            hit = ocrbench_hit(_result(prediction), doc["answer"], doc["dataset"])
            return doc["question_type"], hit, prediction is None
        return Tally(record, self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        # utils.py:82-117: hits per question type; the result is Final_score / 1000 whatever the
        # number of questions
        per: dict[str, int] = {k: 0 for k in OCRBENCH_ORDER}
        for (qtype, hit, _), k in counts.items():
            if qtype not in per:  # lmms-eval's KeyError
                raise ValueError(f"OCRBench question type {qtype!r} unknown; known: {', '.join(OCRBENCH_ORDER)}")
            per[qtype] += k * hit
        recognition = sum(per[k] for k in OCRBENCH_ORDER[:6])
        final = recognition + sum(per[k] for k in OCRBENCH_ORDER[6:])
        details: dict[str, float] = {"hits": float(final), "recognition": float(recognition)}
        for qtype in OCRBENCH_ORDER:
            details[f"hits/{qtype}"] = float(per[qtype])
        details.update(_counts(counts))
        return TaskScore(value=final / 1000, metric="ocrbench_accuracy", details=details)


# ---------------------------------------------------------------------------------------------
# GQA: tasks/gqa/gqa.yaml, tasks/gqa/utils.py, api/metrics.py
# ---------------------------------------------------------------------------------------------
_PUNCT_TABLE = str.maketrans("", "", string.punctuation)


def gqa_exact_match(pred: str, gold: str) -> float:
    """api/metrics.py:188-220 (``exact_match_hf_evaluate``) with gqa.yaml:18-23
    (ignore_case, ignore_punctuation): lowercase, ASCII punctuation deleted, then equal. The
    prediction arrives stripped (api/task.py:1674); the truth is used as it is."""
    return 1.0 if pred.lower().translate(_PUNCT_TABLE) == str(gold).lower().translate(_PUNCT_TABLE) else 0.0


class Gqa(Rules):
    def prepare(self, sample, doc):
        # utils.py:26-30 (question not stripped) with gqa.yaml:27-30; :12-17: 16 new tokens
        return _with(sample, prompt=f"{doc['question']}{SINGLE_WORD}", max_new_tokens=16, stop=DEFAULT_UNTIL,
                     doc={"answer": doc["answer"]})

    def judge(self, sample, prediction):
        return gqa_exact_match(str(prediction).strip(), _doc(sample).get("answer", sample.answer))

    def scorer(self):
        return Tally(lambda s, pred, _ref: (gqa_exact_match(_result(pred), _doc(s).get("answer", s.answer)),
                                            pred is None), self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        n = sum(counts.values())
        correct = sum(k * hit for (hit, _), k in counts.items())
        value = correct / n if n else 0.0  # api/metrics.py:23-24 (mean)
        details = {"exact_match": float(value), "correct": float(correct)}
        details.update(_counts(counts))
        return TaskScore(value=float(value), metric="exact_match", details=details, accuracy_scale=1.0)


# ---------------------------------------------------------------------------------------------
# COCO captions (coco2017_cap_val): tasks/coco_cap/coco2017_cap_val.yaml, tasks/coco_cap/utils.py
# ---------------------------------------------------------------------------------------------
class CocoCaption(Rules):
    PROMPT = "Provide a one-sentence caption for the provided image."  # utils.py:30-31

    def prepare(self, sample, doc):
        # coco2017_cap_val.yaml:11-16: 64 new tokens, until "\n\n" by default
        return _with(sample, prompt=self.PROMPT, max_new_tokens=64, stop=DEFAULT_UNTIL)

    def judge(self, sample, prediction):
        return None  # corpus-level metrics only

    def scorer(self):
        # keeps each sample's caption and references only (the corpus metrics need them all)
        return Tally(lambda s, pred, _ref: (s.id, _result(pred), tuple(s.answer), pred is None), self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        # utils.py:72-125: pycocoevalcap's scorers over PTB-tokenised captions, per metric
        from .coco_metrics import coco_scores

        hyps = {sid: hyp for sid, hyp, _, _ in counts}
        refs = {sid: list(r) for sid, _, r, _ in counts}
        scores, exact = coco_scores(hyps, refs)
        details = {f"coco_{k}": float(v) for k, v in scores.items()}
        details["pycocoevalcap"] = 1.0 if exact else 0.0
        details.update(_counts(counts))
        return TaskScore(value=details["coco_CIDEr"], metric="coco_CIDEr", details=details)


RULES: dict[str, Callable[[], Rules]] = {
    "pope": Pope, "mme": Mme, "seedbench": SeedBench, "mmbench": Mmbench, "ocrbench": OcrBench,
    "gqa": Gqa, "coco-caption": CocoCaption,
}
