"""Scoring shared by every task: ``answers`` parses answers (yes/no, an option's letter, short
answers) and does the count arithmetic of F1; ``tally`` scores a large set one answer at a time
(``Tally``, ``score_whole``). A benchmark's own rules live with its task plugin (POPE, MME,
OCRBench and GQA: ``cvb_tasks.rules``).

The answer-parsing names are importable from here (``from cvb.scoring import parse_yes_no``)."""

from .answers import extract_choice, f1_many, letter_of, normalize_text, parse_yes_no, row_sums, vqa_normalize, words

__all__ = ["extract_choice", "f1_many", "letter_of", "normalize_text", "parse_yes_no", "row_sums", "vqa_normalize",
           "words"]
