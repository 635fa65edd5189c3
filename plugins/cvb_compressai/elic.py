"""ELIC (He et al., CVPR 2022) on CompressAI's ``elic2022-*`` architectures.

compressai 1.2.8 has the architectures but publishes no trained weights, so pretrained ELIC
reads a user-supplied state_dict per quality from the torch hub cache under a fixed name,
``elic2022-<variant>-<quality>.pth.tar`` (see docs/codecs.md). ``variant`` picks the
architecture: ``chandelier`` (the public re-implementation's simplified context model,
default) or ``official`` (the paper's). Qualities 1..6 follow the usual six lambdas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from cvb.options import as_choice, reject_unknown

from .codec import CompressAICodec
from .models import ELIC_VARIANTS
from .weights import WeightsFile, elic_weights


class Elic2022Codec(CompressAICodec):
    name = "elic2022"
    level_max = 6
    default_levels = ("1", "2", "3", "4")
    option_names = ("pretrained", "variant", "device", "seed")

    def __init__(self, pretrained: object = True, variant: object = "chandelier", device: object = "cpu",
                 seed: object = 0, **unknown: object):
        reject_unknown(self.name, unknown, self.option_names)
        self.variant = as_choice(self.name, "variant", variant, ELIC_VARIANTS)
        super().__init__(pretrained=pretrained, metric="mse", device=device, seed=seed)
        self.version = self.version.replace("/mse/", f"/{self.variant}/")

    def params(self) -> Mapping[str, object]:
        out = dict(super().params())
        del out["metric"]
        out["variant"] = self.variant
        return out

    def weights_file(self, quality: int, checkpoints: Path | None = None) -> WeightsFile:
        wf = elic_weights(self.variant, quality)
        return WeightsFile(checkpoints / wf.path.name, None) if checkpoints else wf

    def architecture(self):
        from compressai.models import Elic2022Chandelier, Elic2022Official

        return Elic2022Chandelier if self.variant == "chandelier" else Elic2022Official

    def build_random(self, quality: int):
        return self.architecture()(N=192, M=320)

    def build_pretrained(self, quality: int, state_dict):
        # N from the first analysis conv, M from the last one (g_a.13), as trained
        n = state_dict["g_a.0.weight"].size(0)
        m = state_dict["g_a.13.weight"].size(0)
        net = self.architecture()(N=n, M=m)
        net.load_state_dict(state_dict)
        net.update(force=True)  # as compressai's eval_model does for trained checkpoints
        return net
