"""MS-ILLM on cvb's ``LearnedCodec``: neuralcompression's ``msillm_quality_N`` model, its own
``compress``/``decompress`` (CompressAI entropy models: a real bitstream), adapted to the
CompressAI dict interface the base class frames (strings: latent and hyper-latent strings;
shape: image size and padded size)."""

from __future__ import annotations

from typing import Mapping

from cvb.errors import UnavailableError
from cvb.codecs.learned import LearnedCodec
from cvb.options import as_bool, as_int, reject_unknown
from cvb.types import CodecKind

from .plugin import INSTALL_HINT
from .weights import weights_path


class _Adapter:
    """neuralcompression's HiFiC-style autoencoder behind CompressAI's compress/decompress."""

    def __init__(self, net):
        self.net = net

    def eval(self):
        self.net.eval()
        return self

    def to(self, device):
        return self  # neuralcompression entropy-codes on the CPU (its force_cpu default)

    def compress(self, x):
        out = self.net.compress(x)
        return {"strings": [list(out.latent_strings), list(out.hyper_latent_strings)],
                "shape": [list(out.image_size), list(out.padded_size)]}

    def decompress(self, strings, shape):
        from neuralcompression import HyperpriorCompressedOutput

        packet = HyperpriorCompressedOutput(latent_strings=list(strings[0]), hyper_latent_strings=list(strings[1]),
                                            image_size=tuple(shape[0]), padded_size=tuple(shape[1]))
        return {"x_hat": self.net.decompress(packet)}


class IllmCodec(LearnedCodec):
    """Level = neuralcompression quality 1..6 (lowest rate first)."""

    name = "illm"
    kind = CodecKind.GENERATIVE
    default_levels = ("1", "2", "3", "4")
    level_min, level_max = 1, 6

    def __init__(self, pretrained: object = True, seed: object = 0, **unknown: object):
        reject_unknown(self.name, unknown, ("pretrained", "seed"))
        self.pretrained = as_bool(self.name, "pretrained", pretrained)
        self.seed = as_int(self.name, "seed", seed, 0)
        from importlib import metadata

        try:
            lib = f"neuralcompression-{metadata.version('neuralcompression')}"
        except metadata.PackageNotFoundError:
            raise UnavailableError(f"Python package neuralcompression is not installed: {INSTALL_HINT}") from None
        self.version = f"{lib}/" + ("pretrained" if self.pretrained else f"random-seed{self.seed}")

    def params(self) -> Mapping[str, object]:
        return {"pretrained": self.pretrained, **({} if self.pretrained else {"seed": self.seed})}

    def build_model(self, level: str):
        import torch
        from cvb.compat import ensure_torchvision

        ensure_torchvision()  # neuralcompression imports torchvision; CPU torch needs cvb's shim
        from neuralcompression import zoo

        quality = int(level)
        if self.pretrained and not weights_path(quality).is_file():
            raise UnavailableError(f"illm: weights {weights_path(quality)} missing (download "
                                   f"{weights_path(quality).name} from the MS-ILLM release; CC-BY-NC 4.0)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1000 + quality)
            net = getattr(zoo, f"msillm_quality_{quality}")(pretrained=self.pretrained)
        net.update(force=True)
        return _Adapter(net)
