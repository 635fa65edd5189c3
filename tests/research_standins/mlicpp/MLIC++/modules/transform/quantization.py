import torch.nn as nn


def _convs(n):
    """n 1x1 convolutions with activations between, keyed lrp_transform.0, .2, ... as upstream."""
    layers = []
    for i in range(n):
        layers += [nn.Conv2d(1, 1, 1)] + ([nn.GELU()] if i < n - 1 else [])
    return nn.Sequential(*layers)


class LatentResidualPredictionOld(nn.Module):
    """2023-09 layout: four convolutions (keys lrp_transform.0 .. .6)."""

    def __init__(self, in_dim, out_dim, act=nn.GELU):
        super().__init__()
        self.lrp_transform = _convs(4)


class LatentResidualPrediction(nn.Module):
    """Today's layout: three convolutions (keys lrp_transform.0 .. .4)."""

    def __init__(self, in_dim, out_dim, act=nn.GELU):
        super().__init__()
        self.lrp_transform = _convs(3)
