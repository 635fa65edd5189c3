"""The four protocols every plugin implements: Codec, VLM, Task, Metric.

They are structural (typing.Protocol): a plugin needs no base class from cvb, only these
attributes and methods. ``cvb.codecs.base.BaseCodec`` and friends are optional conveniences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from .types import Answer, CodecKind, Query, Sample, TaskScore

if TYPE_CHECKING:
    from PIL import Image


@runtime_checkable
class Codec(Protocol):
    """An image codec. bpp is measured by cvb from the bytes ``encode`` returns."""

    name: str
    kind: CodecKind
    version: str  # goes into cache keys: bump it when the bitstream for a level changes
    default_levels: tuple[str, ...]  # lowest rate first

    def parse_level(self, level: str) -> str:
        """Canonical form of a user-given level; raise ``UnknownLevelError`` if invalid."""

    def rate_rank(self, level: str) -> float:
        """A number that grows with the bitrate of ``level`` (to sort levels lowest rate first)."""

    def params(self) -> Mapping[str, object]:
        """Settings besides the level that change the bitstream (part of the cache key)."""

    def encode(self, image: "Image.Image", level: str) -> bytes:
        """The complete bitstream a decoder needs (headers included)."""

    def decode(self, bits: bytes) -> "Image.Image":
        """Back to an RGB image of the original size."""


@runtime_checkable
class VLM(Protocol):
    """A model that answers questions about images, a batch at a time.

    Construction must be cheap; weights load on the first ``answer`` call (or ``load``), so a
    cell whose predictions are all stored never pays for the model.
    """

    name: str
    version: str  # model id + revision + answer mode: part of a prediction's identity
    batch_size: int

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        """One Answer per query, in order. A failure on one query is an Answer with ``error``."""

    def close(self) -> None:
        """Free the weights (GPU memory) before the next model loads."""


@runtime_checkable
class Scorer(Protocol):
    """A task's scoring rule fed one sample at a time (``Task.scorer()``, optional).

    ``cvb run`` calls ``add`` once per sample of a cell, in the order of ``Task.samples()``,
    then ``result`` once. ``prediction`` is the model's answer, None where the sample has none
    (the query failed: score it as the task's ``score`` scores a missing prediction);
    ``reference`` is the answer on the uncompressed image (None where there is none), for tasks
    that score consistency. Keep only what the rule needs (counts, an image's pair, caption
    strings): that is what lets a cell of a million answers be scored in little memory.
    ``cvb.scoring.tally.Tally`` counts hashable records and suits most rules.
    """

    def add(self, sample: Sample, prediction: str | None, reference: str | None = None) -> None:
        """Take one sample's prediction (may raise: the cell is then stored as failed)."""

    def result(self) -> TaskScore:
        """The score of everything added (the same as ``Task.score`` on the whole set)."""


@runtime_checkable
class Task(Protocol):
    """A benchmark: samples in, and the community's scoring rule for predictions.

    Optional: ``scorer() -> Scorer``, the same rule as ``score`` fed one sample at a time
    (``Scorer``). A task that has it is scored streamed by ``cvb run`` (its memory grows with
    what the rule keeps, not with the cell); one without it is scored by ``score`` on the whole
    cell, as before (``cvb.scoring.tally.scorer_for``). Write ``score`` as
    ``cvb.scoring.tally.score_whole(self.scorer(), samples, predictions, reference)`` to keep one
    piece of code for both.
    """

    name: str
    version: str

    def samples(self, limit: int | None = None) -> Iterable[Sample]:
        """Samples in a fixed order; ``limit`` takes a deterministic subset."""

    def judge(self, sample: Sample, prediction: str) -> float | None:
        """Per-sample correctness in [0, 1] (None where the task only scores a whole set)."""

    def score(
        self,
        samples: Sequence[Sample],
        predictions: Mapping[str, str],
        reference: Mapping[str, str] | None = None,
    ) -> TaskScore:
        """Pure function of the predictions (by sample id); ``reference`` holds the predictions
        on the uncompressed images, for tasks that score consistency instead of ground truth."""


@runtime_checkable
class Metric(Protocol):
    """A full-reference image-quality metric."""

    name: str
    higher_is_better: bool

    def measure(self, reference: "Image.Image", distorted: "Image.Image") -> float:
        """Quality of ``distorted`` against ``reference`` (same size, RGB)."""
