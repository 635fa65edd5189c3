"""``folder:SPEC``: your own images, with or without your own questions.

Without a questions file every image gets one caption question. With one (``questions=FILE``,
JSON lines, see ``questions.py``), exactly the listed questions are asked. Questions with an
answer are scored by accuracy; questions without one by **consistency**: how often the model
answers the same on the compressed image as on the uncompressed one (the runner passes the
latter as ``reference``). That needs no ground truth at all, which is what makes any folder a
benchmark.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from cvb.errors import UsageError
from cvb.options import reject_unknown
from cvb.types import AnswerKind, ImageSource, Sample, TaskScore

from .answers import MAX_NEW_TOKENS, is_correct, percent, same_answer, word_f1
from .image_listing import list_images, root_of
from .questions import Question, read_questions

DEFAULT_PROMPT = "Describe this image briefly."


class FolderTask:
    """Samples from a folder, a glob or one image file; ``questions`` optional."""

    name = "folder"

    def __init__(self, spec: str | None = None, questions: str | None = None,
                 prompt: str | None = None, **unknown: object) -> None:
        reject_unknown("task 'folder'", unknown, ("questions", "prompt"))
        if spec is None:
            raise UsageError("task 'folder' needs a folder or glob: --task folder:/path/to/images")
        if prompt is not None and not str(prompt).strip():
            raise UsageError("task 'folder': option prompt must not be empty")
        self.spec = spec
        self.prompt = str(prompt).strip() if prompt is not None else DEFAULT_PROMPT
        digest = hashlib.sha256(self.prompt.encode())
        if questions:
            self.root = root_of(spec)
            found = _find_questions(questions, self.root)
            self.questions_path: Path | None = found
            self.questions: list[Question] | None = read_questions(found)
            self.images: list[tuple[str, Path]] = []
            digest.update(found.read_bytes())
        else:
            self.questions_path = None
            self.questions = None
            self.root, self.images = list_images(spec)
            digest.update("\n".join(name for name, _ in self.images).encode())
        self.version = f"1-{digest.hexdigest()[:10]}"

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        made = self._question_samples() if self.questions is not None else self._caption_samples()
        for i, sample in enumerate(made):
            if limit is not None and i >= limit:
                return
            yield sample

    def _caption_samples(self) -> Iterator[Sample]:
        for name, path in self.images:
            yield Sample(id=name, image=ImageSource(key=name, path=str(path)), question=self.prompt,
                         kind=AnswerKind.CAPTION, category="caption",
                         meta={"max_new_tokens": MAX_NEW_TOKENS[AnswerKind.CAPTION]})

    def _question_samples(self) -> Iterator[Sample]:
        sources: dict[str, ImageSource] = {}
        for q in self.questions or []:
            key = q.image
            if key not in sources:
                # a listed image that does not exist still makes a sample: the runner records
                # it as failed when it loads the image, so the miss shows in the summary
                sources[key] = ImageSource(key=key, path=str(self.root / key))
            yield Sample(id=q.id, image=sources[key], question=q.question, kind=q.kind,
                         answer=q.answer, options=q.options, category=q.category or q.kind.value,
                         meta={"line": q.line, "max_new_tokens": MAX_NEW_TOKENS[q.kind]})

    def judge(self, sample: Sample, prediction: str | None) -> float | None:
        """1.0 or 0.0 where the question has an answer; None where it is scored by consistency."""
        if sample.answer is None:
            return None
        return float(is_correct(sample.kind, prediction, sample.answer, sample.options))

    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str],
              reference: Mapping[str, str] | None = None) -> TaskScore:
        return score_folder(samples, predictions, reference)


def _find_questions(questions: str, root: Path) -> Path:
    """As given (relative to the working directory), else relative to the image folder."""
    path = Path(questions).expanduser()
    if not path.is_file() and not path.is_absolute() and (root / path).is_file():
        return root / path
    return path


def score_folder(samples: Sequence[Sample], predictions: Mapping[str, str],
                 reference: Mapping[str, str] | None = None) -> TaskScore:
    """Accuracy on answered questions and consistency with ``reference``; percentages.

    The headline is ``acc`` (over the questions that have an answer) when any has one, else
    ``consistency`` (NaN when there is no reference to compare with). A sample missing from
    ``predictions`` is wrong and inconsistent; one missing from ``reference`` (it failed on the
    uncompressed image) cannot be compared and is left out of consistency.
    """
    samples = list(samples)
    details: dict[str, float] = {"questions": float(len(samples)),
                                 "missing": float(sum(s.id not in predictions for s in samples))}
    answered = [s for s in samples if s.answer is not None]
    details["questions/answered"] = float(len(answered))
    if answered:
        ok = [is_correct(s.kind, predictions.get(s.id), s.answer, s.options) for s in answered]
        details["acc"] = percent(sum(ok), len(ok))
        for kind in AnswerKind:
            picked = [o for o, s in zip(ok, answered) if s.kind == kind]
            if picked:
                details[f"acc/{kind.value}"] = percent(sum(picked), len(picked))
    if reference is not None:
        comparable = [s for s in samples if s.id in reference]
        same = [same_answer(s.kind, predictions.get(s.id), reference[s.id], s.options) for s in comparable]
        details["questions/compared"] = float(len(comparable))
        if comparable:
            details["consistency"] = percent(sum(same), len(same))
            for kind in AnswerKind:
                picked = [x for x, s in zip(same, comparable) if s.kind == kind]
                if picked:
                    details[f"consistency/{kind.value}"] = percent(sum(picked), len(picked))
            free = [s for s in comparable if s.kind in (AnswerKind.OPEN, AnswerKind.CAPTION)]
            if free:
                f1 = sum(word_f1(predictions.get(s.id), reference[s.id]) for s in free)
                details["consistency_word_f1"] = percent(f1, len(free))
    if answered:
        return TaskScore(value=details["acc"], metric="acc", details=details, accuracy_scale=100.0)
    return TaskScore(value=details.get("consistency", float("nan")), metric="consistency",
                     details=details)
