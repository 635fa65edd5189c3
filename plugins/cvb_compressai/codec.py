"""CompressAI models as cvb codecs, coded with CompressAI's own rANS entropy coder.

``encode`` pads the image to a multiple of 64 (four downsamplings in the analysis transform
and two more in the hyper-analysis), runs ``model.compress`` and packs its strings and
latent shape into one bytestring (see ``bitstream``); ``decode`` unpacks, runs
``model.decompress`` and crops back. Each (model, quality) loads once per codec instance.

Encoder and decoder must run the same arithmetic: decode on the device (and, for the
autoregressive models, the machine type) that encoded, as with every learned codec.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from cvb.codec import BaseCodec
from cvb.errors import CodecError, UnavailableError, UsageError
from cvb.options import as_bool, as_choice, as_int, reject_unknown
from cvb.types import CodecKind

from .bitstream import Packet, pack, unpack
from .models import METRICS
from .weights import WeightsFile, missing_message, zoo_weights

if TYPE_CHECKING:
    from PIL import Image

PAD_MULTIPLE = 64
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


def import_compressai():
    """compressai, importable on CPU torch thanks to cvb's torchvision shim."""
    from cvb.compat import ensure_torchvision

    try:
        ensure_torchvision()
        import compressai
    except ImportError as exc:
        raise UnavailableError(f"compressai cannot be imported ({exc}): pip install compressai") from exc
    return compressai


class CompressAICodec(BaseCodec):
    """A zoo model; subclasses set ``name`` (the zoo name), ``level_max`` and
    ``default_levels`` (the four lowest-rate qualities). Levels are zoo qualities."""

    kind = CodecKind.LEARNED
    level_min = 1
    option_names: tuple[str, ...] = ("pretrained", "metric", "device", "seed")

    def __init__(self, pretrained: object = True, metric: object = "mse", device: object = "cpu",
                 seed: object = 0, **unknown: object):
        reject_unknown(self.name, unknown, self.option_names)
        self.pretrained = as_bool(self.name, "pretrained", pretrained)
        self.metric = as_choice(self.name, "metric", metric, METRICS)
        self.device = parse_device(self.name, device)
        self.seed = as_int(self.name, "seed", seed, 0)
        try:
            lib = f"compressai-{metadata.version('compressai')}"
        except metadata.PackageNotFoundError:
            raise UnavailableError("Python package compressai is not installed: pip install compressai") from None
        weights = "pretrained" if self.pretrained else f"random-seed{self.seed}"
        self.version = f"{lib}/{self.metric}/{weights}"
        self._models: dict[int, Any] = {}

    def params(self) -> Mapping[str, object]:
        # the device type stays in the key: GPU and CPU arithmetic give slightly different bits
        out: dict[str, object] = {"metric": self.metric, "pretrained": self.pretrained,
                                  "device": self.device.split(":")[0]}
        if not self.pretrained:
            out["seed"] = self.seed
        return out

    # ---- weights and models ----------------------------------------------------------------
    def weights_file(self, quality: int, checkpoints: Path | None = None) -> WeightsFile:
        wf = zoo_weights(self.name, self.metric, quality)
        return WeightsFile(checkpoints / wf.path.name, wf.url) if checkpoints else wf

    def prepare(self, levels) -> None:
        """Load the models for ``levels`` now, so missing weights fail before a long run."""
        for level in levels:
            self.model(int(self.parse_level(level)))

    def model(self, quality: int):
        if quality not in self._models:
            self._models[quality] = self._load(quality)
        return self._models[quality]

    def _load(self, quality: int):
        import_compressai()
        import torch

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise UnavailableError(f"{self.name}: device=cuda but torch sees no CUDA GPU")
        if self.pretrained:
            net = self.build_pretrained(quality, self._read_state_dict(quality))
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed * 1000 + quality)
                net = self.build_random(quality)
            net.update(force=True)  # CDF tables for the entropy coder
        return net.eval().to(self.device)

    def build_random(self, quality: int):
        from compressai.zoo import image_models

        return image_models[self.name](quality=quality, metric=self.metric, pretrained=False)

    def build_pretrained(self, quality: int, state_dict):
        from compressai.zoo.image import model_architectures

        net = model_architectures[self.name].from_state_dict(state_dict)
        net.update()  # no-op when the checkpoint carries its CDF tables, as the zoo's do
        return net

    def _read_state_dict(self, quality: int):
        import torch
        from compressai.zoo import load_state_dict as rename_keys

        wf = self.weights_file(quality, Path(torch.hub.get_dir()) / "checkpoints")
        if wf.present:
            try:
                obj = torch.load(wf.path, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise UnavailableError(f"{self.name}: cannot load weights file {wf.path}: {exc}") from exc
        elif wf.url:
            try:
                obj = torch.hub.load_state_dict_from_url(wf.url, map_location="cpu", progress=False,
                                                         weights_only=True)  # tensors only, no code
            except Exception as exc:  # URLError, HTTPError, socket errors: no network
                raise UnavailableError(
                    f"{self.name}: {missing_message([wf], self.name)}; download failed: {exc}"
                ) from exc
        else:
            raise UnavailableError(f"{self.name}: {missing_message([wf], self.name)}")
        if isinstance(obj, dict):  # training checkpoints wrap the weights
            for key in ("state_dict", "network"):
                if isinstance(obj.get(key), dict):
                    obj = obj[key]
                    break
        return rename_keys(obj)

    # ---- coding ------------------------------------------------------------------------------
    def encode(self, image: "Image.Image", level: str) -> bytes:
        import numpy as np
        import torch
        import torch.nn.functional as F

        quality = int(self.parse_level(level))
        net = self.model(quality)
        image = image.convert("RGB") if image.mode != "RGB" else image
        w, h = image.size
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        pad_h, pad_w = (-h) % PAD_MULTIPLE, (-w) % PAD_MULTIPLE
        if pad_h or pad_w:  # replicate the edge: cheaper to code than a black border
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        with torch.no_grad():
            out = net.compress(x.to(self.device))
        return pack(Packet(quality, w, h, out["strings"], out["shape"]))

    def decode(self, bits: bytes) -> "Image.Image":
        import numpy as np
        import torch
        from PIL import Image

        packet = unpack(bits)
        try:
            quality = int(self.parse_level(str(packet.quality)))
        except Exception as exc:
            raise CodecError(f"{self.name}: bitstream names quality {packet.quality}: {exc}") from exc
        net = self.model(quality)
        with torch.no_grad():
            x_hat = net.decompress(packet.strings, packet.shape)["x_hat"]
        x_hat = x_hat[0, :, : packet.height, : packet.width].clamp(0, 1)
        arr = (x_hat.permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
        return Image.fromarray(arr, "RGB")


class Bmshj2018Factorized(CompressAICodec):
    name, level_max, default_levels = "bmshj2018-factorized", 8, ("1", "2", "3", "4")


class Bmshj2018Hyperprior(CompressAICodec):
    name, level_max, default_levels = "bmshj2018-hyperprior", 8, ("1", "2", "3", "4")


class Mbt2018Mean(CompressAICodec):
    name, level_max, default_levels = "mbt2018-mean", 8, ("1", "2", "3", "4")


class Mbt2018(CompressAICodec):
    name, level_max, default_levels = "mbt2018", 8, ("1", "2", "3", "4")


class Cheng2020Anchor(CompressAICodec):
    name, level_max, default_levels = "cheng2020-anchor", 6, ("1", "2", "3", "4")


class Cheng2020Attn(CompressAICodec):
    name, level_max, default_levels = "cheng2020-attn", 6, ("1", "2", "3", "4")
