"""LPIPS and DISTS: learned perceptual distances whose backbones come from the torch hub cache.

Both refuse up front (``UnavailableError`` naming the file to place) when a weights file is
missing, so nothing ever tries to download. The network loads on the first ``measure`` and
stays loaded: one instance scores any number of image pairs.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from importlib import metadata
from typing import TYPE_CHECKING, Any

from cvb.errors import UnavailableError
from cvb.options import as_choice, reject_unknown

from .images import resolve_device, tensor_pair
from .weights import LPIPS_BACKBONES, dists_status, lpips_status

if TYPE_CHECKING:
    from PIL import Image


@contextlib.contextmanager
def _quiet_loading():
    """Silence torchvision's ``pretrained=`` deprecation and lpips' banner while loading."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class _LearnedMetric:
    name = ""
    higher_is_better = False

    def __init__(self, device: str = "cpu"):
        self.device = resolve_device(device)
        self._model: Any = None

    def _status(self) -> str | None:
        raise NotImplementedError

    def _build(self) -> Any:
        raise NotImplementedError

    def load(self) -> Any:
        """Build the network once (the weights must already be in the hub cache)."""
        if self._model is None:
            reason = self._status()
            if reason:
                raise UnavailableError(f"metric {self.name!r} is not usable here: {reason}")
            from cvb.compat import ensure_torchvision

            ensure_torchvision()
            try:
                with _quiet_loading():
                    model = self._build()
            except Exception as exc:  # torch.load raises many types on a bad file
                raise UnavailableError(
                    f"metric {self.name!r}: cannot load its weights ({type(exc).__name__}: {exc}); "
                    "replace the file(s) under the torch hub cache with the original download"
                ) from exc
            self._model = model.to(self.device).eval()
        return self._model

    def measure(self, reference: "Image.Image", distorted: "Image.Image") -> float:
        import torch

        model = self.load()
        x, y = tensor_pair(reference, distorted, self.device)
        with torch.no_grad():
            return float(self._score(model, x, y))

    def _score(self, model: Any, reference: Any, distorted: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        self._model = None


class LPIPS(_LearnedMetric):
    """LPIPS v0.1 (Zhang et al. 2018) with the ``lpips`` package: 0 = identical, lower is better."""

    name = "lpips"

    def __init__(self, net: str = "alex", device: str = "cpu", **unknown: object):
        reject_unknown(self.name, unknown, ("net", "device"))
        super().__init__(device)
        self.net = as_choice(self.name, "net", net, LPIPS_BACKBONES)
        self.version = f"lpips-{metadata.version('lpips')}-{net}-v0.1"

    def _status(self) -> str | None:
        return lpips_status(self.net)

    def _build(self) -> Any:
        import lpips

        return lpips.LPIPS(net=self.net, version="0.1", verbose=False)

    def _score(self, model: Any, reference: Any, distorted: Any) -> Any:
        return model(reference, distorted, normalize=True).flatten()[0]


class DISTS(_LearnedMetric):
    """DISTS (Ding et al. 2020) as piq implements it: 0 = identical, lower is better.

    piq resizes images whose short side exceeds 256 px down to 256 before scoring.
    """

    name = "dists"

    def __init__(self, device: str = "cpu", **unknown: object):
        reject_unknown(self.name, unknown, ("device",))
        super().__init__(device)
        self.version = f"piq-{metadata.version('piq')}-dists"

    def _status(self) -> str | None:
        return dists_status()

    def _build(self) -> Any:
        import piq

        return piq.DISTS(reduction="none")

    def _score(self, model: Any, reference: Any, distorted: Any) -> Any:
        return model(distorted, reference).flatten()[0]
