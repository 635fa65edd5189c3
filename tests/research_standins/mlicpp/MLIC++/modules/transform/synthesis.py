import torch.nn as nn


class SynthesisTransformOld(nn.Module):
    """2023-09 layout: the first block maps M to N channels (a different weight shape)."""

    def __init__(self, N, M):
        super().__init__()
        self.synthesis_transform = nn.Sequential(nn.Conv2d(2, 1, 1))


class SynthesisTransform(nn.Module):
    def __init__(self, N, M):
        super().__init__()
        self.synthesis_transform = nn.Sequential(nn.Conv2d(1, 1, 1))
