"""``LearnedCodec``: the base of learned codecs with a real entropy coder (CompressAI-style).

The author supplies ``build_model(level)``, returning a torch module with CompressAI's
interface (``compress(x) -> {"strings", "shape"}`` and ``decompress(strings, shape) ->
{"x_hat"}``, on images in [0, 1], shape 1x3xHxW) with its weights loaded. cvb supplies the
rest: padding to ``pad_multiple``, ``torch.no_grad``, device placement (``device``: cpu,
cuda, cuda:N or auto), one model per level loaded once, and the bitstream framing
(``cvb.codecs.bitstream``: level code, original size and the strings/shape tree in one bytestring,
cropped back on decode). torch is imported only inside the methods.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from .base import BaseCodec
from ..errors import UnavailableError, UsageError
from ..types import CodecKind

if TYPE_CHECKING:
    from PIL import Image

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|auto)$")


def parse_device(owner: str, device: object) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (cuda when torch sees a GPU, else cpu)."""
    text = str(device).strip()
    if not _DEVICE.match(text):
        raise UsageError(f"{owner}: option device={device!r}; use cpu, cuda, cuda:N or auto")
    if text == "auto":
        import torch

        text = "cuda" if torch.cuda.is_available() else "cpu"
    return text


class LearnedCodec(BaseCodec):
    """Subclass, set the level attributes of ``BaseCodec`` and implement ``build_model``.

    Encoder and decoder must run the same arithmetic: decode on the device type that
    encoded, as with every learned codec (so ``params()`` should name the device type).
    """

    kind = CodecKind.LEARNED
    #: the input is padded (edge-replicated) to a multiple of this: 2 ** (number of
    #: stride-2 downsamplings in the analysis and hyper-analysis transforms)
    pad_multiple: int = 64
    device: str = "cpu"

    # ---- what the author supplies -----------------------------------------------------------
    def build_model(self, level: str) -> Any:
        """The model for ``level`` (canonical form), weights loaded, entropy-coder tables
        ready (CompressAI: ``net.update()``). cvb calls ``.eval().to(device)`` on it."""
        raise NotImplementedError

    # ---- what cvb supplies ------------------------------------------------------------------
    def model(self, level: str) -> Any:
        """The model for ``level``, built once per codec instance."""
        models = self.__dict__.setdefault("_models", {})
        if level not in models:
            import torch

            if self.device.startswith("cuda") and not torch.cuda.is_available():
                raise UnavailableError(f"{self.name}: device={self.device} but torch sees no CUDA GPU")
            models[level] = self.build_model(level).eval().to(self.device)
        return models[level]

    def prepare(self, levels: Iterable[str]) -> None:
        """Build the models for ``levels`` now, so missing weights fail before a long run."""
        for level in levels:
            self.model(self.parse_level(level))

    def encode(self, image: "Image.Image", level: str) -> bytes:
        import numpy as np
        import torch
        import torch.nn.functional as F

        from .bitstream import Packet, pack

        level = self.parse_level(level)
        net = self.model(level)
        image = image.convert("RGB") if image.mode != "RGB" else image
        w, h = image.size
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        pad_h, pad_w = (-h) % self.pad_multiple, (-w) % self.pad_multiple
        if pad_h or pad_w:  # replicate the edge: cheaper to code than a black border
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        with torch.no_grad():
            out = net.compress(x.to(self.device))
        return pack(Packet(self.level_code(level), w, h, out["strings"], out["shape"]))

    def decode(self, bits: bytes) -> "Image.Image":
        import numpy as np
        import torch
        from PIL import Image

        from .bitstream import unpack

        packet = unpack(bits)
        level = self.level_of_code(packet.quality)
        net = self.model(level)
        with torch.no_grad():
            x_hat = net.decompress(packet.strings, packet.shape)["x_hat"]
        x_hat = x_hat[0, :, : packet.height, : packet.width].clamp(0, 1)
        arr = (x_hat.permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)
        return Image.fromarray(arr, "RGB")
