"""CompressAI models as cvb codecs, coded with CompressAI's own rANS entropy coder.

Built on cvb's public ``cvb.codecs.learned.LearnedCodec``: this module only says which model a
level is (``build_model``: the zoo architecture with its pretrained or seeded random
weights); the base pads the image to a multiple of 64, runs ``model.compress``, packs its
strings and latent shape into one bytestring (``cvb.codecs.bitstream``) and crops back on decode.
Each (model, quality) loads once per codec instance.

Encoder and decoder must run the same arithmetic: decode on the device (and, for the
autoregressive models, the machine type) that encoded, as with every learned codec.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from cvb.errors import UnavailableError
from cvb.codecs.learned import LearnedCodec, parse_device
from cvb.options import as_bool, as_choice, as_int, reject_unknown

from .models import METRICS
from .weights import WeightsFile, missing_message, zoo_weights

__all__ = ["CompressAICodec", "parse_device", "import_compressai"]


def import_compressai():
    """compressai, importable on CPU torch thanks to cvb's torchvision shim."""
    from cvb.compat import ensure_torchvision

    try:
        ensure_torchvision()
        import compressai
    except ImportError as exc:
        raise UnavailableError(f"compressai cannot be imported ({exc}): pip install compressai") from exc
    return compressai


class CompressAICodec(LearnedCodec):
    """A zoo model; subclasses set ``name`` (the zoo name), ``level_max`` and
    ``default_levels`` (the four lowest-rate qualities). Levels are zoo qualities."""

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
        self._models: dict[str, Any] = {}

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

    def model(self, level) -> Any:
        """The model of a quality (an int or a level string)."""
        return super().model(self.parse_level(str(level)))

    def build_model(self, level: str):
        """The zoo architecture at quality ``level``: pretrained, or seeded random weights."""
        import_compressai()
        import torch

        quality = int(level)
        if self.pretrained:
            return self.build_pretrained(quality, self._read_state_dict(quality))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1000 + quality)
            net = self.build_random(quality)
        net.update(force=True)  # CDF tables for the entropy coder
        return net

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
