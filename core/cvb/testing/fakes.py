"""Fakes for plugin authors' tests (and ours): no weights, no binaries, deterministic.

``FakeCodec`` quantises pixels with a step that shrinks as the level rises and zlib-compresses
the result, so both bpp and fidelity really grow with the level. ``ScriptedVLM`` answers from a
function of the query, so a test knows exactly what each answer should be.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING, Callable, Sequence

from ..codecs.base import BaseCodec
from ..specs import CodecSpec, VLMSpec
from ..types import Answer, AnswerKind, CodecKind, Query

if TYPE_CHECKING:
    from PIL import Image


class FakeCodec(BaseCodec):
    """Levels 1..8, quantisation step 2**(8-L): level 8 is lossless, level 1 keeps one bit."""

    name = "fake"
    kind = CodecKind.TRADITIONAL
    version = "1"
    default_levels = ("1", "2", "4", "6")
    level_min, level_max = 1, 8

    def encode(self, image: "Image.Image", level: str) -> bytes:
        import numpy as np

        step = 2 ** (8 - int(self.parse_level(level)))  # like a real codec: refuse bad levels
        arr = np.asarray(image.convert("RGB"), dtype=np.uint8)
        q = (arr // step).astype(np.uint8)
        header = struct.pack(">HHB", arr.shape[1], arr.shape[0], int(level))
        return header + zlib.compress(q.tobytes(), 9)

    def decode(self, bits: bytes) -> "Image.Image":
        import numpy as np
        from PIL import Image

        w, h, level = struct.unpack(">HHB", bits[:5])
        step = 2 ** (8 - level)
        q = np.frombuffer(zlib.decompress(bits[5:]), dtype=np.uint8).reshape(h, w, 3)
        out = q.astype(np.uint16) * step + step // 2
        return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def default_script(query: Query) -> str:
    """Answer 'yes' to yes/no, the first option to multiple choice, else echo the prompt."""
    if query.kind == AnswerKind.YESNO:
        return "yes"
    if query.kind == AnswerKind.CHOICE and query.options:
        return "A"
    return query.prompt


class ScriptedVLM:
    """A VLM whose answers come from ``script(query)``; counts its loads and calls."""

    def __init__(self, script: Callable[[Query], str] | None = None, name: str = "scripted",
                 batch_size: int = 8, fail_on: Callable[[Query], bool] | None = None,
                 max_images: int = 1, answers_by_logits: bool = False):
        self.name = name
        #: images per question it takes (``Query.more_images``), and whether it stands for a
        #: model that reads choices from logits (``Query.answer_by="logits"``)
        self.max_images = max_images
        self.answers_by_logits = answers_by_logits
        self.version = "1"
        self.batch_size = batch_size
        self.script = script or default_script
        self.fail_on = fail_on
        self.loads = 0
        self.calls = 0
        self.queries_seen = 0
        self._loaded = False

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        if not self._loaded:
            self._loaded = True
            self.loads += 1
        self.calls += 1
        self.queries_seen += len(queries)
        out = []
        for q in queries:
            if self.fail_on is not None and self.fail_on(q):
                out.append(Answer(text="", error="scripted failure"))
            else:
                out.append(Answer(text=self.script(q)))
        return out

    def close(self) -> None:
        self._loaded = False


def fake_codec_spec(name: str = "fake") -> CodecSpec:
    return CodecSpec(name=name, factory=FakeCodec, kind="traditional",
                     levels=FakeCodec.default_levels, summary="deterministic test codec")


def scripted_vlm_spec(name: str = "scripted", script: Callable[[Query], str] | None = None) -> VLMSpec:
    return VLMSpec(name=name, factory=lambda **kw: ScriptedVLM(script=script, name=name, **kw),
                   kind="fake", summary="scripted test VLM")
