"""Worked example 3: a learned codec with a real entropy coder, on cvb.codecs.learned.LearnedCodec.

The author writes ``build_model(level)``; cvb pads, compresses, frames the bitstream, crops,
and places the model on the device. Weights: a state_dict file per level in a folder given
as the ``weights`` option; without it, seeded random weights (for tests: real bitstreams,
meaningless rates).
"""

from pathlib import Path

from cvb.errors import UnavailableError
from cvb.codecs.learned import LearnedCodec, parse_device


class TinyFactorizedCodec(LearnedCodec):
    name = "tiny-factorized"
    version = "1"
    default_levels = ("1", "2", "3", "4")
    level_min, level_max = 1, 8
    pad_multiple = 16            # four stride-2 convolutions in FactorizedPrior's g_a

    def __init__(self, weights=None, device="cpu"):
        self.weights = Path(weights) if weights else None
        self.device = parse_device(self.name, device)
        self.version = "1/" + ("trained" if self.weights else "random")

    def params(self):
        return {"device": self.device.split(":")[0], "weights": str(self.weights or "random")}

    def build_model(self, level):
        import torch
        from cvb.compat import ensure_torchvision

        ensure_torchvision()          # compressai imports torchvision; CPU torch needs cvb's shim
        from compressai.models import FactorizedPrior

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(level))     # seeded: the same random model in every process
            net = FactorizedPrior(N=32, M=48)
        if self.weights is not None:
            path = self.weights / f"level-{level}.pth"
            if not path.is_file():
                raise UnavailableError(f"{self.name}: no weights file {path}")
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        net.update(force=True)       # the entropy coder's CDF tables
        return net
