"""Random prediction sets shaped like each built-in task's samples, for the scoring tests.

Samples are made as the tasks make them (``task.ask(sample, doc)`` puts each protocol's prompt
and kept dataset fields in the meta) from synthetic dataset rows, without reading any dataset.
"""

from __future__ import annotations

import random

from cvb.types import AnswerKind, ImageSource, Sample

#: (task, protocol) pairs with rules in plugins/cvb_tasks
CASES = [(t, p) for t in ("pope", "mme", "seedbench", "mmbench", "ocrbench", "gqa", "coco-caption")
         for p in ("cvb", "lmms-eval", "vlmevalkit") if not (t == "coco-caption" and p == "vlmevalkit")]
CASES.append(("mmbench[circular]", "cvb"))

PIECES = ["Yes", "yes", "No", "no", "Y", "n", "A", "B", "C", "D", "E", "(B)", "B.", "C)", ":D", "The answer is",
          "I choose", "None", "Nope", "\n\n", "\n", " ", ".", ",", "Cannot determine", "red", "cat", "dog", "two",
          "a dog on a red table", "ＳＴＯＰ", "\\Sigma", "x", "Hello\nWorld", "　", "There is", "is", "not"]
MME_CATS = ("existence", "count", "OCR", "commonsense_reasoning", "code_reasoning")
OCR_CATS = ("Regular Text Recognition", "Scene Text-centric VQA", "Handwritten Mathematical Expression Recognition")
WORDS = ("a", "dog", "cat", "on", "the", "red", "table", "two", "people", "sitting", "near", "street")


def task_of(name: str, protocol: str):
    from cvb.plugins import get_registry

    ref, circular = (name[:-len("[circular]")], True) if name.endswith("[circular]") else (name, False)
    options = {"protocol": protocol, **({"circular": True} if circular else {})}
    return get_registry().create("task", ref, **options)


def predictions(rng: random.Random, samples, missing: float = 0.1) -> dict[str, str]:
    """1-4 tricky pieces per sample; some samples without a prediction (failed)."""
    out = {}
    for s in samples:
        if rng.random() < missing:
            continue
        out[s.id] = "".join(rng.choice(["", " ", "\n", ". ", ", "]) + rng.choice(PIECES)
                            for _ in range(rng.randint(0, 4)))
    return out


def samples(task, name: str, n: int, rng: random.Random) -> list[Sample]:
    """About ``n`` samples for ``task`` (an MME pair or an MMBench question's rows kept whole)."""
    image = ImageSource(key="img", data=b"")
    out: list[Sample] = []
    base = name.split("[")[0]
    for q in range(n):
        if len(out) >= n:
            break
        if base == "pope":
            ans = rng.choice(["yes", "no"])
            doc = {"question": f"Is there a {rng.choice(WORDS)}?", "answer": ans}
            cat = rng.choice(["random", "popular", "adversarial"])
            out.append(task.ask(Sample(f"{cat}-{q}", image, doc["question"], AnswerKind.YESNO, ans, category=cat), doc))
        elif base == "mme":
            cat, pair = rng.choice(MME_CATS), f"{q}.png"
            for k in range(2):
                ans = rng.choice(["Yes", "No"])
                doc = {"question": f"Is it {k}? Please answer yes or no.", "answer": ans, "question_id": pair}
                out.append(task.ask(Sample(f"{pair}#{k}", image, doc["question"], AnswerKind.YESNO, ans.lower(),
                                           category=cat, meta={"pair": pair}), doc))
        elif base == "seedbench":
            opts = [rng.choice(WORDS) + str(i) for i in range(4)]
            ans = rng.choice("ABCD")
            doc = {"question": "Which?", "answer": ans, **{f"choice_{c}": o for c, o in zip("abcd", opts)}}
            out.append(task.ask(Sample(str(q), image, "Which?", AnswerKind.CHOICE, ans, tuple(opts),
                                       category=rng.choice(["Scene Understanding", "Instance Identity"])), doc))
        elif base == "mmbench":
            opts = [rng.choice(WORDS) + str(i) for i in range(rng.randint(2, 4))]
            ans = rng.choice("ABCD"[:len(opts)])
            cat, l2 = rng.choice(["ocr", "count"]), rng.choice(["perception", "reasoning"])
            rotations = len(opts) if (task.circular or task.rules is not None) else 1
            for k in range(rotations):
                idx = q + k * 1_000_000
                rotated = opts[k:] + opts[:k]
                a = "ABCD"[("ABCD".index(ans) - k) % len(opts)]
                doc = {"index": idx, "question": "Which?", "answer": a, "hint": None, "category": cat,
                       "L2-category": l2, **dict(zip("ABCD", rotated))}
                sid = str(idx) if task.rules is not None else (str(q) if k == 0 else f"{q}@{k}")
                out.append(task.ask(Sample(sid, image, "Which?", AnswerKind.CHOICE, a, tuple(rotated), category=cat,
                                           meta={"group": str(q), "rotation": k}), doc))
                if task.rules is None and not task.circular:
                    break
        elif base == "ocrbench":
            cat = rng.choice(OCR_CATS)
            answers = [rng.choice(PIECES).strip() or "x" for _ in range(rng.randint(1, 2))]
            source = "HME100k" if cat.startswith("Handwritten") else "IIIT5K"
            doc = {"question": "What is written?", "answer": answers, "dataset": source, "question_type": cat}
            out.append(task.ask(Sample(f"ocrbench-{q}", image, "What is written?", AnswerKind.OPEN, answers,
                                       category=cat, meta={"source": source}), doc))
        elif base == "gqa":
            ans = rng.choice(["yes", "no", "red", "dog", "two"])
            doc = {"question": "What?", "answer": ans}
            out.append(task.ask(Sample(str(q), image, "What?", AnswerKind.OPEN, ans,
                                       category=rng.choice(["", "query", "verify"])), doc))
        elif base == "coco-caption":
            refs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(5)]
            out.append(task.ask(Sample(f"{q}.jpg", image, "Caption", AnswerKind.CAPTION, refs), {}))
        else:
            raise ValueError(name)
    return out
