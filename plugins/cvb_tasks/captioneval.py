"""CIDEr-D and BLEU for captions in pure Python, following pycocoevalcap's arithmetic.

Tokenisation: pycocoevalcap runs the Stanford PTBTokenizer (Java) with lowercasing and then
drops punctuation tokens. :func:`tokenize` is a small regex imitation: lowercase; split off the
clitics PTB splits (``n't``, ``'s``, ``'re``, ``'ve``, ``'ll``, ``'d``, ``'m``); keep words with
inner hyphens, periods or apostrophes whole ("black-and-white", "3.5", "u.s."); drop every
punctuation token. Known differences: PTB's rare special cases (``cannot`` -> ``can not``,
``gonna``, Unicode quotes to ``` `` ```/``''``, ``&amp;`` entities) are not imitated, so scores can
differ from the Java pipeline in the last digit on odd text, never on ordinary captions.

CIDEr-D (pycocoevalcap's ``Cider``): n = 1..4, TF-IDF vectors with document frequencies over
the reference sets of the scored corpus, hypothesis counts clipped at the reference's, Gaussian
length penalty sigma = 6 on the length (which pycocoevalcap counts as the number of *bigrams*,
a quirk kept here for comparable numbers), averaged over references and n, times 10.
BLEU: corpus-level BLEU-1..4 with the closest reference length, as pycocoevalcap's ``Bleu``.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Mapping, Sequence

_CLITIC = re.compile(r"(?i)(n't|'s|'re|'ve|'ll|'d|'m)\b")
_TOKEN = re.compile(r"[^\W_]+(?:[-.'][^\W_]+)*\.?|'[^\W_]+")
_PUNCT_ONLY = re.compile(r"^[\W_]+$")


def tokenize(text: str) -> list[str]:
    """Lowercased PTB-like tokens without punctuation (see the module docstring)."""
    s = str(text).lower().replace("\n", " ")
    s = _CLITIC.sub(r" \1", s)
    tokens = []
    for tok in _TOKEN.findall(s):
        # a trailing period belongs to an abbreviation only when the word has an inner one ("u.s.")
        if tok.endswith(".") and "." not in tok[:-1]:
            tok = tok[:-1]
        if tok and not _PUNCT_ONLY.match(tok):
            tokens.append(tok)
    return tokens


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    counts: Counter = Counter()
    for k in range(1, n + 1):
        for i in range(len(tokens) - k + 1):
            counts[tuple(tokens[i:i + k])] += 1
    return counts


def cider_d(hyps: Mapping[str, str], refs: Mapping[str, Sequence[str]], n: int = 4,
            sigma: float = 6.0) -> tuple[float, dict[str, float]]:
    """Corpus CIDEr-D and the per-image scores (both on pycocoevalcap's scale, 1.0 ~ "100")."""
    ids = sorted(hyps)
    if not ids:
        return 0.0, {}
    crefs = {i: [_ngrams(tokenize(r), n) for r in refs[i]] for i in ids}
    ctest = {i: _ngrams(tokenize(hyps[i]), n) for i in ids}
    df: Counter = Counter()
    for i in ids:
        for ngram in set(g for ref in crefs[i] for g in ref):
            df[ngram] += 1
    log_n = math.log(float(len(ids)))

    def vec(counts: Counter):
        v: list[defaultdict[str, float]] = [defaultdict(float) for _ in range(n)]
        norm = [0.0] * n
        length = 0
        for ngram, tf in counts.items():
            k = len(ngram) - 1
            v[k][ngram] = float(tf) * (log_n - math.log(max(1.0, df[ngram])))
            norm[k] += v[k][ngram] ** 2
            if k == 1:
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    def sim(vh, vr, nh, nr, lh, lr) -> list[float]:
        penalty = math.exp(-((lh - lr) ** 2) / (2 * sigma ** 2))
        out = []
        for k in range(n):
            val = sum(min(w, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, w in vh[k].items())
            if nh[k] != 0 and nr[k] != 0:
                val /= nh[k] * nr[k]
            out.append(val * penalty)
        return out

    per_image = {}
    for i in ids:
        vh, nh, lh = vec(ctest[i])
        total = [0.0] * n
        for ref in crefs[i]:
            vr, nr, lr = vec(ref)
            total = [a + b for a, b in zip(total, sim(vh, vr, nh, nr, lh, lr))]
        per_image[i] = (sum(total) / n) / max(1, len(crefs[i])) * 10.0
    return sum(per_image.values()) / len(per_image), per_image


def bleu(hyps: Mapping[str, str], refs: Mapping[str, Sequence[str]], n: int = 4) -> list[float]:
    """Corpus BLEU-1..n (closest reference length; pycocoevalcap's smoothing constants)."""
    tiny, small = 1e-15, 1e-9
    guess = [0] * n
    correct = [0] * n
    test_len = ref_len = 0
    for i in sorted(hyps):
        h = tokenize(hyps[i])
        rs = [tokenize(r) for r in refs[i]]
        hl = len(h)
        test_len += hl
        ref_len += min((abs(len(r) - hl), len(r)) for r in rs)[1] if rs else 0
        h_counts = _ngrams(h, n)
        max_ref: Counter = Counter()
        for r in rs:
            for g, c in _ngrams(r, n).items():
                max_ref[g] = max(max_ref[g], c)
        for k in range(n):
            guess[k] += max(hl - k, 0)
        for g, c in h_counts.items():
            correct[len(g) - 1] += min(c, max_ref[g])
    scores = []
    logsum = 0.0
    ratio = (test_len + tiny) / (ref_len + small)
    for k in range(n):
        logsum += math.log((correct[k] + tiny) / (guess[k] + small))
        score = math.exp(logsum / (k + 1))
        if ratio < 1:
            score *= math.exp(1 - 1 / ratio)
        scores.append(score)
    return scores


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[-1]))
        prev = cur
    return prev[-1]


def rouge_l(hyps: Mapping[str, str], refs: Mapping[str, Sequence[str]], beta: float = 1.2) -> float:
    """Corpus ROUGE-L as pycocoevalcap's ``Rouge``: per image the best LCS precision and recall
    over the references, F with beta 1.2; the corpus score is the mean over images."""
    scores = []
    for i in sorted(hyps):
        h = tokenize(hyps[i])
        prec, rec = [], []
        for r in refs[i]:
            rt = tokenize(r)
            lcs = _lcs(rt, h)
            prec.append(lcs / float(len(h)) if h else 0.0)
            rec.append(lcs / float(len(rt)) if rt else 0.0)
        p, r_ = (max(prec), max(rec)) if prec else (0.0, 0.0)
        scores.append(((1 + beta ** 2) * p * r_) / float(r_ + beta ** 2 * p) if p != 0 and r_ != 0 else 0.0)
    return sum(scores) / len(scores) if scores else 0.0
