"""Value types that cross the protocol boundaries.

Images are PIL images in RGB mode everywhere; plugins convert to tensors themselves.
Everything here is a plain picklable dataclass so it can travel to worker processes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from PIL import Image


class CodecKind(str, Enum):
    TRADITIONAL = "traditional"
    LEARNED = "learned"
    GENERATIVE = "generative"
    REFERENCE = "reference"  # the uncompressed "none" codec


class AnswerKind(str, Enum):
    """How a question is answered, so a VLM can pick its prompt suffix or read logits."""

    YESNO = "yesno"
    CHOICE = "choice"  # multiple choice; Sample.options holds the option texts
    OPEN = "open"  # short free text (VQA, OCR)
    CAPTION = "caption"


@dataclass(frozen=True, slots=True)  # slots: a 100k-sample task holds 100k of these
class ImageSource:
    """Where a task's image comes from: a file path, or encoded bytes (e.g. from a parquet row).

    ``key`` names the image inside its task, so samples that share an image share a key and the
    runner compresses it once. The cache key is the content hash, not the key.
    """

    key: str
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError(f"image {self.key!r} has neither a path nor data")
        from .imageio import read_image_file  # a missing file or a FIFO: a failed unit, not a crash

        return read_image_file(self.path)

    def content_hash(self) -> str:
        return hashlib.sha256(self.read_bytes()).hexdigest()

    def load(self) -> "Image.Image":
        from .imageio import decode_image

        return decode_image(self.read_bytes(), name=self.path or self.key)


@dataclass(frozen=True, slots=True)
class Sample:
    """One question about one image (or several: ``more_images``), with its ground truth
    (None where the task has none)."""

    id: str
    image: ImageSource
    question: str
    kind: AnswerKind
    answer: Any = None  # str, list[str] (several references), or None
    options: tuple[str, ...] = ()  # option texts for CHOICE, in letter order A, B, C...
    category: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: the images after ``image`` of a question about several (an lmms-eval document whose
    #: ``doc_to_visual`` returns a list): each is compressed with the same codec and level as
    #: ``image``, has its own bpp, and reaches the VLM as ``Query.more_images``
    more_images: tuple[ImageSource, ...] = ()

    @property
    def images(self) -> tuple[ImageSource, ...]:
        """Every image of the sample, ``image`` first."""
        return (self.image, *self.more_images)


@dataclass(frozen=True)
class Query:
    """What a VLM is asked: one (possibly compressed) image and one question."""

    image: "Image.Image | None"  # None: a text-only query (a judge's)
    prompt: str
    kind: AnswerKind = AnswerKind.OPEN
    options: tuple[str, ...] = ()
    max_new_tokens: int = 32
    sample_id: str = ""
    #: instruction after the question; None = the community default for ``kind``
    #: (cvb.prompts.SUFFIX), "" = none (OCRBench asks the bare question)
    suffix: str | None = None
    #: generation ends at the first of these strings, which is cut from the answer (a scoring
    #: protocol's stop strings, lmms-eval's ``until``); VLM plugins that generate text honour it
    stop: tuple[str, ...] = ()
    #: ``prompt`` is the complete text, options and instruction included, as a scoring protocol
    #: wrote it: ``cvb.prompts.build_prompt`` sends it as it is
    verbatim: bool = False
    #: the codec and level ``image`` was compressed with (the runner fills them): ``"none"``
    #: and None for the uncompressed reference; both None when unknown (a query built by hand).
    #: A VLM may condition on them (the adapter's conditional encoder does); most ignore them.
    codec: str | None = None
    level: str | None = None
    #: the images after ``image`` (a sample's ``more_images``, decoded the same way), in order.
    #: A VLM that takes several images per question says so with ``max_images``; cvb answers
    #: such a query with an error for a VLM without it, never silently with one image
    more_images: tuple["Image.Image", ...] = ()
    #: "logits": the question is a peer's loglikelihood/multiple-choice one, answered only by
    #: reading the choices' scores (a VLM with ``answers_by_logits`` true); None: any way
    answer_by: str | None = None


@dataclass(frozen=True)
class Answer:
    """A VLM's answer to one query; ``error`` set means this one sample failed."""

    text: str
    error: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskScore:
    """A task's verdict on one cell: the headline number plus any breakdown."""

    value: float
    metric: str  # name of the headline number, e.g. "f1", "acc", "score/1000"
    details: Mapping[str, float] = field(default_factory=dict)
    higher_is_better: bool = True
    #: set by a task whose headline is a plain accuracy: ``value == accuracy_scale x mean`` of
    #: its 0/1 ``judge`` verdicts (100 for %, 1 for a fraction, 1000 for OCRBench's score/1000).
    #: ``cvb report`` then gives the Wilson interval and McNemar's test on that scale; None (an
    #: F1, a sum, a CIDEr): the task's own score is bootstrapped
    accuracy_scale: float | None = None


@dataclass(frozen=True)
class Compressed:
    """The outcome of one encode+decode: the real bitstream and what came back out of it."""

    codec: str
    level: str
    bits: bytes = field(repr=False)
    image: "Image.Image" = field(repr=False)
    width: int
    height: int
    encode_s: float
    decode_s: float

    @property
    def num_bytes(self) -> int:
        return len(self.bits)

    @property
    def bpp(self) -> float:
        """Bits per pixel of the *original* image, from the real bitstream."""
        return len(self.bits) * 8 / (self.width * self.height)


def image_to_png(image: "Image.Image") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
