"""COCO caption metrics as lmms-eval computes them: pycocoevalcap's scorers over captions
tokenised by its (Java) PTBTokenizer, when pycocoevalcap and Java are installed
(``pip install pycocoevalcap``); else cvb's pure-Python imitation (``cvb_tasks.captioneval``:
same CIDEr-D and BLEU arithmetic, a regex stand-in for PTB, ROUGE-L below, no METEOR).
"""

from __future__ import annotations

import shutil
from typing import Mapping, Sequence


def _pycocoevalcap_available() -> bool:
    try:
        import pycocoevalcap  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return shutil.which("java") is not None


def coco_scores(hyps: Mapping[str, str], refs: Mapping[str, Sequence[str]]) -> tuple[dict[str, float], bool]:
    """({Bleu_1..4, METEOR, ROUGE_L, CIDEr}, True) through pycocoevalcap, or the imitation's
    {Bleu_1..4, ROUGE_L, CIDEr} and False. lmms-eval's coco_cap/utils.py:72-125 does the same
    per metric on {image id: [caption dicts]}."""
    ids = list(hyps)  # the samples' order: lmms-eval's image order (float sums follow it)
    if not ids:
        return {"Bleu_1": 0.0, "Bleu_2": 0.0, "Bleu_3": 0.0, "Bleu_4": 0.0, "ROUGE_L": 0.0, "CIDEr": 0.0}, False
    if _pycocoevalcap_available():
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.meteor.meteor import Meteor
        from pycocoevalcap.rouge.rouge import Rouge
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tok = PTBTokenizer()
        gts = tok.tokenize({i: [{"caption": r} for r in refs[i]] for i in ids})
        res = tok.tokenize({i: [{"caption": hyps[i]}] for i in ids})
        out: dict[str, float] = {}
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        for n, b in enumerate(bleu, start=1):
            out[f"Bleu_{n}"] = float(b)
        out["METEOR"] = float(Meteor().compute_score(gts, res)[0])
        out["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
        out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
        return out, True
    from ..captioneval import bleu, cider_d, rouge_l

    out = {f"Bleu_{n}": b for n, b in enumerate(bleu(hyps, refs), start=1)}
    out["ROUGE_L"] = rouge_l(hyps, refs)
    out["CIDEr"] = cider_d(hyps, refs)[0]
    return out, False
