"""Reading a yes/no or multiple-choice answer from one forward pass's next-token logits.

Each candidate answer ("Yes"/"No", or the option letters "A", "B", ...) is represented by the
first token of its spellings (with and without a leading space, and the case variants for
yes/no), since tokenizers differ in whether the reply starts with a space. A candidate's score
is the log of the total probability of its tokens; the best-scoring candidate is the answer.
A token that starts spellings of two candidates says nothing about either and is dropped; if a
candidate is left with no token, the question cannot be read from logits and is generated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from cvb.prompts import option_letters
from cvb.types import AnswerKind, Query

if TYPE_CHECKING:
    import torch

YES_NO: dict[str, tuple[str, ...]] = {"Yes": ("Yes", "yes", "YES"), "No": ("No", "no", "NO")}


def candidate_words(query: Query) -> dict[str, tuple[str, ...]] | None:
    """Answer text -> its spellings, or None when the query is not a closed question."""
    if query.kind == AnswerKind.YESNO:
        return YES_NO
    if query.kind == AnswerKind.CHOICE and query.options:
        return {letter: (letter,) for letter in option_letters(len(query.options))}
    return None


def first_token_ids(tokenizer, words: Sequence[str]) -> set[int]:
    ids: set[int] = set()
    for word in words:
        for text in (word, " " + word):
            tokens = tokenizer.encode(text, add_special_tokens=False)
            if tokens:
                ids.add(int(tokens[0]))
    return ids


class CandidateTokens:
    """Caches, per candidate set, the token ids that stand for each answer."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._cache: dict[tuple, dict[str, list[int]] | None] = {}

    def for_query(self, query: Query) -> dict[str, list[int]] | None:
        words = candidate_words(query)
        if words is None:
            return None
        key = tuple(sorted(words.items()))
        if key not in self._cache:
            self._cache[key] = self._build(words)
        return self._cache[key]

    def _build(self, words: Mapping[str, Sequence[str]]) -> dict[str, list[int]] | None:
        ids = {answer: first_token_ids(self.tokenizer, spellings) for answer, spellings in words.items()}
        shared = set()
        answers = list(ids)
        for i, a in enumerate(answers):
            for b in answers[i + 1 :]:
                shared |= ids[a] & ids[b]
        clean = {answer: sorted(tok - shared) for answer, tok in ids.items()}
        if any(not tok for tok in clean.values()):
            return None
        return clean


def pick(logprobs: "torch.Tensor", candidates: Mapping[str, list[int]]) -> tuple[str, dict[str, float]]:
    """The best candidate for one query's next-token log-probabilities, and every score."""
    import torch

    scores = {answer: float(torch.logsumexp(logprobs[ids], dim=0)) for answer, ids in candidates.items()}
    best = max(scores, key=lambda a: (scores[a], -list(candidates).index(a)))
    return best, scores
