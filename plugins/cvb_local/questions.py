"""Reading a ``questions=`` file: one JSON object per line, every line checked.

A bad line stops the run with the file, the line number and what is wrong: a silently dropped
question would change a score without anyone noticing.
"""

from __future__ import annotations

import json
import posixpath
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvb.errors import UsageError
from cvb.scoring import normalize_text
from cvb.types import AnswerKind

FIELDS = ("image", "question", "answer", "options", "kind", "id", "category")
_KINDS = {k.value: k for k in AnswerKind}


@dataclass(frozen=True)
class Question:
    """One checked line. ``answer``: "yes"/"no", an option letter, a list of accepted texts
    (open), or None (no ground truth: scored by consistency)."""

    line: int
    id: str
    image: str
    question: str
    kind: AnswerKind
    answer: Any = None
    options: tuple[str, ...] = ()
    category: str = ""


class _LineError(Exception):
    pass


def read_questions(path: str | Path) -> list[Question]:
    """Every question in ``path``, in file order; blank lines are skipped."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"questions file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read questions file {path}: {exc}") from None
    out: list[Question] = []
    seen: dict[str, int] = {}
    per_image: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = _parse_line(line, number)
        except _LineError as exc:
            raise UsageError(f"{path}, line {number}: {exc}") from None
        per_image[q.image] = per_image.get(q.image, 0) + 1
        qid = q.id or f"{q.image}#q{per_image[q.image]}"
        if qid in seen:
            raise UsageError(f"{path}, line {number}: id {qid!r} already used on line {seen[qid]}")
        seen[qid] = number
        out.append(Question(line=number, id=qid, image=q.image, question=q.question, kind=q.kind,
                            answer=q.answer, options=q.options, category=q.category))
    if not out:
        raise UsageError(f"questions file {path} has no questions (one JSON object per line)")
    return out


def _parse_line(line: str, number: int) -> Question:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _LineError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise _LineError(f"unknown field {', '.join(map(repr, unknown))}; fields: {', '.join(FIELDS)}")
    # "./a.png", "a//a.png" and "a\\a.png" name the same image: one key, compressed once
    image = posixpath.normpath(_required_text(obj, "image").replace("\\", "/"))
    question = _required_text(obj, "question")
    options = _options(obj.get("options"))
    kind = _kind(obj.get("kind"), options, obj.get("answer"))
    if options and kind != AnswerKind.CHOICE:
        raise _LineError(f"'options' given for a {kind.value!r} question; only 'choice' has options")
    if kind == AnswerKind.CHOICE and not options:
        raise _LineError("a 'choice' question needs 'options' (a list of at least 2 texts)")
    answer = _answer(kind, obj.get("answer"), options) if obj.get("answer") is not None else None
    qid = obj.get("id")
    if qid is not None:
        if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
            raise _LineError(f"'id' must be a non-empty string or integer, got {qid!r}")
        qid = str(qid).strip()
    category = obj.get("category") or ""
    if not isinstance(category, str):
        raise _LineError(f"'category' must be a string, got {category!r}")
    return Question(line=number, id=qid or "", image=image, question=question, kind=kind,
                    answer=answer, options=options, category=category)


def _required_text(obj: dict, key: str) -> str:
    value = obj.get(key)
    if value is None:
        raise _LineError(f"missing {key!r}")
    if not isinstance(value, str) or not value.strip():
        raise _LineError(f"{key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _options(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if (not isinstance(value, list) or not 2 <= len(value) <= 26
            or not all(isinstance(o, (str, int, float)) and not isinstance(o, bool) and str(o).strip()
                       for o in value)):
        raise _LineError(f"'options' must be a list of 2 to 26 non-empty texts, got {value!r}")
    return tuple(str(o).strip() for o in value)


def _kind(value: Any, options: tuple[str, ...], answer: Any) -> AnswerKind:
    """The given kind, else choice if options, yes/no if the answer is yes/no, else open."""
    if value is not None:
        if value not in _KINDS:
            raise _LineError(f"'kind' must be one of {', '.join(_KINDS)}, got {value!r}")
        return _KINDS[value]
    if options:
        return AnswerKind.CHOICE
    if isinstance(answer, bool) or (isinstance(answer, str) and _yes_no(answer)):
        return AnswerKind.YESNO
    return AnswerKind.OPEN


def _yes_no(text: str) -> str | None:
    label = normalize_text(text).rstrip(".")
    return label if label in ("yes", "no") else None


def _answer(kind: AnswerKind, value: Any, options: tuple[str, ...]) -> Any:
    if kind == AnswerKind.CAPTION:
        raise _LineError("a 'caption' question takes no 'answer' (captions are scored by "
                         "consistency); use kind 'open' for short reference answers")
    if kind == AnswerKind.YESNO:
        if isinstance(value, bool):
            return "yes" if value else "no"
        label = _yes_no(value) if isinstance(value, str) else None
        if label is None:
            raise _LineError(f"the answer to a 'yesno' question must be \"yes\" or \"no\", got {value!r}")
        return label
    if kind == AnswerKind.CHOICE:
        return _choice_letter(value, options)
    texts = value if isinstance(value, list) else [value]
    if not texts or not all(isinstance(t, (str, int, float)) and not isinstance(t, bool) and str(t).strip()
                            for t in texts):
        raise _LineError(f"'answer' must be a non-empty text (or a list of accepted texts), got {value!r}")
    return [str(t).strip() for t in texts]


def _choice_letter(value: Any, options: tuple[str, ...]) -> str:
    """An option letter ("B", "b") or an option's exact text -> the letter."""
    letters = string.ascii_uppercase[: len(options)]
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if not text:
        raise _LineError(f"the answer to a 'choice' question must be an option letter or text, got {value!r}")
    by_text = [letters[i] for i, o in enumerate(options) if normalize_text(o) == normalize_text(text)]
    by_letter = text.upper() if len(text) == 1 and text.upper() in letters else None
    if by_letter and by_text and by_text != [by_letter]:
        raise _LineError(f"answer {text!r} is ambiguous: option letter {by_letter} or the text of "
                         f"option {by_text[0]}")
    if by_letter:
        return by_letter
    if len(by_text) == 1:
        return by_text[0]
    if len(by_text) > 1:
        raise _LineError(f"answer {text!r} matches several options ({', '.join(by_text)})")
    raise _LineError(f"answer {text!r} is neither an option letter ({', '.join(letters)}) "
                     f"nor one of the options {list(options)}")
