"""The ImageNet classifier the tagger answers with: EfficientNet-Lite0 (``efficientnet``) seen
as several views of each image (``VIEWS``) whose class probabilities are averaged."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .efficientnet import VIEWS, build_network, resolve_device
from .threads import DEFAULT_THREADS, torch_threads

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


class ImageNetClassifier:
    """Loads on first use; ``probabilities(images)`` -> (N, 1000) float32 numpy array.

    The network is held in the adapter seam's shape (``tagger_vision.TaggerModel``), which
    computes exactly what ``EfficientNet.forward`` does."""

    def __init__(self, views: Sequence[str] = VIEWS, device: str = "cpu",
                 threads: int = DEFAULT_THREADS):
        self.views = tuple(views)
        self.device = device
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._model is None:
                self.device = resolve_device(self.device)
                from .tagger_vision import tagger_model

                self._model = tagger_model(build_network(self.device), self.views)
        return self._model

    def probabilities(self, images: Sequence["Image.Image"],
                      before: "Callable[[Any, int], None] | None" = None) -> "np.ndarray":
        """``before(model, n_images)`` runs just ahead of the forward pass (an adapter sets each
        image's condition there)."""
        import numpy as np
        import torch

        from .tagger_vision import pixel_values

        model = self.load()
        if not images:
            return np.zeros((0, 1000), dtype=np.float32)
        x = pixel_values(images, self.views)
        with torch_threads(self.threads), torch.inference_mode():
            if before is not None:
                before(model, len(images))
            logits = model.get_image_features(x.to(self.device))
            probs = logits.float().softmax(-1).cpu().numpy()
        return probs.mean(axis=1)

    def close(self) -> None:
        with self._lock:
            self._model = None
