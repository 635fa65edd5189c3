"""Reading a yes/no or multiple-choice answer from one forward pass's next-token logits.

Each answer is scored by **one** well-defined quantity: the log-probability of its most likely
first token, over the first tokens of its canonical spellings (``Yes``/``yes``/``YES`` with and
without a leading space; the option letter ``A`` with and without one). A maximum, not a sum:
a sum would favour the answer whose spellings happen to split into more distinct first tokens
(with many BPE vocabularies ``No`` is one token and ``Yes`` splits into ``Y`` + ``es``), so a
model with no preference would answer "No". Rules for the candidate tokens:

- a token that decodes to whitespace only (``" NO"`` splitting into ``" "`` + ``"NO"``) is
  never a candidate: it says nothing about the answer;
- a token that begins spellings of two answers says nothing about either and is dropped; if an
  answer is left with no token, the question cannot be read from logits and is generated;
- ties go to the first answer (``Yes``, ``A``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

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
    """The first token of each spelling, with and without a leading space, unless it is
    whitespace only."""
    ids: set[int] = set()
    for word in words:
        for text in (word, " " + word):
            tokens = tokenizer.encode(text, add_special_tokens=False)
            if tokens and tokenizer.decode(tokens[:1]).strip():
                ids.add(int(tokens[0]))
    return ids


class CandidateTokens:
    """Caches, per candidate set, the token ids that stand for each answer."""

    def __init__(self, tokenizer: Any) -> None:
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
    """The best answer for one query's next-token log-probabilities, and every answer's score
    (the log-probability of its most likely candidate token)."""
    scores = {answer: float(logprobs[ids].max()) for answer, ids in candidates.items()}
    order = list(candidates)
    best = max(scores, key=lambda a: (scores[a], -order.index(a)))
    return best, scores
