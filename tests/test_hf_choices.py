"""Logits answers (``mode=logits``): one well-defined score per answer, whatever the tokenizer.

The tokenizers below split yes/no differently (trained on the spot, as in tests/tiny_vlms.py):
one where ``No`` is a single token and ``Yes`` splits, one the other way round, and one where
``" NO"`` starts with a bare-space token. A model with no preference must not lean to either
answer because of how its vocabulary happens to split the words.
"""

from __future__ import annotations

import pytest

from cvb.types import AnswerKind, Query

torch = pytest.importorskip("torch")

from cvb_hf.choices import CandidateTokens, pick
from tiny_vlms import _CORPUS, train_tokenizer

YESNO = Query(None, "Is it a cat?", AnswerKind.YESNO)
CHOICE = Query(None, "Which?", AnswerKind.CHOICE, options=("red", "green", "blue"))

TOKENIZERS = {
    # the tiny checkpoints' tokenizer: "No" one token, "Yes" -> "Y" + "es", " NO" -> " " + "N" + "O"
    "no-whole": lambda: train_tokenizer(["<pad>"], pad="<pad>"),
    # the other way round: "Yes"/" Yes"/"YES" whole, "No" split into letters
    "yes-whole": lambda: train_tokenizer(["<pad>"], pad="<pad>", vocab_size=300,
                                         corpus=["Yes YES yes Yes YES yes", "Yes, yes. YES!"] * 20),
    # words of the prompt corpus only: both answers split into characters
    "both-split": lambda: train_tokenizer(["<pad>"], pad="<pad>", vocab_size=270, corpus=_CORPUS[:2]),
}


@pytest.fixture(scope="module", params=sorted(TOKENIZERS))
def tok(request):
    return TOKENIZERS[request.param]()


def _tokens(tok, text):
    return tok.convert_ids_to_tokens(tok.encode(text, add_special_tokens=False))


def test_the_tokenizers_really_split_yes_and_no_differently():
    splits = {name: (len(_tokens(t, "Yes")), len(_tokens(t, "No")))
              for name, t in ((n, f()) for n, f in TOKENIZERS.items())}
    assert splits["no-whole"][0] > 1 and splits["no-whole"][1] == 1
    assert splits["yes-whole"][0] == 1 and splits["yes-whole"][1] > 1
    assert len(set(splits.values())) == 3


def test_a_model_without_preference_answers_neither_by_tokenisation(tok):
    """Uniform next-token probabilities: both answers score the same (the first wins the tie)."""
    logprobs = torch.log_softmax(torch.zeros(len(tok)), dim=-1)
    for query, first in ((YESNO, "Yes"), (CHOICE, "A")):
        cands = CandidateTokens(tok).for_query(query)
        best, scores = pick(logprobs, cands)
        assert len(set(scores.values())) == 1, (scores, cands)
        assert best == first


def test_whitespace_is_never_a_candidate(tok):
    cands = CandidateTokens(tok).for_query(YESNO)
    for ids in cands.values():
        assert all(tok.decode([i]).strip() for i in ids)
    space = tok.encode(" ", add_special_tokens=False)[0]
    logprobs = torch.full((len(tok),), -30.0)
    logprobs[space] = 0.0  # the model would emit a space: no vote for either answer
    _, scores = pick(logprobs, cands)
    assert scores["Yes"] == scores["No"] == -30.0


@pytest.mark.parametrize("spelling,answer", [("Yes", "Yes"), (" yes", "Yes"), ("YES", "Yes"),
                                             ("No", "No"), (" no", "No"), (" NO", "No")])
def test_the_score_is_the_likeliest_first_token_of_a_spelling(tok, spelling, answer):
    """The model prefers one spelling's first token a little: that answer wins, and its score
    is that token's log-probability, however many other spellings either answer has."""
    ids = [i for i in tok.encode(spelling, add_special_tokens=False) if tok.decode([i]).strip()]
    logprobs = torch.log_softmax(torch.zeros(len(tok)), dim=-1)
    logprobs[ids[0]] += 0.5
    best, scores = pick(logprobs, CandidateTokens(tok).for_query(YESNO))
    assert best == answer
    assert scores[answer] == pytest.approx(float(logprobs[ids[0]]))
    other = "No" if answer == "Yes" else "Yes"
    assert scores[other] == pytest.approx(float(logprobs.min()))
