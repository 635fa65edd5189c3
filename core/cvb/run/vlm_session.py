"""One VLM for the inference stage: built at its start (cheap; its ``version`` says which
stored answers are its own), loaded by its first answer, asked a batch at a time, and a bad
sample isolated by asking the failed batch again one query at a time."""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Sequence

from .. import plugin_returns
from ..errors import CvbError, UnavailableError
from ..types import Answer, Query
from .plan import VLMPlan, create


#: keys of ``Answer.meta`` that are cvb's own bookkeeping, never stored
_INTERNAL_META = ("raised",)


def answer_meta(answer: Answer) -> str | None:
    """What the store keeps of ``answer.meta`` (the VLM's note on how it answered, e.g. the
    adapter's ``condition``): canonical JSON, or None when there is nothing to keep."""
    import json

    kept = {str(k): v for k, v in (answer.meta or {}).items() if k not in _INTERNAL_META}
    return json.dumps(kept, sort_keys=True, default=str) if kept else None


class VLMSession:
    """One VLM, created on first use and asked a batch at a time.

    A batch that raises (or returns the wrong number of answers) is retried one query at a
    time, so one bad sample fails alone. A model that has never answered and fails every query
    of its first batch is broken, not unlucky (weights that do not load, no GPU memory): that
    stops the run, as does ``UnavailableError``, instead of failing every sample one by one.
    """

    def __init__(self, plan: VLMPlan, registry, batch_size: int | None, loaded: list[str] | None = None):
        self.plan, self._registry, self._batch_size = plan, registry, batch_size
        self._loaded = loaded if loaded is not None else []  # labels of the models asked (loaded)
        self._model = plan.model
        self._asked = False
        self._answered = False

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                self._model = create(self._registry, "vlm", self.plan.ref, self.plan.options)
            except CvbError:
                raise
            except Exception as exc:  # a factory bug or a failed load: name it
                raise CvbError(f"cannot create vlm {self.plan.label}: {type(exc).__name__}: {exc}") from exc
        return self._model

    def identify(self) -> str | None:
        """The model's ``version`` (part of each answer's identity), building the model object
        (cheap by the VLM protocol: weights load on the first answer). None when it has no
        version or cannot be built here (a missing API key on a rerun that asks nothing):
        then stored answers are taken as they are, and asking anything raises the build error."""
        try:
            return self.version or None
        except CvbError:
            return None

    @property
    def batch_size(self) -> int:
        return max(1, int(self._batch_size or getattr(self.model, "batch_size", 1) or 1))

    @property
    def version(self) -> str:
        return str(getattr(self.model, "version", ""))

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        refused = [refusal(self.model, self.plan.label, q) for q in queries]
        if any(refused):  # questions this model cannot take fail alone, with the reason
            asked = [q for q, r in zip(queries, refused) if r is None]
            rest = iter(self.answer(asked) if asked else [])
            return [Answer("", error=r) if r else next(rest) for r in refused]
        if not self._asked:  # weights load on the first answer: that is a model loaded
            self._asked = True
            self._loaded.append(self.plan.label)
        answers = self._answer(queries)
        if any(a.error is None for a in answers):
            self._answered = True
        elif not self._answered and len(answers) > 1 and all(a.meta.get("raised") for a in answers):
            raise CvbError(f"vlm {self.plan.label} failed on every query of its first batch: "
                           f"{answers[0].error}")
        return answers

    def _answer(self, queries: Sequence[Query]) -> list[Answer]:
        try:  # what the plugin returns is checked like what it raises: per query, naming it
            return plugin_returns.answers(self.plan.label, self.model.answer(list(queries)), len(queries))
        except (KeyboardInterrupt, UnavailableError):
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the sample that broke the batch
            if len(queries) > 1:
                return [self._answer([q])[0] for q in queries]
            error = str(exc) if isinstance(exc, CvbError) else f"{type(exc).__name__}: {exc}"
            return [Answer(text="", error=error, meta={"raised": True})]

    def close(self) -> None:
        if self._model is not None and hasattr(self._model, "close"):
            self._model.close()
        self._model = None


def refusal(model: Any, label: str, query: Query) -> str | None:
    """Why ``model`` cannot answer ``query`` as asked, or None: more images than its
    ``max_images`` (1 where it does not say), or a question to be read from the choices' scores
    (``answer_by="logits"``) for a model without ``answers_by_logits``. Never a silent
    answer to another question (one image of three, generated text for a likelihood)."""
    images = 1 + len(query.more_images)
    most = int(getattr(model, "max_images", 1) or 1)
    if images > most:
        return (f"vlm {label} takes {most} image(s) per question; this question has {images} "
                f"(a VLM plugin that takes several sets max_images)")
    if query.answer_by == "logits" and not getattr(model, "answers_by_logits", False):
        return (f"vlm {label} does not read answers from the choices' scores: this question is a "
                f"loglikelihood/multiple_choice one (e.g. use hf:MODEL with -o vlm.mode=logits)")
    return None


class LocalInference:
    """The local executor of inference: one session in this process, batches answered in the
    order they are submitted. (``ray_executor.RayInference`` is the same interface over Ray.)

    A VLM with the optional ``prepare(queries)`` hook (docs/protocols.md) gets each batch early:
    handed to ``prepare`` when submitted, answered once ``prepare_ahead`` (default 1) newer
    batches wait behind it, or at the end. The model processes the inputs of the next batches
    on CPU threads while it answers this one. Without the hook a batch is answered at once."""

    def __init__(self, session: VLMSession):
        self.session = session
        self._done: list[tuple[Any, list[Answer], float]] = []
        self._held: deque[tuple[Any, list[Query]]] = deque()

    def busy(self) -> bool:
        return False

    def pending(self) -> int:
        return len(self._done) + len(self._held)

    def submit(self, token: Any, queries: list[Query]) -> None:
        model = self.session.model
        prepare = getattr(model, "prepare", None)
        if not callable(prepare):
            self._answer(token, queries)
            return
        try:
            prepare(queries)
        except (KeyboardInterrupt, UnavailableError):
            raise
        except Exception:  # noqa: BLE001 - only a speed-up: answer() meets the same error per query
            pass
        self._held.append((token, queries))
        while len(self._held) > max(1, int(getattr(model, "prepare_ahead", 1) or 1)):
            self._answer(*self._held.popleft())

    def _answer(self, token: Any, queries: list[Query]) -> None:
        t0 = time.perf_counter()
        answers = self.session.answer(queries)
        self._done.append((token, answers, (time.perf_counter() - t0) / len(queries)))

    def collect(self, block: bool) -> list[tuple[Any, list[Answer], float]]:
        if block and not self._done and self._held:
            self._answer(*self._held.popleft())
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        """The session is closed by its owner."""
