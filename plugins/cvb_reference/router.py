"""``reference``: one model for mixed tasks, routing each question to the reader or the tagger.

``cvb run`` hands every question of a task to one VLM, and the bundled ``sample`` task mixes
object-existence and text-reading questions. This model sends each query to ``ocr-reader`` or
``imagenet-tagger`` by ``questions.is_text_question`` (text cue words; see
docs/vlm-reference.md) and loads each part only when a question first needs it.
"""

from __future__ import annotations

from typing import Any, Sequence

from cvb.options import as_int, reject_unknown
from cvb.types import Answer, Query

from .ocr_reader import OcrReader
from .questions import is_text_question
from .tagger import ImageNetTagger

_TAGGER_OPTIONS = ("top_k", "threshold", "device", "threads")
_OCR_OPTIONS = ("min_score", "match", "threads")


class ReferenceVLM:
    name = "reference"

    def __init__(self, batch_size: int | str = 8, **options: Any):
        self.batch_size = as_int(self.name, "batch_size", batch_size, 1)
        tagger_opts = {k: v for k, v in options.items() if k in _TAGGER_OPTIONS}
        ocr_opts = {k: v for k, v in options.items() if k in _OCR_OPTIONS}
        known = ("batch_size",) + tuple(dict.fromkeys(_TAGGER_OPTIONS + _OCR_OPTIONS))
        reject_unknown(self.name, {k: v for k, v in options.items() if k not in known}, known)
        self.reader = OcrReader(batch_size=self.batch_size, **ocr_opts)
        self.tagger = ImageNetTagger(batch_size=self.batch_size, **tagger_opts)
        self.version = f"{self.name}/1 route=text-cues ({self.reader.version}) ({self.tagger.version})"

    def route(self, query: Query) -> str:
        """``"ocr"`` or ``"tagger"``: which part answers ``query``."""
        return "ocr" if is_text_question(query.prompt, query.kind) else "tagger"

    def answer(self, queries: Sequence[Query]) -> list[Answer]:
        routes = [self.route(q) for q in queries]
        out: list[Answer | None] = [None] * len(queries)
        for route, model in (("ocr", self.reader), ("tagger", self.tagger)):
            idx = [i for i, r in enumerate(routes) if r == route]
            if idx:
                for i, ans in zip(idx, model.answer([queries[i] for i in idx])):
                    out[i] = Answer(text=ans.text, error=ans.error, meta={**ans.meta, "route": route})
        return [a for a in out if a is not None]

    def close(self) -> None:
        self.reader.close()
        self.tagger.close()
