"""``protocol=vlmevalkit``: VLMEvalKit's dataset prompts and its exact-matching evaluation.

VLMEvalKit does not install offline (not on PyPI), so the rules below are ported from its
source (open-compass/VLMEvalKit; each rule cites the file, and the commit where the file keeps
changing). Without a judge, VLMEvalKit's ``exact_matching`` path is followed: an answer its
extraction cannot read is wrong ("Unknown" / "Z"). With ``judge=VLM`` (any cvb VLM that answers
text, e.g. ``openai:gpt-4o-mini``), those answers go to the judge with VLMEvalKit's own matching
prompt, as VLMEvalKit's LLM judge; the judge's label is part of the task label, so judged and
unjudged scores never mix.

Prompts are VLMEvalKit's dataset defaults (many of its model wrappers replace them with
model-specific prompts; cvb cannot know which model a VLMEvalKit run used). Generation budget:
VLMEvalKit sets none per dataset; cvb uses 2048 new tokens, the default of VLMEvalKit's
Qwen2-VL wrapper (vlmeval/vlm/qwen2_vl/model.py), and no stop strings.
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from typing import Any, Callable, Literal, Mapping, Sequence

from cvb.scoring.tally import Tally
from cvb.types import TaskScore
from .common import can_infer_text, doc_of as _doc, isna as _isna, with_meta as _with

NAME = "vlmevalkit"
MAX_NEW_TOKENS = 2048
VQA_SUFFIX = "\nAnswer the question using a single word or phrase."  # vlmeval/dataset/image_vqa.py


def _prediction(prediction: str | None) -> str:
    return "" if prediction is None else str(prediction)  # VLMEvalKit: [str(x) for x in data['prediction']]


def _counts(counts: Counter) -> dict[str, float]:
    """questions and missing of a tally whose records end with ``prediction is None``."""
    return {"questions": float(sum(counts.values())),
            "missing": float(sum(k for rec, k in counts.items() if rec[-1]))}


# ---- the judge -------------------------------------------------------------------------------
class Judge:
    """A cvb VLM asked text-only questions (VLMEvalKit's ``build_judge``). Replies are memoised
    and, inside ``cvb run`` / ``cvb report``, kept in the results store (``cvb.run.judge_replies``,
    keyed by the judge, its version, the question, the prediction and the prompt): a rescore
    never asks the judge about an answer it has already decided."""

    def __init__(self, ref: str):
        self.ref = str(ref)
        self._vlm = None
        self._memo: dict[str, str] = {}

    def _model(self):
        if self._vlm is None:
            from cvb.plugins import get_registry

            self._vlm = get_registry().create("vlm", self.ref)
        return self._vlm

    def _version(self) -> str | None:
        """The judge's version (model, endpoint), None where it cannot be built here (no API key
        on a rescore): stored replies of any version are then taken."""
        try:
            return str(getattr(self._model(), "version", "") or "")
        except Exception:  # noqa: BLE001 - building fails again, with its error, if asking is needed
            return None

    def ask(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        """The judge's reply to each ``(question, prediction, prompt)``."""
        from cvb.run import judge_replies
        from cvb.types import Query

        shas = [judge_replies.item_sha(*it) for it in items]
        todo = {sha: it for sha, it in zip(shas, items) if sha not in self._memo}
        if todo:
            version = self._version()
            self._memo.update(judge_replies.stored(self.ref, version, list(todo)))
            todo = {sha: it for sha, it in todo.items() if sha not in self._memo}
        if todo:
            answers = self._model().answer([Query(image=None, prompt=it[2], verbatim=True, max_new_tokens=16)
                                            for it in todo.values()])
            for sha, a in zip(todo, answers):
                if a.error:
                    raise RuntimeError(f"judge {self.ref} failed: {a.error}")
                self._memo[sha] = a.text
            judge_replies.keep(self.ref, self._version(),
                               [(*it, self._memo[sha]) for sha, it in todo.items()])
        return [self._memo[sha] for sha in shas]


class Rules:
    scoring = NAME
    judged = 0  # answers the judge was asked about in the last score() (details["judged"])

    def __init__(self, judge: str | None = None):
        self.judge_ref = str(judge) if judge not in (None, "") else None
        self._judge = Judge(self.judge_ref) if self.judge_ref else None
        if self.judge_ref:
            self.scoring = f"{NAME} judge={self.judge_ref}"

    def scorer(self) -> Tally:  # pragma: no cover - abstract
        """The rule as a streamed scorer (``cvb.scoring.tally``): a tally of what it reads per sample."""
        raise NotImplementedError


# ---- yes / no: vlmeval/dataset/image_yorn.py, vlmeval/dataset/utils/yorn.py -------------------
def process_punctuation(in_text: str) -> str:
    """vlmeval/smp/misc.py (``process_punctuation``, VQA's): punctuation deleted or turned into
    spaces, periods not between digits deleted (``re.UNICODE`` is passed as the count, as there)."""
    out = in_text
    punct = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
             ",", "?", "!"]
    comma_strip = re.compile(r"(\d)(,)(\d)")
    period_strip = re.compile(r"(?<!\d)\.(?!\d)")
    for p in punct:
        if (p + " " in in_text or " " + p in in_text) or (re.search(comma_strip, in_text) is not None):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return period_strip.sub("", out, re.UNICODE)


def yorn_extraction(output: str) -> str:
    """utils/yorn.py (``YOrN_Extraction``): exactly one of the words yes / no."""
    words = process_punctuation(output.lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"


def yorn_match_prompt(question: str, prediction: str) -> str:
    """utils/yorn.py (``YOrN_match_prompt``)."""
    tmpl = (
        "You are an AI assistant who will help me to match an answer with two options of a question. "
        "The options are only Yes / No. "
        "You are provided with a question and an answer, "
        "and you need to find which option (Yes / No) is most similar to the answer. "
        "If the meaning of all options are significantly different from the answer, output Unknown. "
        "Your should output a single word among the following 3 choices: Yes, No, Unknown.\n"
        "Example 1: \n"
        "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is 'Hello'.\nYour output: Yes\n"
        "Example 2: \n"
        "Question: Is the word in this image 'Hello'?\n"
        "Answer: The word in this image is not 'Hello'.\nYour output: No\n"
        "Example 3: \n"
        "Question: {}?\nAnswer: {}\nYour output: "
    )
    return tmpl.format(question, prediction)


class YesNo(Rules):
    def prepare(self, sample, doc):
        # ImageBaseDataset.build_prompt: the dataset's question as it is
        return _with(sample, prompt=str(doc["question"]), max_new_tokens=MAX_NEW_TOKENS,
                     doc={"question": str(doc["question"])})

    def _record(self, sample, prediction) -> tuple:
        """(category, pair, truth, extraction, asked, missing): ``asked`` holds (question, text)
        only for an "Unknown" a judge will be asked about."""
        text = _prediction(prediction)
        ext = yorn_extraction(text)
        asked = None
        if ext == "Unknown" and self._judge is not None:
            asked = (str(_doc(sample).get("question", sample.question)), text)
        return (sample.category, str(sample.meta.get("pair", sample.image.key)), self._truth(sample), ext, asked,
                prediction is None)

    def scorer(self):
        return Tally(lambda s, pred, _ref: self._record(s, pred), self._finish)

    def _finish(self, counts: Counter) -> TaskScore:
        """The score from the tally's counts: each yes/no benchmark's own (POPE, MME)."""
        raise NotImplementedError

    def extracted(self, counts: Counter) -> list[tuple[tuple, str, int]]:
        """image_yorn.py ``evaluate``: exact extraction, then the judge for the Unknowns; each
        distinct record with its final extraction and count."""
        self.judged = 0
        out = [(rec, rec[3], k) for rec, k in counts.items()]
        unknown = [n for n, (rec, _, _) in enumerate(out) if rec[4] is not None]
        if unknown:
            assert self._judge is not None, "a record left to the judge is made only when one is set"
            asked = [(q, t, yorn_match_prompt(q, t)) for q, t in (out[n][0][4] for n in unknown)]
            for n, reply in zip(unknown, self._judge.ask(asked)):
                out[n] = (out[n][0], yorn_extraction(reply), out[n][2])  # YOrN_auxeval reads the judge the same way
            self.judged = sum(out[n][2] for n in unknown)
        return out

    @staticmethod
    def _truth(sample) -> str:
        return "Yes" if str(sample.answer).strip().lower().rstrip(".") == "yes" else "No"

    def judge(self, sample, prediction):
        return 1.0 if yorn_extraction(str(prediction)) == self._truth(sample) else 0.0


class Pope(YesNo):
    def _record(self, sample, prediction) -> tuple:
        # POPE_rating reads no image pair (MME's acc+ does): without it a cell has a handful of
        # distinct records, not one per image, and a resample's score is cheap to count
        category, _pair, *rest = super()._record(sample, prediction)
        return (category, "", *rest)

    def scorer(self):
        values = self._values if self._judge is None else None  # a judge's replies are not in the counts
        return Tally(lambda s, pred, _ref: self._record(s, pred), self._finish, values)

    @staticmethod
    def _values(records: list, counts):
        """``_finish``'s value (F1 x100; Unknown a negative) of every row of counts at once
        (``cvb report``), for rules without a judge (every extraction is in the record)."""
        from cvb.scoring import f1_many, row_sums

        return f1_many(row_sums(counts, [r[2] == "Yes" and r[3] == "Yes" for r in records]),
                       row_sums(counts, [r[2] != "Yes" and r[3] == "Yes" for r in records]),
                       row_sums(counts, [r[2] == "Yes" and r[3] != "Yes" for r in records])) * 100

    def _finish(self, counts: Counter) -> TaskScore:
        # utils/yorn.py POPE_rating: F1 / precision / recall with "Yes" as positive over every
        # answer (Unknown is a negative), acc = mean score; all x100
        ext = self.extracted(counts)

        def rate(rows):
            tp = sum(k for rec, e, k in rows if rec[2] == "Yes" and e == "Yes")
            fp = sum(k for rec, e, k in rows if rec[2] != "Yes" and e == "Yes")
            fn = sum(k for rec, e, k in rows if rec[2] == "Yes" and e != "Yes")
            n = sum(k for *_, k in rows)
            precision = tp / (tp + fp) if (tp + fp) != 0 else 0
            recall = tp / (tp + fn) if (tp + fn) != 0 else 0
            f1 = 2 * (precision * recall) / (precision + recall) if (precision + recall) != 0 else 0
            acc = sum(k for rec, e, k in rows if rec[2] == e) / n if n else 0.0
            return {"Overall": f1 * 100, "acc": acc * 100, "precision": precision * 100, "recall": recall * 100}

        details = {k: float(v) for k, v in rate(ext).items()}
        for cat in sorted({rec[0] for rec, _, _ in ext}):
            if cat:
                for k, v in rate([row for row in ext if row[0][0] == cat]).items():
                    details[f"{k}/{cat}"] = float(v)
        details["unknown"] = float(sum(k for _, e, k in ext if e == "Unknown"))
        details["judged"] = float(self.judged)
        details.update(_counts(counts))
        return TaskScore(value=details["Overall"], metric="Overall", details=details)


class Mme(YesNo):
    PERCEPTION = ("OCR", "artwork", "celebrity", "color", "count", "existence", "landmark", "position",
                  "posters", "scene")
    REASONING = ("code_reasoning", "commonsense_reasoning", "numerical_calculation", "text_translation")

    def _finish(self, counts: Counter) -> TaskScore:
        # utils/yorn.py MME_rating: per category acc (x100) + acc+ (both of an image's answers
        # right, x100); perception and reasoning sums (over the categories present)
        ext = self.extracted(counts)
        stats: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for rec, e, k in ext:
            stats[rec[0]].setdefault(rec[1], []).extend([int(e == rec[2])] * k)
        scores = {}
        for cat, images in stats.items():
            normal = [v for vals in images.values() for v in vals]
            plus = [vals[0] * vals[1] if len(vals) == 2 else vals[0] for vals in images.values()]
            scores[cat] = sum(normal) / len(normal) * 100 + sum(plus) / len(plus) * 100
        details = {"perception": float(sum(scores[c] for c in self.PERCEPTION if c in scores)),
                   "reasoning": float(sum(scores[c] for c in self.REASONING if c in scores))}
        details.update({f"score/{c}": float(v) for c, v in scores.items()})
        details["unknown"] = float(sum(k for _, e, k in ext if e == "Unknown"))
        details["judged"] = float(self.judged)
        details.update(_counts(counts))
        # ImageYORNDataset.report_primary_metric: perception + reasoning
        return TaskScore(value=details["perception"] + details["reasoning"], metric="Overall Score",
                         details=details)


# ---- multiple choice: vlmeval/dataset/image_mcq.py, vlmeval/utils/matching_util.py (commit
# 18fc37a5), vlmeval/dataset/utils/multiple_choice.py (commit 028a6e77) --------------------------
def mcq_prompt(doc: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    """image_mcq.py ImageMCQDataset.build_prompt."""
    prompt = ""
    hint = doc.get("hint")
    if hint is not None and not _isna(hint):
        prompt += f"Hint: {hint}\n"
    prompt += f"Question: {doc['question']}\n"
    if len(options):
        prompt += "Options:\n"
        for key, item in options.items():
            prompt += f"{key}. {item}\n"
        prompt += "Please select the correct answer from the options above. \n"
    return prompt


def can_infer_option(answer: str, choices: Mapping[str, Any]) -> str | Literal[False]:
    """matching_util.py ``can_infer_option`` (VERBOSE unset, so no "A is an article" guard)."""
    if "Failed to obtain answer via API" in answer:
        return False
    for err in ("Sorry, I can't help with images of people yet.", "I can't process this file.",
                "I'm sorry, but without the image provided", "Cannot determine the answer"):
        if err in answer:
            return "Z"

    def count_choice(splits, cands):
        return sum(1 for c in cands if c in splits)

    mod = answer
    for c in ".()[],:;!*#{}":
        mod = mod.replace(c, " ")
    splits = [x.strip() for x in mod.split()]
    count = count_choice(splits, choices)
    if count == 1:
        for ch in choices:
            if ch in splits:
                return ch
    elif count == 0 and count_choice(splits, {"Z", ""}) == 1:
        return "Z"
    return False


def can_infer(answer: str, choices: Mapping[str, Any]) -> str | Literal[False]:
    answer = str(answer)
    return can_infer_option(answer, choices) or can_infer_text(answer, choices)


def judge_prompt(question: str, choices: Mapping[str, Any], prediction: str) -> str:
    """multiple_choice.py ``build_prompt`` with ``build_option_str`` (utils/__init__)."""
    option_str = "There are several options: \n"
    for c, opt in choices.items():
        option_str += f"{c}. {opt}\n"
    tmpl = (
        "You are an AI assistant who will help me to match "
        "an answer with several options of a single-choice question. "
        "You are provided with a question, several options, and an answer, "
        "and you need to find which option is most similar to the answer. "
        "If the meaning of all options are significantly different from the answer, output Z. "
        "Your should output a single uppercase character in A, B, C, D (if they are valid options), and Z. \n"
        "Example 1: \n"
        "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
        "Answer: a cute teddy bear\nYour output: A\n"
        "Example 2: \n"
        "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
        "Answer: Spider\nYour output: Z\n"
        "Example 3: \n"
        "Question: {}?\nOptions: {}\nAnswer: {}\nYour output: "
    )
    return tmpl.format(question, option_str, prediction)


class Choice(Rules):
    circular = False

    def prepare(self, sample, doc):
        options = self.options_of(doc)
        keep = {"question": str(doc["question"]), "answer": str(doc["answer"]), "options": options,
                "index": doc.get("index"), "category": doc.get("category"), "l2": doc.get("L2-category")}
        return _with(sample, prompt=mcq_prompt(doc, options), max_new_tokens=MAX_NEW_TOKENS, doc=keep)

    @staticmethod
    def options_of(doc) -> dict[str, Any]:
        # image_mcq.py: every capital letter column that is present and not NaN
        return {c: doc[c] for c in string.ascii_uppercase if c in doc and not _isna(doc[c])}

    def _extract(self, items: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
        """multiple_choice.py ``extract_answer_from_item``: the stripped prediction; can_infer on
        one under 10 characters; then the judge, or "Z" under exact matching."""
        out: list[str | None] = []
        ask: list[int] = []
        for prediction, doc in items:
            pred = prediction.strip()
            ret = can_infer(pred, dict(doc["options"])) if len(pred) < 10 else None
            out.append(ret or None)
            if not ret:
                ask.append(len(out) - 1)
        if ask and self._judge is not None:
            asked = [(str(items[i][1]["question"]), items[i][0].strip(),
                      judge_prompt(items[i][1]["question"], items[i][1]["options"], items[i][0].strip()))
                     for i in ask]
            for i, reply in zip(ask, self._judge.ask(asked)):
                out[i] = can_infer(reply, dict(items[i][1]["options"])) or "Z"
            self.judged += len(ask)
        return [o or "Z" for o in out]

    def judge(self, sample, prediction):
        doc = _doc(sample)
        return 1.0 if self._extract([(str(prediction), doc)])[0] == doc["answer"] else 0.0

    def _letter(self, prediction: str, doc: Mapping[str, Any]) -> tuple[str | None, tuple | None]:
        """``_extract`` without the judge: (letter, None), or (None, what to ask the judge) for
        an answer exact matching cannot read while a judge is set ("Z" without one)."""
        pred = prediction.strip()
        ret = can_infer(pred, dict(doc["options"])) if len(pred) < 10 else None
        if ret:
            return ret, None
        if self._judge is None:
            return "Z", None
        return None, (str(doc["question"]), pred, tuple(dict(doc["options"]).items()))

    def _judged(self, asked: Sequence[tuple]) -> list[str]:
        """The judge's letter for each (question, stripped prediction, options) ``_letter`` left."""
        assert self._judge is not None, "``_letter`` leaves nothing to the judge without one"
        replies = self._judge.ask([(q, p, judge_prompt(q, dict(opts), p)) for q, p, opts in asked])
        self.judged += len(asked)
        return [can_infer(reply, dict(opts)) or "Z" for reply, (_, _, opts) in zip(replies, asked)]


class SeedBench(Choice):
    def prepare(self, sample, doc):
        # VLMEvalKit's SEEDBench_IMG.tsv holds the hub's choice_a..choice_d as columns A-D
        letters = {c.upper(): doc[f"choice_{c}"] for c in "abcd" if f"choice_{c}" in doc}
        return super().prepare(sample, {**doc, **letters})

    def scorer(self):
        def record(sample, prediction, _ref):
            doc = _doc(sample)
            letter, asked = self._letter(_prediction(prediction), doc)
            return sample.category, doc["answer"], letter, asked, prediction is None
        return Tally(record, self._finish)

    def _finish(self, counts: Counter) -> TaskScore:
        # multiple_choice.py mcq_vanilla_eval + report_acc: mean hit per question
        self.judged = 0
        rows = [[rec[0], rec[1], rec[2], k] for rec, k in counts.items()]
        todo = [(n, rec[3]) for n, rec in enumerate(counts) if rec[3] is not None]
        if todo:
            for (n, _), letter in zip(todo, self._judged([a for _, a in todo])):
                rows[n][2] = letter
            self.judged = sum(rows[n][3] for n, _ in todo)
        total = sum(k for *_, k in rows)
        overall = sum(k for _, gt, ltr, k in rows if ltr == gt) / total if total else 0.0
        details = {"Overall": float(overall), "unmatched": float(sum(k for *_, ltr, k in rows if ltr == "Z")),
                   "judged": float(self.judged)}
        by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for cat, gt, ltr, k in rows:
            by[cat][0] += k * (ltr == gt)
            by[cat][1] += k
        for cat in sorted(by):
            if cat:
                details[f"Overall/{cat}"] = by[cat][0] / by[cat][1]
        details.update(_counts(counts))
        return TaskScore(value=float(overall), metric="Overall", details=details, accuracy_scale=1.0)


class Mmbench(Choice):
    def scorer(self):
        # multiple_choice.py mcq_circular_eval: a question (index < 1e6) with every row of the
        # same index % 1e6; prefetch_circular_group, then (judge only) eval_circular_group. Per
        # row: "ok" (prefetched right), "wrong" (prefetched wrong) or what to ask the judge
        def record(sample, prediction, _ref):
            doc = _doc(sample)
            idx, text = int(doc["index"]), _prediction(prediction)
            main = idx < int(1e6)
            p = can_infer(text, dict(doc["options"]))  # prefetch_answer
            state = "ok" if p and p == doc["answer"] else "wrong" if p else "left" if self._judge is None else (
                text, doc["answer"], str(doc["question"]), tuple(dict(doc["options"]).items()))
            return (idx % int(1e6), main, str(doc.get("category")) if main else None,
                    str(doc.get("l2")) if main else None, state, prediction is None)
        return Tally(record, self._finish)

    def _finish(self, counts: Counter) -> TaskScore:
        self.judged = 0
        groups: dict[int, list] = {}  # question -> [category, l2, any wrong, rows left to the judge, has main]
        for (q, main, cat, l2, state, _), k in counts.items():
            g = groups.setdefault(q, [None, None, False, [], False])
            if main:
                g[0], g[1], g[4] = cat, l2, True
            if state == "wrong":
                g[2] = True
            elif state != "ok":
                g[3].extend([state] * k)
        hits: list[tuple[str, str, int]] = []
        for q in sorted(groups):
            cat, l2, wrong, left, has_main = groups[q]
            if has_main:
                hits.append((cat, l2, self._group_hit(wrong, left)))
        overall = sum(h for *_, h in hits) / len(hits) if hits else 0.0
        details: dict[str, float] = {"Overall": float(overall), "rows": float(sum(counts.values())),
                                     "judged": float(self.judged)}
        for key, pos in (("category", 0), ("l2", 1)):
            by: dict[str, list[int]] = defaultdict(list)
            for h in hits:
                by[str(h[pos])].append(h[2])
            for cat in sorted(by):
                details[f"{'l2-category' if key == 'l2' else key}/{cat}"] = sum(by[cat]) / len(by[cat])
        details.update(_counts(counts))
        details["questions"] = float(len(hits))
        return TaskScore(value=float(overall), metric="Overall", details=details)

    def _group_hit(self, wrong: bool, left: Sequence) -> int:
        if wrong:
            return 0
        if not left:
            return 1
        if self._judge is None:  # exact matching: "Failed in Prefetch"
            return 0
        read = [self._letter(text, {"question": q, "options": dict(opts)}) + (gt,) for text, gt, q, opts in left]
        judged = iter(self._judged([ask for _, ask, _ in read if ask is not None]))
        return int(all((letter if ask is None else next(judged)) == gt for letter, ask, gt in read))


# ---- OCRBench: vlmeval/dataset/image_vqa.py (class OCRBench) --------------------------------
class OcrBench(Rules):
    def prepare(self, sample, doc):
        answers = doc["answer"]
        answers = [str(a) for a in answers] if isinstance(answers, (list, tuple)) else [str(answers)]
        return _with(sample, prompt=str(doc["question"]), max_new_tokens=MAX_NEW_TOKENS,
                     doc={"answer": answers, "category": doc["question_type"]})

    @staticmethod
    def hit(prediction: str, doc) -> int:
        # OCRBench.evaluate: HME by category (spaces and newlines removed, case kept), others
        # lowercased, stripped, newlines as spaces; an answer inside the prediction
        predict = str(prediction)
        for answer in doc["answer"]:
            if doc["category"] == "Handwritten Mathematical Expression Recognition":
                a = answer.strip().replace("\n", " ").replace(" ", "")
                p = predict.strip().replace("\n", " ").replace(" ", "")
            else:
                a = answer.lower().strip().replace("\n", " ")
                p = predict.lower().strip().replace("\n", " ")
            if a in p:
                return 1
        return 0

    def judge(self, sample, prediction):
        return float(self.hit(prediction, _doc(sample)))

    def scorer(self):
        return Tally(lambda s, pred, _ref: (_doc(s)["category"], self.hit(_prediction(pred), _doc(s)), pred is None),
                     self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        per: dict[str, int] = defaultdict(int)
        for (cat, hit, _), k in counts.items():
            per[cat] += k * hit
        final = sum(per.values())
        details = {"Final Score": float(final), "Final Score Norm": final / 10}
        details.update({f"hits/{k}": float(v) for k, v in sorted(per.items())})
        details.update(_counts(counts))
        return TaskScore(value=float(final), metric="Final Score", details=details)


# ---- GQA: vlmeval/dataset/image_vqa.py (ImageVQADataset), utils/vqa_eval.py -------------------
class Gqa(Rules):
    def prepare(self, sample, doc):
        return _with(sample, prompt=f"{doc['question']}{VQA_SUFFIX}", max_new_tokens=MAX_NEW_TOKENS,
                     doc={"answer": str(doc["answer"])})

    @staticmethod
    def hit(prediction: str, answer: str) -> float:
        # process_line(method='accuracy'): stripped, lowercased, equal
        return 1.0 if answer.strip().lower() == str(prediction).strip().lower() else 0.0

    def judge(self, sample, prediction):
        return self.hit(prediction, _doc(sample)["answer"])

    def scorer(self):
        return Tally(lambda s, pred, _ref: (self.hit(_prediction(pred), _doc(s)["answer"]), pred is None), self._finish)

    @staticmethod
    def _finish(counts: Counter) -> TaskScore:
        n = sum(counts.values())
        overall = sum(k * hit for (hit, _), k in counts.items()) / n * 100 if n else 0.0  # hit_calculate, mean x100
        details = {"Overall": float(overall)}
        details.update(_counts(counts))
        return TaskScore(value=float(overall), metric="Overall", details=details, accuracy_scale=100.0)


RULES: dict[str, Callable[[str | None], Rules]] = {
    "pope": Pope, "mme": Mme, "seedbench": SeedBench, "mmbench": Mmbench, "ocrbench": OcrBench,
    "gqa": Gqa,
}
